"""The embedded store: one SQLite file (WAL mode), for one dashboard process.

A call runs on the event loop when it can go straight through, and in a thread when it would have to
wait. The loop's connections never wait for a lock (busy timeout 0): a call that finds the file locked
by another process is run again in a thread, on a twin connection that waits up to BUSY_TIMEOUT_MS.
So a lock held elsewhere never freezes the pages, the streams or the MCP connections, and the common
call costs no thread hand-off (measured: two hops per line put the p99 latency at 7 to 15 ms).
One transaction writes at a time; reads go alongside, as WAL allows.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio
from anyio.abc import TaskGroup

from webapp import metrics
from webapp.events import Event, Job, JobState
from webapp.hub import QUEUE, Hub, answer_topic, cancel_topic, server_topic
from webapp.store import (
    ACTIVE_SQL,
    CANCELLED_BEFORE_START,
    CLAIMABLE_SQL,
    CLAIMED_STATE_SQL,
    COUNT_SQL,
    DELETE_CHUNK,
    ENDED_SQL,
    EVENT_COLUMNS,
    EVENT_FIELDS,
    JOB_COLUMNS,
    JOB_FIELDS,
    JOB_UPDATE,
    MATCHING_SQL,
    SERVER_EVENT_COLUMNS,
    WRITABLE_SQL,
    Answer,
    EventCounts,
    EventFilter,
    JobLost,
    SchemaTooNew,
    StoreUnavailable,
    WorkerInfo,
    answer_from_row,
    answer_row,
    counts_from_rows,
    event_from_row,
    event_rows,
    is_settled,
    job_from_row,
    job_news,
    job_row,
    job_update,
    jobs_where,
    lost_worker_error,
    migrations,
    regexp,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
PATIENT_READERS = 2
BUSY_TIMEOUT_MS = 5000
CHECKPOINT_EVERY = 1.0  # seconds between WAL checkpoints, made in the background


class SQLiteStore:
    def __init__(self, path: str | Path, hub: Hub) -> None:
        self.path = str(path)
        self.hub = hub
        self._connections: list[sqlite3.Connection] = []
        self._writer: sqlite3.Connection | None = None  # on the loop, never waits
        self._patient_writer: sqlite3.Connection | None = None  # in a thread, waits for another's lock
        self._reader: sqlite3.Connection | None = None
        self._patient_readers: list[sqlite3.Connection] = []
        self._write_lock = anyio.Lock()  # one transaction at a time, whichever connection runs it
        self._read_limiter = anyio.CapacityLimiter(PATIENT_READERS)
        self._checkpoints = anyio.CancelScope()
        self._tg: TaskGroup | None = None

    async def __aenter__(self) -> Self:
        await anyio.to_thread.run_sync(self._open)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._checkpoint_now_and_then, name="sqlite checkpoints")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._checkpoints.cancel()
        if self._tg is not None:
            await self._tg.__aexit__(None, None, None)
        for db in self._connections:
            db.close()

    async def _checkpoint_now_and_then(self) -> None:
        """Move the WAL into the database file in the background. Left to SQLite, the commit that crosses the
        WAL's size limit does it, fsync included: a pause of milliseconds in the middle of a job's writes."""
        with self._checkpoints:
            checkpointer = await anyio.to_thread.run_sync(self._connect, BUSY_TIMEOUT_MS)
            while True:
                await anyio.sleep(CHECKPOINT_EVERY)
                try:
                    await anyio.to_thread.run_sync(checkpointer.execute, "PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.OperationalError as exc:  # busy: the next one will do
                    log.debug("checkpoint skipped: %s", exc)

    def _open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._patient_writer = self._connect(BUSY_TIMEOUT_MS)
        self._migrate(self._patient_writer)
        self._writer = self._connect(0)
        self._reader = self._connect(0)
        self._patient_readers = [self._connect(BUSY_TIMEOUT_MS) for _ in range(PATIENT_READERS)]
        for writer in (self._writer, self._patient_writer):
            writer.execute("PRAGMA wal_autocheckpoint=0")  # see _checkpoint_now_and_then

    def _connect(self, busy_timeout_ms: int) -> sqlite3.Connection:
        # Shared between the loop and worker threads, one call at a time per connection (the locks see to that).
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives an application crash; only a power cut can lose the last commits.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        db.create_function("regexp", 2, regexp, deterministic=True)  # `x REGEXP p`, for regex=1 (RE2: linear)
        self._connections.append(db)
        return db

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        known = migrations("sqlite")
        if known and version > known[-1][0]:
            raise SchemaTooNew(version, known[-1][0])
        for number, script in known:
            if number <= version:
                continue
            try:
                db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    # -- Straight through on the loop, or waiting in a thread ----------------------------------------

    async def _write(self, work: Callable[[sqlite3.Connection], T], *, bulk: bool = False) -> T:
        """Run `work` in one IMMEDIATE transaction: on the loop, unless the file is locked by someone else
        or the work is `bulk` (a delete of thousands of rows: never on the loop)."""
        assert self._writer is not None and self._patient_writer is not None, "the store is not open"
        async with self._write_lock:
            with self._unavailable_as_such():
                try:
                    if not bulk:
                        return _transaction(self._writer, work)
                except sqlite3.OperationalError as exc:
                    if not _busy(exc):
                        raise
                # Another process holds the file: wait for it in a thread, never on the loop.
                return await anyio.to_thread.run_sync(_transaction, self._patient_writer, work)

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        assert self._reader is not None, "the store is not open"
        with self._unavailable_as_such():
            try:
                return work(self._reader)
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
        return await self._read_aside(work)  # locked by another process: wait for it in a thread

    async def _read_aside(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A read that may take long, in a thread with a connection of its own."""
        with self._unavailable_as_such():
            async with self._read_limiter:
                reader = self._patient_readers.pop()
                try:
                    return await anyio.to_thread.run_sync(work, reader)
                finally:
                    self._patient_readers.append(reader)

    @contextlib.contextmanager
    def _unavailable_as_such(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:  # locked past the busy timeout, disk full, file gone...
            metrics.STORE_ERRORS.inc()
            raise StoreUnavailable(f"the SQLite store cannot be used right now: {exc}") from exc

    async def ping(self) -> None:
        await self._read(lambda db: db.execute("SELECT 1").fetchone())

    async def count_jobs(self) -> dict[str, int]:
        rows = await self._read(lambda db: db.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
        return {state: count for state, count in rows}

    async def check_writable(self) -> None:
        await self._write(lambda db: None)  # BEGIN IMMEDIATE takes the write lock: a read-only file refuses it

    def _publish(self, *topics: str) -> None:
        for topic in topics:
            self.hub.publish(topic)

    # -- Jobs ----------------------------------------------------------------------------------------

    async def create_job(self, job: Job) -> None:
        row = job_row(job)
        await self._write(lambda db: db.execute(f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({_marks(JOB_FIELDS)})", row))
        self._publish(*job_news(job.id), QUEUE)

    async def get_job(self, job_id: str) -> Job | None:
        row = await self._read(
            lambda db: db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
        )
        return job_from_row(row) if row else None

    async def list_jobs(self, limit: int = 50, *, state: str | None = None, tool: str | None = None) -> list[Job]:
        where, params = jobs_where(state, tool, "?")
        rows = await self._read(
            lambda db: db.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs{where} ORDER BY created_at DESC, rowid DESC LIMIT ?", (*params, limit)
            ).fetchall()
        )
        return [job_from_row(row) for row in rows]

    async def events_after(self, job_id: str, after: int, limit: int, only: EventFilter | None = None) -> list[Event]:
        if not only:
            rows = await self._read(
                lambda db: db.execute(
                    f"SELECT {EVENT_COLUMNS} FROM events WHERE job_id=? AND seq>? ORDER BY seq LIMIT ?",
                    (job_id, after, limit),
                ).fetchall()
            )
            return [event_from_row(row) for row in rows]
        where, params = only.sql("?", "LIKE", "REGEXP")
        query = f"SELECT {EVENT_COLUMNS} FROM events WHERE job_id=? AND seq>?{where} ORDER BY seq LIMIT ?"
        # A filter may scan a million rows to find a few: in a thread, never on the loop.
        rows = await self._read_aside(lambda db: db.execute(query, (job_id, after, *params, limit)).fetchall())
        return [event_from_row(row) for row in rows]

    async def events_before(self, job_id: str, before: int, limit: int, only: EventFilter | None = None) -> list[Event]:
        where, params = only.sql("?", "LIKE", "REGEXP") if only else ("", [])
        query = f"SELECT {EVENT_COLUMNS} FROM events WHERE job_id=? AND seq<?{where} ORDER BY seq DESC LIMIT ?"
        read = self._read_aside if only else self._read
        rows = await read(lambda db: db.execute(query, (job_id, before, *params, limit)).fetchall())
        return [event_from_row(row) for row in reversed(rows)]

    # A count walks all of a job's events: in a thread, never on the loop.

    async def count_events(self, job_id: str, upto: int) -> EventCounts:
        rows = await self._read_aside(lambda db: db.execute(COUNT_SQL.format("?"), (job_id, upto)).fetchall())
        return counts_from_rows(rows)

    async def count_matching(self, job_id: str, upto: int, only: EventFilter) -> int:
        where, params = only.sql("?", "LIKE", "REGEXP")
        query = MATCHING_SQL.format("?") + where
        row = await self._read_aside(lambda db: db.execute(query, (job_id, upto, *params)).fetchone())
        return int(row[0])

    async def job_and_events_after(self, job_id: str, after: int, limit: int) -> tuple[Job | None, list[Event]]:
        def read(db: sqlite3.Connection) -> tuple[Any, list[Any]]:
            db.execute("BEGIN")
            try:
                job = db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
                events = db.execute(
                    f"SELECT {EVENT_COLUMNS} FROM events WHERE job_id=? AND seq>? ORDER BY seq LIMIT ?",
                    (job_id, after, limit),
                ).fetchall()
            finally:
                db.execute("COMMIT")
            return job, events

        job, rows = await self._read(read)
        return (job_from_row(job) if job else None), [event_from_row(row) for row in rows]

    async def count_queued(self) -> int:
        row = await self._read(lambda db: db.execute("SELECT count(*) FROM jobs WHERE state='queued'").fetchone())
        return int(row[0])

    async def delete_job(self, job_id: str) -> bool | None:
        row = await self._read(
            lambda db: db.execute("SELECT state, lingering_until FROM jobs WHERE id=?", (job_id,)).fetchone()
        )
        if row is None:
            return None
        if not is_settled(*row):
            return False
        await self._delete([job_id])
        return True

    async def delete_ended_jobs(self, finished_before: float | None, keep: int | None) -> int:
        def pick(db: sqlite3.Connection) -> list[str]:
            ids: set[str] = set()
            if finished_before is not None:
                old = db.execute(f"SELECT id FROM jobs WHERE {ENDED_SQL} AND finished_at < ?", (finished_before,))
                ids.update(row[0] for row in old)
            if keep is not None:
                beyond = db.execute(
                    f"SELECT id FROM jobs WHERE {ENDED_SQL} ORDER BY finished_at DESC, rowid DESC LIMIT -1 OFFSET ?",
                    (keep,),
                )
                ids.update(row[0] for row in beyond)
            return sorted(ids)

        ids = await self._read(pick)
        await self._delete(ids)
        return len(ids)

    async def _delete(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            while await self._write(partial(_delete_some_events, job_id=job_id), bulk=True) == DELETE_CHUNK:
                pass
            await self._write(partial(_delete_job_row, job_id=job_id))
            self._publish(*job_news(job_id))

    # -- Lines a server sends outside any job ------------------------------------------------------------

    async def save_server_events(self, server: str, events: Sequence[Event]) -> None:
        rows = event_rows(events)
        insert = f"INSERT OR IGNORE INTO server_events ({SERVER_EVENT_COLUMNS}) VALUES ({_marks(EVENT_FIELDS)})"
        await self._write(lambda db: db.executemany(insert, rows))
        self._publish(server_topic(server))

    async def server_events_after(
        self, server: str, after: int, limit: int, only: EventFilter | None = None
    ) -> list[Event]:
        where, params = only.sql("?", "LIKE", "REGEXP") if only else ("", [])
        query = f"SELECT {SERVER_EVENT_COLUMNS} FROM server_events WHERE server=? AND seq>?{where} ORDER BY seq LIMIT ?"
        read = self._read_aside if only else self._read  # a filter may scan many rows: never on the loop
        rows = await read(lambda db: db.execute(query, (server, after, *params, limit)).fetchall())
        return [event_from_row(row) for row in rows]

    async def last_server_seq(self, server: str) -> int:
        query = "SELECT coalesce(max(seq), 0) FROM server_events WHERE server=?"
        row = await self._read(lambda db: db.execute(query, (server,)).fetchone())
        return int(row[0])

    @contextlib.asynccontextmanager
    async def listening_to(self, server: str) -> AsyncIterator[bool]:
        yield True  # one process per SQLite file: this one

    async def delete_server_events(self, received_before: float) -> int:
        deleted = 0
        while True:
            count = await self._write(partial(_delete_some_server_events, before=received_before), bulk=True)
            deleted += count
            if count < DELETE_CHUNK:
                return deleted

    async def trim_server_events(self, server: str, keep: int) -> int:
        deleted = 0
        while True:
            count = await self._write(partial(_trim_some_server_events, server=server, keep=keep), bulk=True)
            deleted += count
            if count < DELETE_CHUNK:
                return deleted

    async def secret(self, name: str) -> bytes:
        made = secrets.token_bytes(32)
        insert = "INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)"
        await self._write(lambda db: db.execute(insert, (name, made)))
        row = await self._read(lambda db: db.execute("SELECT value FROM secrets WHERE name=?", (name,)).fetchone())
        return bytes(row[0])

    async def sign_in(self, server: str) -> str | None:
        row = await self._read(
            lambda db: db.execute("SELECT sealed FROM sign_ins WHERE server=?", (server,)).fetchone()
        )
        return None if row is None else str(row[0])

    async def keep_sign_in(self, server: str, sealed: str, at: float) -> None:
        upsert = (
            "INSERT INTO sign_ins (server, sealed, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (server) DO UPDATE SET sealed=excluded.sealed, updated_at=excluded.updated_at"
        )
        await self._write(lambda db: db.execute(upsert, (server, sealed, at)))

    async def forget_sign_in(self, server: str) -> bool:
        deleted = await self._write(lambda db: db.execute("DELETE FROM sign_ins WHERE server=?", (server,)).rowcount)
        return bool(deleted)

    async def request_cancel(self, job_id: str, at: float) -> Job | None:
        def cancel(db: sqlite3.Connection) -> Any:
            db.execute(
                "UPDATE jobs SET state=?, error=?, finished_at=? WHERE id=? AND state=?",
                (JobState.CANCELLED.value, CANCELLED_BEFORE_START, at, job_id, JobState.QUEUED.value),
            )
            db.execute(
                f"UPDATE jobs SET cancel_requested_at=? WHERE id=? AND cancel_requested_at IS NULL AND {ACTIVE_SQL}",
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
            row = db.execute(f"SELECT id FROM jobs WHERE {CLAIMABLE_SQL} ORDER BY created_at, rowid LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute(
                f"UPDATE jobs SET state={CLAIMED_STATE_SQL.format('?')}, worker=? WHERE id=?",
                (JobState.STARTING.value, worker_id, row[0]),
            )
            return db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (row[0],)).fetchone()

        row = await self._write(claim)
        if row is None:
            return None
        job = job_from_row(row)
        self._publish(*job_news(job.id))
        return job

    async def release_job(self, job_id: str, worker_id: str) -> bool:
        query = f"UPDATE jobs SET worker=NULL WHERE id=? AND worker=? AND task IS NOT NULL AND {ACTIVE_SQL}"
        released = await self._write(lambda db: db.execute(query, (job_id, worker_id)).rowcount)
        if released:
            self._publish(*job_news(job_id), QUEUE)
        return bool(released)

    async def save_job(self, job: Job, events: Sequence[Event] = ()) -> None:
        fields = job_update(job)

        def save(db: sqlite3.Connection) -> None:
            # What is stored already: a retry after a write whose outcome was not seen must not insert twice.
            row = db.execute(
                f"SELECT last_seq FROM jobs WHERE id=? AND worker IS ? AND {WRITABLE_SQL}", (job.id, job.worker)
            ).fetchone()
            if row is None:
                raise JobLost(job.id)
            db.execute(f"UPDATE jobs SET {JOB_UPDATE.format('?')} WHERE id=?", (*fields, job.id))
            rows = event_rows([e for e in events if e.seq > row[0]])
            if rows:
                db.executemany(f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({_marks(EVENT_FIELDS)})", rows)

        began = time.perf_counter()
        await self._write(save)
        metrics.EVENT_WRITE_SECONDS.observe(time.perf_counter() - began)
        metrics.EVENTS_RECORDED.inc(len(events))
        self._publish(*job_news(job.id))

    async def interrupt_jobs_of_lost_workers(self) -> list[str]:
        now = time.time()

        def interrupt(db: sqlite3.Connection) -> list[str]:
            ids: list[str] = []
            lost = db.execute("SELECT id, host, pid, started_at FROM workers WHERE lease_until < ?", (now,))
            for worker in [WorkerInfo(*row) for row in lost.fetchall()]:
                ids += _release_tasks(db, "worker=?", (worker.id,))
                jobs = db.execute(f"SELECT id FROM jobs WHERE worker=? AND {ACTIVE_SQL}", (worker.id,)).fetchall()
                ids += _interrupt(db, [row[0] for row in jobs], lost_worker_error(worker), now)
                ids += _stop_lingering(db, "worker=?", (worker.id,))
                db.execute("DELETE FROM workers WHERE id=?", (worker.id,))
            return ids

        ids = await self._write(interrupt)
        self._publish(*(topic for job_id in ids for topic in job_news(job_id)), QUEUE)
        return ids

    async def interrupt_unfinished(self, error: str, finished_at: float) -> list[str]:
        def interrupt(db: sqlite3.Connection) -> list[str]:
            db.execute("DELETE FROM workers")
            released = _release_tasks(db, "1", ())
            # `cancelling` was a stored state before the queue existed: files of that release may hold it.
            jobs = db.execute(
                f"SELECT id FROM jobs WHERE ({ACTIVE_SQL} OR state='cancelling') AND worker IS NOT NULL"
            ).fetchall()
            interrupted = _interrupt(db, [row[0] for row in jobs], error, finished_at)
            return released + interrupted + _stop_lingering(db, "1", ())

        ids = await self._write(interrupt)
        self._publish(*(topic for job_id in ids for topic in job_news(job_id)), QUEUE)
        return ids

    # -- Answers to a job's questions ----------------------------------------------------------------------

    async def answer_question(self, job_id: str, key: str, answer: Answer) -> bool:
        insert = (
            "INSERT OR IGNORE INTO answers (job_id, key, action, content, answered_at, by) VALUES (?, ?, ?, ?, ?, ?)"
        )
        row = answer_row(job_id, key, answer)
        inserted = await self._write(lambda db: db.execute(insert, row).rowcount)
        if inserted:
            self._publish(answer_topic(job_id))
        return bool(inserted)

    async def answer_of(self, job_id: str, key: str) -> Answer | None:
        query = "SELECT action, content, answered_at, by FROM answers WHERE job_id=? AND key=?"
        row = await self._read(lambda db: db.execute(query, (job_id, key)).fetchone())
        return None if row is None else answer_from_row(row)

    async def answered_keys(self, job_id: str) -> set[str]:
        rows = await self._read(lambda db: db.execute("SELECT key FROM answers WHERE job_id=?", (job_id,)).fetchall())
        return {row[0] for row in rows}


def _interrupt(db: sqlite3.Connection, job_ids: list[str], error: str, finished_at: float) -> list[str]:
    db.executemany(
        "UPDATE jobs SET state=?, error=?, finished_at=? WHERE id=?",
        [(JobState.INTERRUPTED.value, error, finished_at, job_id) for job_id in job_ids],
    )
    return job_ids


def _release_tasks(db: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[str]:
    """Task jobs whose worker is gone are handed over: a worker re-attaches to their task."""
    rows = db.execute(
        f"UPDATE jobs SET worker=NULL WHERE worker IS NOT NULL AND task IS NOT NULL AND {ACTIVE_SQL} AND {where}"
        " RETURNING id",
        params,
    ).fetchall()
    return [row[0] for row in rows]


def _stop_lingering(db: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[str]:
    """Jobs whose worker is gone stop lingering: their state was set when their call returned."""
    rows = db.execute(
        f"UPDATE jobs SET lingering_until=NULL WHERE lingering_until IS NOT NULL AND {where} RETURNING id", params
    ).fetchall()
    return [row[0] for row in rows]


def _delete_some_events(db: sqlite3.Connection, job_id: str) -> int:
    query = "DELETE FROM events WHERE job_id=? AND seq IN (SELECT seq FROM events WHERE job_id=? ORDER BY seq LIMIT ?)"
    return db.execute(query, (job_id, job_id, DELETE_CHUNK)).rowcount


def _delete_some_server_events(db: sqlite3.Connection, before: float) -> int:
    query = (
        "DELETE FROM server_events WHERE (server, seq) IN"
        " (SELECT server, seq FROM server_events WHERE received_at < ? LIMIT ?)"
    )
    return db.execute(query, (before, DELETE_CHUNK)).rowcount


def _trim_some_server_events(db: sqlite3.Connection, server: str, keep: int) -> int:
    query = (
        "DELETE FROM server_events WHERE server=? AND seq IN (SELECT seq FROM server_events WHERE server=?"
        " AND seq <= (SELECT coalesce(max(seq), 0) FROM server_events WHERE server=?) - ? LIMIT ?)"
    )
    return db.execute(query, (server, server, server, keep, DELETE_CHUNK)).rowcount


def _delete_job_row(db: sqlite3.Connection, job_id: str) -> None:
    if db.execute(f"DELETE FROM jobs WHERE id=? AND {ENDED_SQL}", (job_id,)).rowcount:
        db.execute("DELETE FROM answers WHERE job_id=?", (job_id,))


def _transaction(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work(db)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return result


def _busy(exc: sqlite3.OperationalError) -> bool:
    """The file is locked by another connection: the call may go through later."""
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _marks(n: int) -> str:
    return ", ".join("?" * n)
