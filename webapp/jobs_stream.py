"""`GET /fragments/jobs/events`: the home page's recent-jobs list, live (Server-Sent Events).

Each message is the whole list (partials/_jobs_table.html, under the page's `state` and `tool` filters), which
the page morphs into place: rows keep their ids, so a link or a Rerun button under the pointer or the keyboard
focus survives every update. A message goes out only when the list reads differently.

Cheap with many viewers: the viewers of one filter in this process share one `JobsList`. Whichever of them
finds it out of date first reads and renders it, for all of them; the others wait for that render and send
its very bytes. A job changes with every batch of its notifications (the hub's `jobs` topic), hundreds of
times a second in a flood: a list is rendered at most once every PACE seconds, covering every change since.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated
from weakref import WeakKeyDictionary

import anyio
from fastapi import APIRouter, Depends
from sse_starlette import EventSourceResponse

from webapp.feeds import sse_data
from webapp.hub import JOBS, Hub
from webapp.pages import JobsView, jobs_view
from webapp.services import Services, get_services
from webapp.store import StoreUnavailable
from webapp.stream import FAREWELL, SHUTDOWN_CHECK

log = logging.getLogger(__name__)
router = APIRouter()

PACE = 0.25  # seconds: the least time between two renders of one list (at most four updates a second)


class JobsList:
    """The recent-jobs list under one filter, as the viewers of it in this process are sent it."""

    def __init__(self, view: JobsView) -> None:
        self.view = view
        self.version = 0  # counts the renders that changed the list; 0: not rendered yet
        self.message = b""  # the list as one SSE message
        self.viewers = 0
        self._html: str | None = None
        self._news: anyio.Event | None = None  # set by the first change of any job after the last render
        self._lock = anyio.Lock()
        self._next = 0.0  # monotonic time before which the list is not rendered again

    @property
    def news(self) -> anyio.Event:
        """Set when the list may have changed since it was last rendered."""
        assert self._news is not None, "refresh() first"
        return self._news

    @property
    def fresh(self) -> bool:
        return self._news is not None and not self._news.is_set()

    async def refresh(self, services: Services) -> None:
        """Render the list again if a job has changed since the last render (and PACE has passed since)."""
        if self.fresh:
            return
        async with self._lock:
            if self.fresh:  # another viewer rendered it while this one waited
                return
            await anyio.sleep(max(0.0, self._next - time.monotonic()))
            news = services.hub.watch(JOBS)  # before the read: a change during it is not missed
            context = await self.view.context(services, clock=False)  # the same list, the same HTML
            html = services.templates.get_template("partials/_jobs_table.html").render(context)
            self._news, self._next = news, time.monotonic() + PACE
            if html != self._html:
                self._html = html
                self.version += 1
                self.message = (sse_data(html.rstrip("\n")) + "\n").encode()


class JobsLists:
    """The lists being watched in one process, by filter: made by the first viewer of a filter, dropped after
    its last."""

    def __init__(self) -> None:
        self._lists: dict[JobsView, JobsList] = {}

    @contextlib.contextmanager
    def follow(self, view: JobsView) -> Iterator[JobsList]:
        shared = self._lists.get(view)
        if shared is None:
            shared = self._lists[view] = JobsList(view)
        shared.viewers += 1
        try:
            yield shared
        finally:
            shared.viewers -= 1
            if shared.viewers == 0 and self._lists.get(view) is shared:
                del self._lists[view]


# One registry per hub: the hub is made with the rest of the runtime in the app's lifespan and dies with it, and
# so do the lists (they hold no task and no connection, only what was last rendered).
_lists: WeakKeyDictionary[Hub, JobsLists] = WeakKeyDictionary()


def lists_of(services: Services) -> JobsLists:
    lists = _lists.get(services.hub)
    if lists is None:
        lists = _lists[services.hub] = JobsLists()
    return lists


# Endless: for the home page, not for the API schema, whose fuzzing would wait on it for ever.
@router.get("/fragments/jobs/events", response_class=EventSourceResponse, include_in_schema=False)
async def jobs_events(
    services: Annotated[Services, Depends(get_services)], view: Annotated[JobsView, Depends(jobs_view)]
) -> EventSourceResponse:
    """The recent-jobs list (filtered by `state` and `tool`, as the home page), whole in each message: now, and
    again whenever it reads differently. Nothing to resume: a reconnecting page gets the list as it is."""
    shutdown = anyio.Event()
    return EventSourceResponse(
        stream_jobs(services, view, shutdown),
        sep="\n",  # htmx 4's parser breaks on a CRLF split across reads
        ping=15,
        shutdown_event=shutdown,
        shutdown_grace_period=2,
    )


async def stream_jobs(services: Services, view: JobsView, shutdown: anyio.Event) -> AsyncIterator[bytes]:
    try:
        async for message in follow_jobs(services, view, shutdown):
            yield message
    except StoreUnavailable as exc:
        # The stream ends cleanly; the page reconnects by itself, and gets the list once the store is back.
        log.warning("stream of the jobs list ended: %s", exc)


async def follow_jobs(services: Services, view: JobsView, shutdown: anyio.Event) -> AsyncIterator[bytes]:
    closing = services.hub.closing
    with lists_of(services).follow(view) as shared:
        sent = 0
        while True:
            if shutdown.is_set() or closing.is_set():
                yield FAREWELL  # the page reconnects when the dashboard is back
                return
            await shared.refresh(services)
            if shared.version != sent:
                sent = shared.version
                yield shared.message
                continue
            # The shutdown signals are looked at, at the top, at least every SHUTDOWN_CHECK seconds.
            with anyio.move_on_after(SHUTDOWN_CHECK):
                await shared.news.wait()
