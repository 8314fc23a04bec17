"""Wake-ups within one process: "topic X has news", fanned out to everyone waiting on X.

The hub carries no data, only wake-ups; whoever wakes reads what it needs from the store. A slow
reader therefore never holds a buffer and never slows anyone. Topics:

- `job:<id>`: the job's events or fields changed;
- `jobs`: a job was created or changed state (lists of jobs);
- `queue`: a job is waiting for a worker;
- `cancel:<id>`: someone asked for the job to be cancelled;
- `answer:<id>`: someone answered one of the job's questions.

The store publishes them after each commit: directly in one process (SQLite), or through
PostgreSQL's LISTEN/NOTIFY, so every process on every host hears them.
"""

from __future__ import annotations

import time

import anyio

QUEUE = "queue"
JOBS = "jobs"


def job_topic(job_id: str) -> str:
    return f"job:{job_id}"


def server_topic(name: str) -> str:
    """News of a server's lines outside any job."""
    return f"server:{name}"


def cancel_topic(job_id: str) -> str:
    return f"cancel:{job_id}"


def answer_topic(job_id: str) -> str:
    return f"answer:{job_id}"


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


class Pacer:
    """Paces a loop that handles whatever has piled up since its last round (a job's writes, a feed's reads).

    After a quiet spell it goes at once. After a round it waits `per_item` seconds for each item it handled, or
    `per_reader` for each reader it then woke when that is longer, `at_most` at most: a burst's batches grow until
    their fixed costs (a transaction, a read, a render of the bar) are shared by many items, and readers get at
    most 1 / `per_reader` messages a second in all (till `at_most` caps the wait); while a quiet job's line is
    never held back.
    """

    def __init__(self, per_item: float, at_most: float, per_reader: float = 0.0) -> None:
        self.per_item = per_item
        self.per_reader = per_reader
        self.at_most = at_most
        self._next = 0.0

    async def wait(self) -> None:
        pause = self._next - time.monotonic()
        if pause > 0:
            await anyio.sleep(pause)

    def pause(self, items: int, readers: int = 0) -> float:
        """Seconds to wait after a round that handled `items` and woke `readers`."""
        return min(self.at_most, max(self.per_item * items, self.per_reader * readers))

    def handled(self, items: int, readers: int = 0) -> None:
        self._next = time.monotonic() + self.pause(items, readers)
