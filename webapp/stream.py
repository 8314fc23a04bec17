"""`GET /jobs/{id}/events`: a job's events as a stream of HTML fragments (Server-Sent Events).

Each message appends the next lines to the log and, when they changed, swaps in the progress bar and
the status; its `id:` is the seq of the last line in it, so a browser that reconnects with
`Last-Event-ID` resumes exactly where it stopped. Lines come from the job's shared feed
(`feeds.py`: rendered once for every viewer), or straight from the store for a viewer further
behind, so a slow or late viewer sees the same complete, ordered history as everyone else.

`tail=N` (the page asks for its DOM's worth of lines): a viewer more than N lines behind the newest
jumps to the last N, and the page is told how many it skipped. Without it, every event is sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sse_starlette import EventSourceResponse

from webapp.api import FilterDep
from webapp.events import MAX_SEQ
from webapp.feeds import READ_EVENTS, JobFeed, Seen, events_count, sse_data, sse_partial
from webapp.hub import server_topic
from webapp.rendering import render_hidden_lines, render_line
from webapp.services import Services, get_services
from webapp.store import EventFilter, StoreUnavailable

log = logging.getLogger(__name__)
router = APIRouter()

FAREWELL = b"event: shutdown\ndata: the dashboard is shutting down\n\n"
SHUTDOWN_CHECK = 0.5


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse)
async def job_events(
    job_id: str,
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    only: FilterDep,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="Start after this seq.")] = 0,
    tail: Annotated[
        int | None, Query(ge=1, le=100_000, description="Skip to the newest `tail` lines when further behind.")
    ] = None,
) -> EventSourceResponse:
    """With filters (those of the job's page), only the lines they let through; `id:` is still the seq of the last
    event looked at, so a reconnect resumes after it. `tail` does not apply to a filtered stream."""
    if await services.store.get_job(job_id) is None:
        raise HTTPException(404, f"No job with id {job_id!r}.")
    shutdown = anyio.Event()
    return EventSourceResponse(
        stream_job(services, job_id, resume_point(request, after), None if only else tail, shutdown, only),
        sep="\n",  # htmx 4's parser breaks on a CRLF split across reads
        ping=15,
        shutdown_event=shutdown,
        shutdown_grace_period=2,
    )


def resume_point(request: Request, after: int) -> int:
    """The browser's Last-Event-ID (sent on reconnect) wins over `?after=`."""
    header = request.headers.get("last-event-id")
    if header is None or header == "":
        return after
    if not (header.isascii() and header.isdigit() and len(header) <= 19 and int(header) <= MAX_SEQ):
        raise HTTPException(400, f"Last-Event-ID must be an event sequence number, not {header[:40]!r}.")
    return int(header)


async def stream_job(
    services: Services, job_id: str, cursor: int, tail: int | None, shutdown: anyio.Event, only: EventFilter
) -> AsyncIterator[bytes]:
    try:
        async for message in follow_job(services, job_id, cursor, tail, shutdown, only):
            yield message
    except StoreUnavailable as exc:
        # The stream ends cleanly; the browser reconnects with Last-Event-ID and resumes once the store is back.
        log.warning("stream of job %s ended: %s", job_id, exc)


async def follow_job(
    services: Services,
    job_id: str,
    cursor: int,
    tail: int | None,
    shutdown: anyio.Event,
    only: EventFilter | None = None,
) -> AsyncIterator[bytes]:
    closing = services.hub.closing
    async with services.feeds.follow(job_id) as feed:
        seen = Seen(cursor)
        while True:
            if shutdown.is_set() or closing.is_set():
                # A farewell instead of a cut: the browser reconnects with Last-Event-ID when we are back.
                yield FAREWELL
                return
            changed = feed.changed
            skipped = tail is not None and feed.last_seq - seen.cursor > tail
            if skipped:
                assert tail is not None
                seen.cursor = feed.last_seq - tail
            if only:
                message = await filtered(services, feed, seen, only)
            elif seen.cursor < feed.first_seq - 1 or skipped:
                message = await catch_up(services, feed, seen, replace_log=skipped)
            else:
                message = feed.message_for(seen)
            if message is not None:
                yield message
                continue
            if feed.ended:
                job = feed.job
                yield f"event: end\ndata: {job.state if job else 'gone'}\n\n".encode()
                return
            # One event to wait on, not three: a viewer waits hundreds of times a second. The shutdown signals
            # are looked at, at the top, at least every SHUTDOWN_CHECK seconds (well within the grace period).
            with anyio.move_on_after(SHUTDOWN_CHECK):
                await changed.wait()


async def filtered(services: Services, feed: JobFeed, seen: Seen, only: EventFilter) -> bytes | None:
    """The next lines for a filtered viewer: those the filter lets through, from the feed's ready lines when it
    has them, else from the store (the filter in its SQL). Lines are sent as rendered for everyone."""
    if seen.cursor >= feed.first_seq - 1:
        lines, last = feed.matching_lines_after(seen.cursor, only)
    else:
        known = feed.last_seq  # every matching event up to here is in the store
        lines, last, whole = await lines_from_store(services, feed, seen.cursor, only)
        if whole:
            last = max(last, known)  # nothing else before `known` matches
    message = feed.compose(lines, seen, last)
    if message is not None:
        feed.mark_sent(seen, last)
    else:
        seen.cursor = last  # nothing to send, but those events need not be looked at again
    return message


async def lines_from_store(
    services: Services, feed: JobFeed, cursor: int, only: EventFilter | None = None
) -> tuple[list[str], int, bool]:
    """The lines after `cursor` (that `only` lets through) read from the store and rendered for one viewer, as many
    as one message holds; the seq of the last one; and whether that was all the store had after `cursor`."""
    events = await services.store.events_after(feed.job_id, cursor, READ_EVENTS, only)
    lines: list[str] = []
    size, last = 0, cursor
    for event in events:
        line = sse_data(render_line(services.templates, event))
        if lines and size + len(line) > feed.message_bytes:
            break
        lines.append(line)
        size += len(line)
        last = event.seq
    return lines, last, len(lines) == len(events) < READ_EVENTS


async def catch_up(services: Services, feed: JobFeed, seen: Seen, *, replace_log: bool) -> bytes | None:
    """The next lines for a viewer behind the feed: from the store, rendered for this viewer alone, in a
    message bounded in bytes as well as in count. `replace_log`: it skipped ahead, so the page's log is
    replaced, and its note of hidden lines says everything before is not shown."""
    if seen.cursor >= feed.first_seq - 1:
        lines, last = feed.lines_after(seen.cursor)
    else:
        lines, last, _ = await lines_from_store(services, feed, seen.cursor)
    note = None
    if replace_log and feed.job is not None:
        html = render_hidden_lines(services.templates, feed.job, seen.cursor)
        note = sse_partial("#hidden-lines", "outerHTML", sse_data(html))
    message = feed.compose(lines, seen, last, replace_log=note)
    if message is not None:
        feed.mark_sent(seen, last)
    return message


# Endless (a server has no end): for pages, not for the API schema, whose fuzzing would wait on it for ever.
@router.get("/servers/{name}/events", response_class=EventSourceResponse, include_in_schema=False)
async def server_events(
    name: str,
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    only: FilterDep,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="Start after this seq.")] = 0,
) -> EventSourceResponse:
    """The lines a server sends outside any job, live, as a job's are: resumable with Last-Event-ID; with filters
    (those of the server's page), only the lines they let through."""
    if services.servers.get(name) is None:
        raise HTTPException(404, f"No server named {name!r}.")
    shutdown = anyio.Event()
    return EventSourceResponse(
        follow_server(services, name, resume_point(request, after), shutdown, only),
        sep="\n",
        ping=15,
        shutdown_event=shutdown,
        shutdown_grace_period=2,
    )


async def follow_server(
    services: Services, name: str, cursor: int, shutdown: anyio.Event, only: EventFilter | None = None
) -> AsyncIterator[bytes]:
    """A server's log is quiet beside a job's: each viewer reads the store itself when there is news (with its
    filter in the store's SQL)."""
    events_url = f"/api/servers/{name}/events/"
    while not (shutdown.is_set() or services.hub.closing.is_set()):
        news = services.hub.watch(server_topic(name))
        try:
            events = await services.store.server_events_after(name, cursor, READ_EVENTS, only or None)
        except StoreUnavailable as exc:
            log.warning("stream of server %s ended: %s", name, exc)
            return
        if events:
            lines = "".join(sse_data(render_line(services.templates, event, events_url)) for event in events)
            cursor = events[-1].seq
            yield f"id: {cursor}\n{sse_partial('#log', 'beforeend', lines)}{events_count(cursor)}\n".encode()
            continue
        with anyio.move_on_after(SHUTDOWN_CHECK):
            await news.wait()
    yield FAREWELL
