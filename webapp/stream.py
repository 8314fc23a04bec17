"""`GET /jobs/{id}/events`: a job's events as a stream of HTML fragments (Server-Sent Events).

Each message carries a batch of new log lines plus the current progress bar and status, and its
`id:` is the seq of the last event in it, so a browser that reconnects with `Last-Event-ID` resumes
exactly where it stopped. The stream reads from the store, not from the job, so a slow or late
viewer sees the same complete, ordered history as everyone else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sse_starlette import EventSourceResponse

from webapp.events import MAX_SEQ, Job
from webapp.rendering import render_batch
from webapp.services import Services, get_services

router = APIRouter()
BATCH_SIZE = 500  # events per SSE message when catching up


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse)
async def job_events(
    job_id: str,
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="Start after this seq.")] = 0,
) -> EventSourceResponse:
    if await services.store.get_job(job_id) is None:
        raise HTTPException(404, f"No job with id {job_id!r}.")
    shutdown = anyio.Event()
    return EventSourceResponse(
        stream_job(services, job_id, resume_point(request, after), shutdown),
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
    services: Services, job_id: str, cursor: int, shutdown: anyio.Event
) -> AsyncIterator[dict[str, Any]]:
    store, hub, templates = services.store, services.hub, services.templates
    # What this viewer was last sent. The status (with the Cancel button) and the bar go out only when they
    # change: swapping them with every batch would rebuild a button under the user's pointer or focus.
    shown_status: tuple[object, ...] | None = None
    shown_progress: tuple[object, ...] | None = None
    while True:
        if shutdown.is_set() or hub.closing.is_set():
            # A farewell instead of a cut: the browser reconnects with Last-Event-ID when we are back.
            yield {"event": "shutdown", "data": "the dashboard is shutting down"}
            return
        news = hub.watch(job_id)
        # Read the job before its events: a job seen ended has all its events stored already.
        job = await store.get_job(job_id)
        assert job is not None
        events = await store.events_after(job_id, cursor, BATCH_SIZE)
        if events:
            cursor = events[-1].seq
            job = await store.get_job(job_id) or job
        status, progress = status_key(job), progress_key(job)
        if events or status != shown_status or progress != shown_progress:
            data = render_batch(
                templates, events, job, status=status != shown_status, progress=progress != shown_progress
            )
            shown_status, shown_progress = status, progress
            yield {"id": str(cursor), "data": data}
            if events:
                continue
        if job.state.is_terminal:
            hub.forget(job_id)  # an ended job has no more news for anyone
            yield {"event": "end", "data": str(job.state)}
            return
        await wait_any(news, shutdown)


def status_key(job: Job) -> tuple[object, ...]:
    """What the status fragment shows: it is sent again only when this changes."""
    return (job.state, job.error, job.result is not None)


def progress_key(job: Job) -> tuple[object, ...]:
    return (job.progress, job.total, job.message)


async def wait_any(*events: anyio.Event) -> None:
    async with anyio.create_task_group() as tg:

        async def wait_for(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(wait_for, event)
