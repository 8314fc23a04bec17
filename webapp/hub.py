"""Wake-ups within one process: "topic X has news", fanned out to everyone waiting on X.

The hub carries no data, only wake-ups; whoever wakes reads what it needs from the store. A slow
reader therefore never holds a buffer and never slows anyone. Topics:

- `job:<id>`: the job's events or fields changed;
- `jobs`: a job was created or changed state (lists of jobs);
- `queue`: a job is waiting for a worker;
- `cancel:<id>`: someone asked for the job to be cancelled.

The store publishes them after each commit: directly in one process (SQLite), or through
PostgreSQL's LISTEN/NOTIFY, so every process on every host hears them.
"""

from __future__ import annotations

import anyio

QUEUE = "queue"
JOBS = "jobs"


def job_topic(job_id: str) -> str:
    return f"job:{job_id}"


def cancel_topic(job_id: str) -> str:
    return f"cancel:{job_id}"


class Hub:
    def __init__(self) -> None:
        self._waiters: dict[str, anyio.Event] = {}
        self.closing = anyio.Event()

    def watch(self, topic: str) -> anyio.Event:
        """An event set by the next `publish(topic)` (or at shutdown).

        Take it BEFORE reading the store, so news published in between is not missed.
        """
        event = self._waiters.get(topic)
        if event is None:
            if self.closing.is_set():
                return self.closing
            event = self._waiters[topic] = anyio.Event()
        return event

    def publish(self, topic: str) -> None:
        event = self._waiters.pop(topic, None)
        if event is not None:
            event.set()

    def publish_all(self) -> None:
        """Wake everyone: after news may have been missed (a lost database connection), all re-read the store."""
        waiters, self._waiters = self._waiters, {}
        for event in waiters.values():
            event.set()

    def forget(self, topic: str) -> None:
        """Drop a topic nobody will publish again (an ended job)."""
        self._waiters.pop(topic, None)

    def close(self) -> None:
        """Wake every waiter so streams can say goodbye before the server stops."""
        self.closing.set()
        self.publish_all()


async def wait_any(*events: anyio.Event) -> None:
    """Return as soon as any of `events` is set."""
    async with anyio.create_task_group() as tg:

        async def wait_for(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        for event in events:
            tg.start_soon(wait_for, event)
