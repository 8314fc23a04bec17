"""Fan-out of "job X has news" to every viewer of job X.

The hub carries no events, only wake-ups: each viewer reads what it has not seen from the store.
A slow viewer therefore never holds a buffer, never slows the job or other viewers, and catches
up from the store at its own pace. A multi-process backend would replace this with a broadcast
(e.g. PostgreSQL LISTEN/NOTIFY) behind the same two calls.
"""

from __future__ import annotations

import anyio


class Hub:
    def __init__(self) -> None:
        self._waiters: dict[str, anyio.Event] = {}
        self.closing = anyio.Event()

    def watch(self, job_id: str) -> anyio.Event:
        """An event set by the next `publish(job_id)` (or at shutdown).

        Take it BEFORE reading the store, so news published in between is not missed.
        """
        event = self._waiters.get(job_id)
        if event is None:
            event = self._waiters[job_id] = anyio.Event()
        return event

    def publish(self, job_id: str) -> None:
        event = self._waiters.pop(job_id, None)
        if event is not None:
            event.set()

    def forget(self, job_id: str) -> None:
        """Drop the job's waiter once the job has ended (nothing will be published for it again)."""
        self._waiters.pop(job_id, None)

    def close(self) -> None:
        """Wake every viewer so streams can say goodbye before the server stops."""
        self.closing.set()
        for event in self._waiters.values():
            event.set()
        self._waiters.clear()
