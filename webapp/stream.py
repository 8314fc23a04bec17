"""`GET /jobs/{id}/events`: a job's events as a stream of HTML fragments (Server-Sent Events).

Each message appends the next lines to the log and, when they changed, swaps in the progress bar and
the status; its `id:` is the seq of the last line in it, so a browser that reconnects with
`Last-Event-ID` resumes exactly where it stopped. Lines come from the job's shared feed
(`feeds.py`: rendered once for every viewer), or straight from the store for a viewer further
behind, so a slow or late viewer sees the same complete, ordered history as everyone else.

`tail=N` (the page asks for its DOM's worth of lines): a viewer more than N lines behind the newest
jumps to the last N, and the page is told how many it skipped. Without it, every event is sent.

`viewer=ID` (or the header X-Viewer: a job page's own stream): flow control (viewers.py, issue 18). The
stream sends at most its credit (`tail`, else --max-lines) of lines beyond the last seq the page acknowledged,
then only the bar, the status and the counts (always the newest) until the page acknowledges more; a page
further behind than `tail` gets an SSE `skip` event (`{"from", "to", "count"}`: the lines it will not be sent,
which stay in the store) and the tail. A page that acknowledges nothing for ACK_PATIENCE while held (stuck, or
its acknowledgements reach another web process) goes on from near the tail the same way, and so does one of a
job that has ended. The job's relay never waits on this.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from sse_starlette import EventSourceResponse

from webapp.api import FilterDep
from webapp.events import MAX_SEQ
from webapp.feeds import READ_EVENTS, JobFeed, Seen, events_count, sse_data, sse_partial
from webapp.hub import server_topic
from webapp.rendering import render_hidden_lines, render_line
from webapp.services import Services, get_services
from webapp.store import EventFilter, StoreUnavailable
from webapp.viewers import AheadOfStream, UnknownViewer, Viewer

ViewerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="The viewer id of the page's stream.")]

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
    viewer: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="A page's viewer id: flow control (see /ack)."),
    ] = None,
    x_viewer: Annotated[str | None, Header(pattern=r"^[A-Za-z0-9_-]{8,64}$", include_in_schema=False)] = None,
) -> EventSourceResponse:
    """With filters (those of the job's page), only the lines they let through; `id:` is still the seq of the last
    event looked at, so a reconnect resumes after it. `tail` and `viewer` do not apply to a filtered stream."""
    if await services.store.get_job(job_id) is None:
        raise HTTPException(404, f"No job with id {job_id!r}.")
    shutdown = anyio.Event()
    cursor = resume_point(request, after)
    viewer = viewer or x_viewer  # the page sends it as a header (X-Viewer), which its reconnects keep
    return EventSourceResponse(
        stream_job(services, job_id, cursor, None if only else tail, shutdown, only, None if only else viewer),
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


@router.post("/jobs/{job_id}/viewers/{viewer}/ack", status_code=204)
async def acknowledge(
    job_id: str,
    viewer: ViewerId,
    services: Annotated[Services, Depends(get_services)],
    seq: Annotated[int, Query(ge=0, le=MAX_SEQ, description="The last seq the page has handled.")],
) -> Response:
    """A page says how far it has got in its stream (flow control, issue 18). 404 for a viewer with no open stream
    of this job here; 422 for a seq its stream has not sent it (the stream then takes it for a page that never
    said)."""
    try:
        services.feeds.viewers.ack(job_id, viewer, seq)
    except UnknownViewer as exc:
        raise HTTPException(404, str(exc)) from exc
    except AheadOfStream as exc:
        raise HTTPException(422, str(exc)) from exc
    return Response(status_code=204)


async def stream_job(
    services: Services,
    job_id: str,
    cursor: int,
    tail: int | None,
    shutdown: anyio.Event,
    only: EventFilter,
    viewer_id: str | None = None,
) -> AsyncIterator[bytes]:
    try:
        with services.feeds.viewers.watching(viewer_id, job_id, cursor) as viewer:
            async for message in follow_job(services, job_id, cursor, tail, shutdown, only, viewer):
                if viewer is not None:
                    viewer.sent = max(viewer.sent, sent_up_to(message))
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
    viewer: Viewer | None = None,
) -> AsyncIterator[bytes]:
    closing = services.hub.closing
    credit = tail or services.settings.max_lines
    async with services.feeds.follow(job_id) as feed:
        seen = Seen(cursor)
        held_since: float | None = None  # when the viewer last ran out of credit
        looked_at = -PAGE_EVERY  # when a page's stream last looked for news
        while True:
            if shutdown.is_set() or closing.is_set():
                # A farewell instead of a cut: the browser reconnects with Last-Event-ID when we are back.
                yield FAREWELL
                return
            if viewer is not None:
                # A page draws a few times a second: what comes meanwhile goes in one message, not dozens (each
                # costs the page a parse and the server a write). A new status goes at once: none is skipped.
                while (wait := looked_at + PAGE_EVERY - time.monotonic()) > 0 and feed.status.version == seen.status:
                    changed = feed.changed
                    with anyio.move_on_after(wait):
                        await changed.wait()
                looked_at = time.monotonic()
            changed = feed.changed
            if viewer is not None and seen.cursor - viewer.acked < credit:
                held_since = None
            if viewer is not None and seen.cursor - viewer.acked >= credit:
                held_since = held_since or time.monotonic()
                if not feed.ended and time.monotonic() - held_since > ACK_PATIENCE:
                    # No word from the page (stuck, or its acknowledgements reach another web process): what it
                    # was sent counts as handled, and the backlog beyond a window is skipped, as for a page behind.
                    viewer.acked, held_since = seen.cursor, None
                    if feed.last_seq - seen.cursor > credit:
                        yield skip_event(seen, feed.last_seq - credit)
                        viewer.acked = seen.cursor
                    continue
                if not feed.ended:
                    # The page has not shown what it was sent: only the newest bar, status and counts, until it
                    # says it has (looked at again every so often: an ack sets off no event).
                    message = feed.compose([], seen, seen.cursor)
                    if message is not None:
                        feed.mark_sent(seen, seen.cursor)
                        yield message
                        continue
                    with anyio.move_on_after(ACK_CHECK):
                        await changed.wait()
                    continue
                # Ended, and the page never said how far it got: the tail, with the rest skipped.
                viewer.acked = seen.cursor
                if feed.last_seq - seen.cursor > credit:
                    yield skip_event(seen, feed.last_seq - credit)
            skipped = tail is not None and feed.last_seq - seen.cursor > tail
            if skipped and viewer is not None:
                assert tail is not None
                yield skip_event(seen, feed.last_seq - tail)
                viewer.acked = seen.cursor  # what is skipped needs no acknowledging
                skipped = False
            elif skipped:
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


ACK_CHECK = 0.1  # seconds between looks at a held viewer's acknowledgements
PAGE_EVERY = 0.1  # seconds between a page's looks for news, so its messages (log-viewer.js draws every 0.1 s)
ACK_PATIENCE = 2.0  # seconds a viewer out of credit is held; then it goes on from near the tail


def skip_event(seen: Seen, to: int) -> bytes:
    """The page will not be sent the lines after its cursor up to `to` (they stay in the store): it puts a marker in
    their place. Its id moves the cursor, so a reconnect resumes after them."""
    first = seen.cursor + 1
    seen.cursor = to
    data = json.dumps({"from": first, "to": to, "count": to - first + 1})
    return f"event: skip\nid: {to}\ndata: {data}\n\n".encode()


def sent_up_to(message: bytes) -> int:
    """The seq a message takes its viewer to: its id (the first line of a message of lines)."""
    if message.startswith(b"id: "):
        return int(message[4 : message.index(b"\n")])
    if message.startswith(b"event: skip\nid: "):
        start = len(b"event: skip\nid: ")
        return int(message[start : message.index(b"\n", start)])
    return 0


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
