"""Turns a job's notifications into numbered events: synchronously, in arrival order.

This is the per-notification hot path. It never awaits: it numbers the event, applies valid progress
to the job and queues the event for the store. Events leave the queue only once the store has
committed them (`pending`, then `committed`): a failed write is retried with the same events, so a
store error never leaves a gap.
"""

from __future__ import annotations

import math
import time
from typing import Any

import anyio

from webapp.events import Event, Job, ProgressNote, percent_of


class Recorder:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.news = anyio.Event()
        self.last_activity = time.monotonic()
        self._pending: list[Event] = []

    def log(self, level: str, logger: str | None, data: Any) -> None:
        self._append(
            Event(self.job.id, self.job.last_seq + 1, "log", time.time(), level=level, logger=logger, data=data)
        )

    def progress(
        self, progress: float, total: float | None, message: str | None, *, note: ProgressNote | None = None
    ) -> None:
        """`note`: the link already knows this one must not move the bar (late, or another request's)."""
        note = note or self._judge(progress, total)
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

    def _append(self, event: Event) -> None:
        self.job.last_seq = event.seq
        self._pending.append(event)
        self.last_activity = time.monotonic()
        self.news.set()


def _finite(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None
