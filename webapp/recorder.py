"""Turns a job's notifications into numbered events: synchronously, in arrival order.

This is the per-notification hot path. It never awaits: it numbers the event, applies valid progress
to the job and queues the event for the store. Events leave the queue only once the store has
committed them (`pending`, then `committed`): a failed write is retried with the same events, so a
store error never leaves a gap.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from webapp.events import LEVELS, QUESTION, REFUSED, Event, EventKind, Job, ProgressNote, json_text, percent_of

NAME_CHARS = 200  # a logger's or a level's name, beyond which it is cut (marked with "…")
MESSAGE_CHARS = 4096  # a progress message, likewise
TOO_DEEP = "(not kept: the data is nested deeper than JSON can be written)"
WARNING_OR_WORSE = frozenset(LEVELS[LEVELS.index("warning") :])  # what a job's `warnings` counts


@dataclass(frozen=True, slots=True)
class Limits:
    """What one job may put in the store (each a setting: --max-event-bytes, --max-events); `per_second`: most
    events a second, in bursts of up to BURST_SECONDS' worth (a server's lines outside jobs, which never end)."""

    event_bytes: int = 256 * 1024
    events: int = 2_000_000
    per_second: float | None = None


BURST_SECONDS = 10.0


class Bucket:
    """A token bucket: `rate` a second, holding at most `rate * BURST_SECONDS`."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = rate * BURST_SECONDS
        self._tokens = self.capacity
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class Recorder:
    def __init__(self, job: Job, limits: Limits | None = None) -> None:
        self.job = job
        self.limits = limits or Limits()
        self.news = anyio.Event()
        self.last_activity = time.monotonic()
        self.after_end = False  # the call has returned: what comes now is marked as after its end
        self._pending: list[Event] = []
        self._bucket = None if self.limits.per_second is None else Bucket(self.limits.per_second)
        self.on_task_status: Callable[[dict[str, Any]], None] | None = None  # see task_status
        self._questions: deque[tuple[Any, int]] = deque(maxlen=100)  # question requests recorded: message, seq

    def log(self, level: str, logger: str | None, data: Any) -> None:
        if self._over_the_limit():
            return
        if level in WARNING_OR_WORSE:
            self.job.warnings += 1
        data, data_bytes, data_json = bounded(data, self.limits.event_bytes)
        level, logger = shorten(level, NAME_CHARS), None if logger is None else shorten(logger, NAME_CHARS)
        self._append(
            Event(
                self.job.id,
                self.job.last_seq + 1,
                "log",
                time.time(),
                level=level,
                logger=logger,
                data=data,
                data_bytes=data_bytes,
                note=ProgressNote.AFTER_END if self.after_end else None,
                data_json=data_json,
            )
        )

    def notification(self, method: str, params: Any) -> None:
        """Any other notification than the call's log and progress: kept with its method, params as data."""
        self._message("notification", method, params)

    def request(self, method: str, params: Any, note: str = REFUSED) -> None:
        """A request from the server: a question for a person (`note` QUESTION), or refused (by the SDK): kept with
        its method, params as data."""
        self._message("request", method, params, note=note)
        if note == QUESTION and isinstance(params, dict):
            self._questions.append((params.get("message"), self.job.last_seq))

    def question_seq(self, message: Any) -> int | None:
        """The seq of the request line of the question with this message (the oldest such, taken once)."""
        for index, (asked, seq) in enumerate(self._questions):
            if asked == message:
                del self._questions[index]
                return seq
        return None

    def stderr(self, line: str) -> None:
        """A line a stdio server wrote to its stderr: kept as text."""
        self._message("stderr", None, line)

    def task_status(self, params: dict[str, Any]) -> None:
        """A task's status notification: the job's task runner's, when the job runs as a task; else a line."""
        if self.on_task_status is not None:
            self.on_task_status(params)
        else:
            self.notification("notifications/tasks/status", params)

    def task(self, method: str, status: str, message: str | None, data: dict[str, Any]) -> None:
        """The job's task changed status or status message (as `method` said: tasks/get, a notification...)."""
        self._message("task", method, data, message=None if message is None else shorten(message, MESSAGE_CHARS))

    def answer(self, method: str, data: dict[str, Any], note: str | None = None) -> None:
        """What a question was answered with (`note`: why no person did, when none did)."""
        self._message("answer", method, data, note=note)

    def _message(
        self, kind: EventKind, method: str | None, params: Any, *, note: str | None = None, message: str | None = None
    ) -> None:
        if self._over_the_limit():
            return
        data, data_bytes, data_json = bounded(params, self.limits.event_bytes)
        if note is None and self.after_end and kind in ("notification", "stderr"):
            note = ProgressNote.AFTER_END
        event = Event(
            self.job.id,
            self.job.last_seq + 1,
            kind,
            time.time(),
            data=data,
            data_bytes=data_bytes,
            method=None if method is None else shorten(method, NAME_CHARS),
            message=message,
            note=note,
            data_json=data_json,
        )
        self._append(event)

    def progress(
        self, progress: float, total: float | None, message: str | None, *, note: ProgressNote | None = None
    ) -> None:
        """`note`: the link already knows this one must not move the bar (late, or another request's)."""
        if self._over_the_limit():
            return
        if message is not None:
            message = shorten(message, MESSAGE_CHARS)
        note = note or (ProgressNote.AFTER_END if self.after_end else self._judge(progress, total))
        if note is None:
            self.job.progress, self.job.total = progress, total
            if message is not None:
                self.job.message = message
        self._append(
            Event(
                self.job.id,
                self.job.last_seq + 1,
                "progress",
                time.time(),
                progress=_finite(progress),
                total=_finite(total),
                message=message,
                note=note,
            )
        )

    def touch(self) -> None:
        """The server answered (a task's status, say): it is alive, whatever it sends."""
        self.last_activity = time.monotonic()

    @property
    def backlog(self) -> int:
        """Events recorded but not yet stored."""
        return len(self._pending)

    def pending(self) -> tuple[list[Event], Job]:
        """The events not yet stored, and a snapshot of the job that matches them. They stay pending
        until `committed` says the store has them."""
        return list(self._pending), self.job.copy()

    def committed(self, count: int) -> None:
        """The first `count` pending events are stored."""
        del self._pending[:count]
        if not self._pending and self.news.is_set():
            self.news = anyio.Event()

    def _judge(self, progress: float, total: float | None) -> ProgressNote | None:
        # Recorded either way; only sane progress moves the bar, and never backwards.
        if not math.isfinite(progress) or (total is not None and not math.isfinite(total)):
            return ProgressNote.NOT_FINITE
        if total is not None and progress > total:
            return ProgressNote.EXCEEDS_TOTAL
        if self.job.progress is not None and progress <= self.job.progress:
            return ProgressNote.NOT_INCREASING
        shown, new = self.job.percent, percent_of(progress, total)
        if shown is not None and (new is None or new < shown):
            return ProgressNote.MOVES_BAR_BACK
        return None

    def _over_the_limit(self) -> bool:
        """Beyond the events a job may keep (or faster than it may keep them), an event is counted (the job's
        `dropped_events`), not stored."""
        if self.job.last_seq < self.limits.events and (self._bucket is None or self._bucket.take()):
            return False
        self.job.dropped_events += 1
        self.last_activity = time.monotonic()  # the server is still talking: no idle timeout
        self.news.set()
        return True

    def _append(self, event: Event) -> None:
        job = self.job
        job.last_seq = event.seq
        job.kind_counts[event.kind] = job.kind_counts.get(event.kind, 0) + 1
        if event.level is not None:
            job.level_counts[event.level] = job.level_counts.get(event.level, 0) + 1
        self._pending.append(event)
        self.last_activity = time.monotonic()
        self.news.set()


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def bounded(data: Any, max_bytes: int) -> tuple[Any, int | None, str]:
    """`data` as it may be kept, its size as sent when it was cut, and its JSON text (which the store keeps):
    whole, or, when its JSON is over `max_bytes`, the first `max_bytes` of that JSON as text with the size it
    had (the marker of a cut). Data too deep to write as JSON becomes a notice."""
    try:
        text = json_text(data)
    except RecursionError:
        return TOO_DEEP, None, json_text(TOO_DEEP)
    if len(text) <= max_bytes // 4:  # a character is at most four bytes: surely within the limit
        return data, None, text
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= max_bytes:
        return data, None, text
    cut = text.encode("utf-8", "surrogatepass")[:max_bytes].decode("utf-8", "ignore")
    return cut, size, json_text(cut)


def shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
