"""The embedded store: one SQLite file (WAL mode), for one dashboard process.

Every call runs in a worker thread, never on the event loop: a write that waits on a lock another
process holds must not freeze the pages, the streams and the MCP connections. One connection
writes (a transaction at a time); a few others read, alongside it, as WAL allows.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import anyio

from webapp.events import Event, Job, JobState
from webapp.hub import QUEUE, Hub, cancel_topic
from webapp.store import (
    ACTIVE_STATES,
    CANCELLED_BEFORE_START,
    EVENT_COLUMNS,
    JOB_COLUMNS,
    JobLost,
    WorkerInfo,
    event_from_row,
    event_rows,
    job_from_row,
    job_news,
    job_row,
    job_update,
    lost_worker_error,
    migrations,
)

T = TypeVar("T")
READERS = 3
BUSY_TIMEOUT_MS = 5000
_ACTIVE = "state IN ({})".format(", ".join(f"'{state}'" for state in ACTIVE_STATES))


class SQLiteStore:
    def __init__(self, path: str | Path, hub: Hub) -> None:
        self.path = str(path)
        self.hub = hub
        self._writer: sqlite3.Connection | None = None
        self._readers: list[sqlite3.Connection] = []
        self._write_limiter = anyio.CapacityLimiter(1)
        self._read_limiter = anyio.CapacityLimiter(READERS)

    async def __aenter__(self) -> SQLiteStore:
        await anyio.to_thread.run_sync(self._open)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for db in [self._writer, *self._readers]:
            if db is not None:
                db.close()

    def _open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        self._migrate(self._writer)
        self._readers = [self._connect() for _ in range(READERS)]

    def _connect(self) -> sqlite3.Connection:
        # Used from worker threads, one call at a time per connection (the limiters see to that).
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives an application crash; only a power cut can lose the last commits.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return db

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in migrations("sqlite"):
            if number <= version:
                continue
            try:
                db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    # -- Running calls off the loop ------------------------------------------------------------------

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in one IMMEDIATE transaction on the writer connection, in a thread."""
        assert self._writer is not None, "the store is not open"
        writer = self._writer

        def transaction() -> T:
            writer.execute("BEGIN IMMEDIATE")
            try:
                result = work(writer)
            except BaseException:
                writer.execute("ROLLBACK")
                raise
            writer.execute("COMMIT")
            return result

        return await anyio.to_thread.run_sync(transaction, limiter=self._write_limiter)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        async with self._read_limiter:
            reader = self._readers.pop()
            try:
                return await anyio.to_thread.run_sync(work, reader)
            finally:
                self._readers.append(reader)

    def _publish(self, *topics: str) -> None:
        for topic in topics:
            self.hub.publish(topic)

    # -- Jobs ----------------------------------------------------------------------------------------

    async def create_job(self, job: Job) -> None:
        row = job_row(job)
        await self._write(lambda db: db.execute(f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({_marks(16)})", row))
        self._publish(*job_news(job.id), QUEUE)

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._read(
            lambda db: db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
        )
        return job_from_row(row) if row else None

    async def list_jobs(self, limit: int = 50) -> list[Job]:
        rows = await self._read(
            lambda db: db.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
        )
        return [job_from_row(row) for row in rows]

    async def events_after(self, job_id: str, after: int, limit: int) -> list[Event]:
        rows = await self._read(
            lambda db: db.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE job_id=? AND seq>? ORDER BY seq LIMIT ?",
                (job_id, after, limit),
            ).fetchall()
        )
        return [event_from_row(row) for row in rows]

    async def request_cancel(self, job_id: str, at: float) -> Job | None:
        def cancel(db: sqlite3.Connection) -> Any:
            db.execute(
                "UPDATE jobs SET state=?, error=?, finished_at=? WHERE id=? AND state=?",
                (JobState.CANCELLED.value, CANCELLED_BEFORE_START, at, job_id, JobState.QUEUED.value),
            )
            db.execute(
                f"UPDATE jobs SET cancel_requested_at=? WHERE id=? AND cancel_requested_at IS NULL AND {_ACTIVE}",
                (at, job_id),
            )
            return db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()

        row = await self._write(cancel)
        if row is None:
            return None
        self._publish(*job_news(job_id), cancel_topic(job_id))
        return job_from_row(row)

    # -- Workers -------------------------------------------------------------------------------------

    async def renew_lease(self, worker: WorkerInfo, lease_seconds: float) -> None:
        row = (worker.id, worker.host, worker.pid, worker.started_at, time.time() + lease_seconds)
        await self._write(
            lambda db: db.execute(
                "INSERT INTO workers VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET lease_until=excluded.lease_until",
                row,
            )
        )

    async def unregister_worker(self, worker_id: str) -> None:
        await self._write(lambda db: db.execute("DELETE FROM workers WHERE id=?", (worker_id,)))

    async def claim_job(self, worker_id: str) -> Job | None:
        def claim(db: sqlite3.Connection) -> Any:
            row = db.execute(
                "SELECT id FROM jobs WHERE state=? ORDER BY created_at, rowid LIMIT 1", (JobState.QUEUED.value,)
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state=?, worker=? WHERE id=?", (JobState.STARTING.value, worker_id, row[0]))
            return db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (row[0],)).fetchone()

        row = await self._write(claim)
        if row is None:
            return None
        job = job_from_row(row)
        self._publish(*job_news(job.id))
        return job

    async def save_job(self, job: Job, events: Sequence[Event] = ()) -> None:
        fields = job_update(job)

        def save(db: sqlite3.Connection) -> None:
            # What is stored already: a retry after a write whose outcome was not seen must not insert twice.
            row = db.execute(
                f"SELECT last_seq FROM jobs WHERE id=? AND worker IS ? AND {_ACTIVE}", (job.id, job.worker)
            ).fetchone()
            if row is None:
                raise JobLost(job.id)
            db.execute(
                "UPDATE jobs SET state=?, finished_at=?, progress=?, total=?, message=?, result=?, error=?,"
                " last_seq=? WHERE id=?",
                (*fields, job.id),
            )
            rows = event_rows([e for e in events if e.seq > row[0]])
            if rows:
                db.executemany(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({_marks(11)})", rows)

        await self._write(save)
        self._publish(*job_news(job.id))

    async def interrupt_jobs_of_lost_workers(self) -> list[str]:
        now = time.time()

        def interrupt(db: sqlite3.Connection) -> list[str]:
            ids: list[str] = []
            lost = db.execute("SELECT id, host, pid, started_at FROM workers WHERE lease_until < ?", (now,))
            for worker in [WorkerInfo(*row) for row in lost.fetchall()]:
                jobs = db.execute(f"SELECT id FROM jobs WHERE worker=? AND {_ACTIVE}", (worker.id,)).fetchall()
                ids += _interrupt(db, [row[0] for row in jobs], lost_worker_error(worker), now)
                db.execute("DELETE FROM workers WHERE id=?", (worker.id,))
            return ids

        ids = await self._write(interrupt)
        self._publish(*(topic for job_id in ids for topic in job_news(job_id)))
        return ids

    async def interrupt_unfinished(self, error: str, finished_at: float) -> list[str]:
        def interrupt(db: sqlite3.Connection) -> list[str]:
            db.execute("DELETE FROM workers")
            # `cancelling` was a stored state before the queue existed: files of that release may hold it.
            jobs = db.execute(f"SELECT id FROM jobs WHERE {_ACTIVE} OR state='cancelling'").fetchall()
            return _interrupt(db, [row[0] for row in jobs], error, finished_at)

        ids = await self._write(interrupt)
        self._publish(*(topic for job_id in ids for topic in job_news(job_id)))
        return ids


def _interrupt(db: sqlite3.Connection, job_ids: list[str], error: str, finished_at: float) -> list[str]:
    db.executemany(
        "UPDATE jobs SET state=?, error=?, finished_at=? WHERE id=?",
        [(JobState.INTERRUPTED.value, error, finished_at, job_id) for job_id in job_ids],
    )
    return job_ids


def _marks(n: int) -> str:
    return ", ".join("?" * n)
