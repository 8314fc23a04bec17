"""Render once: a job's live tail, shared by every viewer of the job in this web process.

One `JobFeed` per watched job reads the job's new events from the store when the hub says there is
news, renders each of them once (the page's own partials), and keeps the newest ones as ready SSE
text. Viewers at the tail then share the very same bytes: a viewer costs a socket write, not a
render. Status and progress are rendered once per change, and sent to a viewer only when it has not
seen that version. A viewer further behind than the feed keeps catches up from the store
(`stream.py`); the feed never holds anyone's backlog.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup
from markupsafe import escape
from starlette.templating import Jinja2Templates

from webapp.events import Event, Job
from webapp.hub import Hub, Pacer, job_topic
from webapp.rendering import render_line, render_progress, render_questions, render_status
from webapp.store import EventFilter, Store, StoreUnavailable, counts_of
from webapp.viewers import Viewers

log = logging.getLogger(__name__)

KEEP_LINES = 2000  # rendered lines a feed keeps for viewers slightly behind the tail
READ_EVENTS = 500  # events per store read
STORE_RETRY_SECONDS = 1.0
# As the worker's writes (see hub.Pacer), or 0.4 ms for each viewer woken (a message each) when longer, 50 ms at
# most: the viewers of a busy job get 2,500 messages a second in all (each a write to a socket, most of what a web
# process does for them), up to 125 viewers; 200 of them about twenty times a second each, not hundreds.
READ_PACE = {"per_item": 0.00025, "per_reader": 0.0004, "at_most": 0.05}


def sse_data(html: str) -> str:
    """HTML as the data lines of an SSE message. A CR would end an SSE line (and let server data forge
    fields), so it is written as the character reference it stands for: the same text, once parsed."""
    return "data: " + html.replace("\r", "&#13;").replace("\n", "\ndata: ") + "\n"


def sse_partial(target: str, swap: str, html_as_data: str) -> str:
    return f'data: <hx-partial hx-target="{target}" hx-swap="{swap}">\n{html_as_data}data: </hx-partial>\n'


def events_count(last_seq: int) -> str:
    return sse_partial("#events-count", "innerHTML", sse_data(f'<span data-events="{last_seq}">{last_seq}</span>'))


@dataclass(frozen=True, slots=True)
class Part:
    """A fragment rendered once per change: `version` counts the changes."""

    version: int
    key: tuple[object, ...]
    sse: str


@dataclass(slots=True)
class Seen:
    """What one viewer has been sent."""

    cursor: int
    status: int = -1
    progress: int = -1
    counts: int = -1
    questions: int = -1


class JobFeed:
    def __init__(
        self, job_id: str, store: Store, hub: Hub, templates: Jinja2Templates, message_bytes: int = 256 * 1024
    ) -> None:
        self.job_id = job_id
        self.message_bytes = message_bytes  # most bytes of lines in one message (--max-message-bytes)
        self._store = store
        self._hub = hub
        self._templates = templates
        self.ready = anyio.Event()
        self.changed = anyio.Event()
        self.job: Job | None = None
        self.last_seq = 0  # the newest event rendered (or, at first, the job's last one when the feed began)
        self.ended = False  # the job has ended and every one of its events is here or before
        self.status = Part(-1, (), "")
        self.progress = Part(-1, (), "")
        self.counts = Part(-1, (), "")
        self.questions = Part(-1, (), "")
        self._by_level: dict[str, int] = {}  # the job's log lines by level, and its events by kind: the filters'
        self._by_kind: dict[str, int] = {}  # live counts, kept from the events the feed reads anyway
        self._lines: deque[str] = deque(maxlen=KEEP_LINES)
        self._events: deque[Event] = deque(maxlen=KEEP_LINES)  # the events of _lines, for filtered viewers
        # Messages composed since the last change, by the viewer's point: shared by every viewer there.
        self._messages: dict[tuple[int, ...], tuple[bytes | None, int]] = {}
        self.viewers = 0
        self.scope = anyio.CancelScope()

    @property
    def first_seq(self) -> int:
        """The oldest event this feed can serve; older ones come from the store."""
        return self.last_seq - len(self._lines) + 1

    async def run(self) -> None:
        with self.scope:
            try:
                while True:
                    try:
                        await self._follow()
                        return
                    except StoreUnavailable as exc:
                        # Viewers wait, as they would for a quiet job; the feed picks up where it stopped.
                        log.warning("feed of job %s: %s; retrying", self.job_id, exc)
                        await anyio.sleep(STORE_RETRY_SECONDS)
            finally:
                self.ready.set()  # a viewer must never wait on a feed that failed to start

    async def _follow(self) -> None:
        topic = job_topic(self.job_id)
        if self.job is None:  # new: serve from the job's end on; viewers behind it read the store
            job = await self._store.get_job(self.job_id)
            self.last_seq = job.last_seq if job else 0
            if job is not None:
                counts = await counts_of(self._store, job)
                self._by_level, self._by_kind = counts.by_level, counts.by_kind
        pacer = Pacer(**READ_PACE)
        while True:
            news = self._hub.watch(topic)
            await pacer.wait()
            # One snapshot: a job seen ended comes with all of its remaining events.
            job, events = await self._store.job_and_events_after(self.job_id, self.last_seq, READ_EVENTS)
            if job is None:
                self.ended = True
                self._publish()
                return
            news_for_viewers = self._take(job, events)
            self.ended = job.settled and len(events) < READ_EVENTS
            # A round that brings viewers nothing wakes none (a write's own NOTIFY comes back as a second wake-up).
            pacer.handled(len(events), readers=self.viewers if news_for_viewers else 0)
            self.ready.set()
            if news_for_viewers or self.ended:
                self._publish()
            if self.ended:
                self._hub.forget(topic)
                return
            if len(events) < READ_EVENTS:
                await news.wait()

    def _take(self, job: Job, events: Sequence[Event]) -> bool:
        """Whether the viewers have anything new: lines, or a changed part."""
        versions = self._versions()
        self.job = job
        for event in events:
            self._lines.append(sse_data(render_line(self._templates, event)))
            self._events.append(event)
        if job.kind_counts:  # kept with the job as its events came (with the read's last ones, if it was cut short)
            self._by_level, self._by_kind = job.level_counts, job.kind_counts
        else:  # a job from before counts were kept: counted here, from what the feed reads
            for event in events:
                self._by_kind[event.kind] = self._by_kind.get(event.kind, 0) + 1
                if event.kind == "log" and event.level is not None:
                    self._by_level[event.level] = self._by_level.get(event.level, 0) + 1
        if events:
            self.last_seq = events[-1].seq
        if events or self.counts.version < 0:
            self.counts = Part(self.counts.version + 1, (), self._partial_counts())
        task = (job.task.status, job.task.status_message) if job.task else None
        status_key = (job.state, job.error, job.result is not None, job.dropped_events, job.lingering_until, task)
        if status_key != self.status.key:
            self.status = Part(self.status.version + 1, status_key, self._partial_status(job))
        questions_key = (job.state.is_terminal, *((q.key, q.state) for q in job.questions))
        if questions_key != self.questions.key:
            html = render_questions(self._templates, job)
            self.questions = Part(
                self.questions.version + 1, questions_key, sse_partial("#questions", "innerMorph", sse_data(html))
            )
        progress_key = (job.progress, job.total, job.message, job.state)  # (the bar takes the colour of a failure)
        if progress_key != self.progress.key:
            self.progress = Part(self.progress.version + 1, progress_key, self._partial_progress(job))
        return bool(events) or self._versions() != versions

    def _versions(self) -> tuple[int, ...]:
        return self.counts.version, self.status.version, self.questions.version, self.progress.version

    def _partial_counts(self) -> str:
        # Data for app.js, which writes each count into its filter toggle (data-count) and the view's totals.
        # Level names are the server's: escaped like any of its text.
        levels, kinds = escape(json.dumps(self._by_level)), escape(json.dumps(self._by_kind))
        html = (
            f'<span id="live-counts" hidden data-total="{self.last_seq}" data-levels="{levels}" data-kinds="{kinds}">'
            "</span>"
        )
        return sse_partial("#live-counts", "outerHTML", sse_data(html))

    def _partial_status(self, job: Job) -> str:
        # Morphed in place: the Cancel button in it survives, under a pointer or a keyboard focus.
        return sse_partial("#job-status", "innerMorph", sse_data(render_status(self._templates, job)))

    def _partial_progress(self, job: Job) -> str:
        return sse_partial("#progress", "innerHTML", sse_data(render_progress(self._templates, job)))

    def _publish(self) -> None:
        self._messages.clear()
        changed, self.changed = self.changed, anyio.Event()
        changed.set()

    def lines_after(self, cursor: int, max_bytes: int | None = None) -> tuple[list[str], int]:
        """Ready lines after `cursor` (which must be >= first_seq - 1), at most `max_bytes` of them (and at
        least one); and the seq of the last one."""
        max_bytes = max_bytes or self.message_bytes
        start = cursor + 1 - self.first_seq
        lines: list[str] = []
        size = 0
        for index in range(start, len(self._lines)):
            line = self._lines[index]
            if lines and size + len(line) > max_bytes:
                break
            lines.append(line)
            size += len(line)
        return lines, cursor + len(lines)

    def matching_lines_after(self, cursor: int, only: EventFilter) -> tuple[list[str], int]:
        """Like `lines_after`, the ready lines after `cursor` that `only` lets through; and the seq of the last
        event looked at (matching or not: the viewer has been told all there is up to it)."""
        start = cursor + 1 - self.first_seq
        lines: list[str] = []
        size = 0
        last = cursor
        for index in range(start, len(self._lines)):
            event = self._events[index]
            if only.matches(event):
                line = self._lines[index]
                if lines and size + len(line) > self.message_bytes:
                    break
                lines.append(line)
                size += len(line)
            last = event.seq
        return lines, last

    def message_for(self, seen: Seen) -> bytes | None:
        """The next message for a viewer at the tail, or None when it has seen everything. Viewers at the
        same point get the same bytes object: composed once, written to each socket."""
        key = (seen.cursor, seen.status, seen.progress, seen.counts, seen.questions)
        cached = self._messages.get(key)
        if cached is None:
            lines, last = self.lines_after(seen.cursor)
            cached = self._messages[key] = (self.compose(lines, seen, last), last)
        message, last = cached
        if message is not None:
            self.mark_sent(seen, last)
        return message

    def compose(self, lines: Sequence[str], seen: Seen, last: int, *, replace_log: str | None = None) -> bytes | None:
        """One SSE message: `lines` appended to the log (or, with `replace_log`, replacing it, preceded by that
        note of hidden lines), the count, and status and progress if this viewer has not seen them yet."""
        parts: list[str] = [f"id: {last}\n"]
        if lines or replace_log is not None:
            swap = "beforeend" if replace_log is None else "innerHTML"
            parts.append(sse_partial("#log", swap, "".join(lines)))
            if replace_log is not None:
                parts.append(replace_log)
            parts.append(events_count(last))
        if self.progress.version != seen.progress:
            parts.append(self.progress.sse)
        if self.status.version != seen.status:
            parts.append(self.status.sse)
        if self.counts.version != seen.counts:
            parts.append(self.counts.sse)
        if self.questions.version != seen.questions:
            parts.append(self.questions.sse)
        if len(parts) == 1:
            return None
        parts.append("\n")
        return "".join(parts).encode()

    def mark_sent(self, seen: Seen, cursor: int) -> None:
        seen.cursor = cursor
        seen.status, seen.progress, seen.counts = self.status.version, self.progress.version, self.counts.version
        seen.questions = self.questions.version


class Feeds:
    """The feeds of one web process: created by the first viewer of a job, dropped after the last."""

    def __init__(
        self,
        store: Store,
        hub: Hub,
        templates: Jinja2Templates,
        task_group: TaskGroup,
        message_bytes: int = 256 * 1024,
    ) -> None:
        self._store = store
        self._hub = hub
        self._templates = templates
        self._tg = task_group
        self._message_bytes = message_bytes
        self._feeds: dict[str, JobFeed] = {}
        self.viewers = Viewers()  # how far each page with flow control has got

    @contextlib.asynccontextmanager
    async def follow(self, job_id: str) -> AsyncIterator[JobFeed]:
        feed = self._feeds.get(job_id)
        if feed is None:
            feed = self._feeds[job_id] = JobFeed(job_id, self._store, self._hub, self._templates, self._message_bytes)
            self._tg.start_soon(feed.run, name=f"feed {job_id}")
        feed.viewers += 1
        try:
            await feed.ready.wait()
            yield feed
        finally:
            feed.viewers -= 1
            if feed.viewers == 0:
                feed.scope.cancel()
                if self._feeds.get(job_id) is feed:
                    del self._feeds[job_id]
