"""The shared store: PostgreSQL, for any number of web and worker processes on any hosts.

- Jobs and events live in tables; a job's events and fields are written in one statement (see SAVE_JOB).
- Workers take jobs with `FOR UPDATE SKIP LOCKED`: two workers never take the same one.
- News travels with `NOTIFY` inside the writing transaction (so it is heard only once the data is
  there) and every process `LISTEN`s on one connection of its own: a job is picked up and a line
  reaches its viewers in milliseconds. The payload is the hub topic itself.
- Worker leases run on the database's clock, the one clock every host shares.

psycopg 3 with a connection pool; the schema is created or migrated at start, under an advisory
lock so that processes starting together do not race.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import select
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import anyio
import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from webapp import metrics
from webapp.events import Event, Job, JobState
from webapp.hub import JOBS, QUEUE, Hub, answer_topic, cancel_topic, job_topic, server_topic
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
    job_row,
    job_update,
    jobs_where,
    lost_worker_error,
    migrations,
)

log = logging.getLogger(__name__)

CHANNEL = "mcp_live"
MIGRATION_LOCK = 0x6D63706C  # pg_advisory_lock key: "mcpl"
POOL_SIZE = 10  # the default of --db-pool-size
MAX_RECONNECT_DELAY = 1.0  # seconds between the pool's tries to reconnect (psycopg_pool's own doubles unbounded)
# What the database says when it is up but cannot take a write (read-only, disk full, too many clients, shutting
# down): an outage to wait out, like a lost connection, not a bug.
UNAVAILABLE = (
    psycopg.OperationalError,
    PoolTimeout,
    pg_errors.ReadOnlySqlTransaction,
    pg_errors.InsufficientResources,
    pg_errors.AdminShutdown,
    pg_errors.CannotConnectNow,
)
KEEP_WRITTEN = 2000  # events of each running job kept after writing them (see _remember)
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)

# A job's fields and its new events in ONE statement, so one round trip and one implicit transaction: the
# events go in as arrays (unnest), only if the job is still this worker's and active, and an event already
# stored (a retry after a commit whose answer was lost) is skipped by its key. Measured: 0.36 ms a batch,
# against 0.91 ms for the same work as a pipeline of statements; COPY cannot share a statement.
SAVE_JOB = f"""
WITH updated AS (
    UPDATE jobs SET {JOB_UPDATE.format("%s")}
    WHERE id=%s AND worker IS NOT DISTINCT FROM %s AND {WRITABLE_SQL}
    RETURNING {JOB_COLUMNS}
), inserted AS (
    INSERT INTO events ({EVENT_COLUMNS})
    SELECT * FROM unnest(
        %s::text[], %s::bigint[], %s::text[], %s::float8[], %s::text[], %s::text[], %s::text[],
        %s::float8[], %s::float8[], %s::text[], %s::text[], %s::bigint[], %s::text[]
    )
    WHERE EXISTS (SELECT FROM updated)
    ON CONFLICT DO NOTHING
)
SELECT updated.*, pg_notify(%s, %s) FROM updated
"""
# A server's lines outside any job, in one statement with the news of them; a line kept already is skipped.
SAVE_SERVER_EVENTS = f"""
WITH inserted AS (
    INSERT INTO server_events ({SERVER_EVENT_COLUMNS})
    SELECT * FROM unnest(
        %s::text[], %s::bigint[], %s::text[], %s::float8[], %s::text[], %s::text[], %s::text[],
        %s::float8[], %s::float8[], %s::text[], %s::text[], %s::bigint[], %s::text[]
    )
    ON CONFLICT DO NOTHING
)
SELECT pg_notify(%s, %s)
"""
LISTENER_LOCK = 0x6D63706C  # with the server's name hashed: the advisory lock of its listener
# Task jobs whose worker is gone are handed over: a worker re-attaches to their task.
RELEASE_TASKS = (
    f"UPDATE jobs SET worker=NULL WHERE worker IS NOT NULL AND task IS NOT NULL AND {ACTIVE_SQL} AND {{}} RETURNING id"
)
# Jobs whose worker is gone stop lingering: their state was set when their call returned.
STOP_LINGERING = "UPDATE jobs SET lingering_until=NULL WHERE lingering_until IS NOT NULL AND {} RETURNING id"
WRITTEN = "@written"  # ends the NOTIFY of a job's own write, as against a change made by anyone else


@dataclass(slots=True)
class _Written:
    job: Job
    events: deque[Event]


class _CappedBackoff(AttemptWithBackoff):
    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, MAX_RECONNECT_DELAY)


class _Pool(AsyncConnectionPool[Any]):
    """psycopg's pool, retrying a lost database every second rather than after 1, 2, 4, 8, 16 s...: after a 15 s
    outage its next try would come 16 s later, long enough for this worker's lease to lapse (issue 17)."""

    async def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        await super()._add_connection(attempt or _CappedBackoff(timeout=self.reconnect_timeout), growing)


async def still_connected(conn: psycopg.AsyncConnection[Any]) -> None:
    """The pool's check of a connection before it hands it out. The pool's own sends an empty query: a second round
    trip for every write, most of what PostgreSQL added to a line's latency. An idle connection hears nothing from
    its server, though, unless the server is going away (its goodbye, a closed socket): only then is it asked."""
    readable = select.poll()
    readable.register(conn.fileno(), select.POLLIN)
    if readable.poll(0):
        await AsyncConnectionPool.check_connection(conn)  # raises for a dead one: the pool makes a new one


class PostgresStore:
    def __init__(self, url: str, hub: Hub, *, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.hub = hub
        self._pool = _Pool(
            url,
            min_size=min(2, pool_size),
            max_size=pool_size,
            open=False,
            # A connection is checked before it is handed out: after a database restart the pool's connections
            # are all dead, and without this the first requests fail on them.
            check=still_connected,
            # synchronous_commit off: a commit does not wait for its WAL to reach the disk. As SQLite's
            # synchronous=NORMAL here: a crash of the database's host can lose the last moments of events, never
            # corrupt them; and a line no longer waits milliseconds for an fsync.
            kwargs={"autocommit": True, "options": "-c synchronous_commit=off"},
            name="mcp-live",
            timeout=5,  # seconds to wait for a connection before a call gives up (StoreUnavailable)
        )
        self._written: dict[str, _Written] = {}
        self._listener_scope = anyio.CancelScope()
        self._listening = anyio.Event()
        self._tg: Any = None

    async def __aenter__(self) -> Self:
        await self._pool.open(wait=True, timeout=30)
        try:
            await self._migrate()
            self._tg = anyio.create_task_group()
            await self._tg.__aenter__()
            self._tg.start_soon(self._listen, name="postgres listener")
            with anyio.fail_after(30):
                await self._listening.wait()
        except BaseException:
            await self._pool.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._listener_scope.cancel()
        if self._tg is not None:
            await self._tg.__aexit__(None, None, None)
        await self._pool.close()

    async def _migrate(self) -> None:
        async with self._connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
                cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
                row = await cursor.fetchone()
                version = row[0] if row else 0
                known = migrations("postgres")
                if known and version > known[-1][0]:
                    raise SchemaTooNew(version, known[-1][0])
                for number, script in known:
                    if number > version:
                        async with conn.transaction():
                            await conn.execute(script.encode())
                            await conn.execute("INSERT INTO schema_migrations VALUES (%s)", (number,))
                        log.info("database schema migrated to version %d", number)
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        try:
            async with self._pool.connection() as conn:
                yield conn
        except UNAVAILABLE as exc:  # the server restarting, the network gone, read-only, disk full...
            metrics.STORE_ERRORS.inc()
            raise StoreUnavailable(f"the database cannot be used right now: {first_line(exc)}") from exc

    async def ping(self) -> None:
        async with self._connection() as conn:
            await conn.execute("SELECT 1")

    async def count_jobs(self) -> dict[str, int]:
        async with self._connection() as conn:
            cursor = await conn.execute("SELECT state, count(*) FROM jobs GROUP BY state")
            rows = await cursor.fetchall()
        return {state: count for state, count in rows}

    async def check_writable(self) -> None:
        async with self._connection() as conn:
            # Refused by a read-only database, yet writes nothing: the executor checks before it looks for rows.
            await conn.execute("UPDATE workers SET id=id WHERE false")

    # -- What this process has just written --------------------------------------------------------
    #
    # A viewer's feed reads a job's new events right after its worker has written them. When that worker is
    # in this process (`python -m webapp`), the answer is here already: the job's row as the write committed
    # it (the statement returns it, another process's cancel flag included) and its newest events. Someone
    # else's change to the row (a cancel, an interrupt) comes with a plain `job:<id>` NOTIFY and drops the
    # row from here; so does a lost listener. Measured: a read round trip is most of what PostgreSQL adds to
    # a line's way to its viewers.

    def _remember(self, job: Job, events: Sequence[Event]) -> None:
        if job.settled:
            self._written.pop(job.id, None)
            return
        written = self._written.get(job.id)
        if written is None:
            written = self._written[job.id] = _Written(job, deque(maxlen=KEEP_WRITTEN))
        written.job = job
        for event in events:
            if written.events and event.seq != written.events[-1].seq + 1:
                if event.seq <= written.events[-1].seq:
                    continue  # stored by an earlier try of this write
                written.events.clear()  # never a gap in what is served from here
            written.events.append(event)
        if written.events and written.events[-1].seq != job.last_seq:
            written.events.clear()

    def _recall(self, job_id: str, after: int, limit: int) -> tuple[Job, list[Event]] | None:
        written = self._written.get(job_id)
        if written is None:
            return None
        events = written.events
        first = events[0].seq if events else written.job.last_seq + 1
        if after < first - 1:
            return None  # older than what is kept here
        start = after + 1 - first
        return written.job.copy(), [events[i] for i in range(max(start, 0), min(start + limit, len(events)))]

    # -- News ----------------------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Hand every NOTIFY to the hub, on a connection of its own; reconnect when it drops."""
        attempt = 0
        with self._listener_scope:
            while True:
                try:
                    async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                        await conn.execute(f"LISTEN {CHANNEL}")
                        if attempt:
                            log.info("listening to the database again")
                            # News sent while we were away is lost: forget what may be stale, everyone re-reads.
                            self._written.clear()
                            self.hub.publish_all()
                        attempt = 0
                        self._listening.set()
                        async for notice in conn.notifies():
                            self._hear(notice.payload)
                except psycopg.Error as exc:
                    delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                    log.warning("lost the database's notifications (%s); reconnecting in %g s", exc, delay)
                    attempt += 1
                    await anyio.sleep(delay)

    def _hear(self, payload: str) -> None:
        topic = payload.removesuffix(WRITTEN)
        if topic.startswith("job:"):
            if topic == payload:  # changed by someone other than its writer: what is kept here may be stale
                self._written.pop(topic.removeprefix("job:"), None)
            self.hub.publish(JOBS)
        self.hub.publish(topic)

    @staticmethod
    async def _notify(conn: psycopg.AsyncConnection[Any], *topics: str) -> None:
        for topic in topics:
            await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, topic))

    # -- Jobs ----------------------------------------------------------------------------------------

    async def create_job(self, job: Job) -> None:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({_marks(JOB_FIELDS)})", job_row(job))
            await self._notify(conn, job_topic(job.id), QUEUE)

    async def get_job(self, job_id: str) -> Job | None:
        async with self._connection() as conn:
            cursor = await conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=%s", (job_id,))
            row = await cursor.fetchone()
        return job_from_row(row) if row else None

    async def list_jobs(self, limit: int = 50, *, state: str | None = None, tool: str | None = None) -> list[Job]:
        where, params = jobs_where(state, tool, "%s")
        async with self._connection() as conn:
            cursor = await conn.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs{where} ORDER BY created_at DESC, id DESC LIMIT %s", (*params, limit)
            )
            rows = await cursor.fetchall()
        return [job_from_row(row) for row in rows]

    async def events_after(self, job_id: str, after: int, limit: int, only: EventFilter | None = None) -> list[Event]:
        where, params = only.sql("%s", "ILIKE", "~*") if only else ("", [])
        async with self._connection() as conn:
            cursor = await conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE job_id=%s AND seq>%s{where} ORDER BY seq LIMIT %s",
                (job_id, after, *params, limit),
            )
            rows = await cursor.fetchall()
        return [event_from_row(row) for row in rows]

    async def events_before(self, job_id: str, before: int, limit: int, only: EventFilter | None = None) -> list[Event]:
        where, params = only.sql("%s", "ILIKE", "~*") if only else ("", [])
        async with self._connection() as conn:
            cursor = await conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE job_id=%s AND seq<%s{where} ORDER BY seq DESC LIMIT %s",
                (job_id, before, *params, limit),
            )
            rows = await cursor.fetchall()
        return [event_from_row(row) for row in reversed(rows)]

    async def count_events(self, job_id: str, upto: int) -> EventCounts:
        async with self._connection() as conn:
            cursor = await conn.execute(COUNT_SQL.format("%s"), (job_id, upto))
            rows = await cursor.fetchall()
        return counts_from_rows(rows)

    async def count_matching(self, job_id: str, upto: int, only: EventFilter) -> int:
        where, params = only.sql("%s", "ILIKE", "~*")
        async with self._connection() as conn:
            cursor = await conn.execute(MATCHING_SQL.format("%s") + where, (job_id, upto, *params))
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def job_and_events_after(self, job_id: str, after: int, limit: int) -> tuple[Job | None, list[Event]]:
        recalled = self._recall(job_id, after, limit)
        if recalled is not None:
            return recalled
        async with self._connection() as conn, conn.pipeline():
            # Both in one round trip, the job first: a job read as ended has all of its events stored already.
            job_cursor = await conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=%s", (job_id,))
            events_cursor = await conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE job_id=%s AND seq>%s ORDER BY seq LIMIT %s",
                (job_id, after, limit),
            )
            job = await job_cursor.fetchone()
            rows = await events_cursor.fetchall()
        return (job_from_row(job) if job else None), [event_from_row(row) for row in rows]

    async def count_queued(self) -> int:
        async with self._connection() as conn:
            cursor = await conn.execute("SELECT count(*) FROM jobs WHERE state='queued'")
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def delete_job(self, job_id: str) -> bool | None:
        async with self._connection() as conn:
            cursor = await conn.execute("SELECT state, lingering_until FROM jobs WHERE id=%s", (job_id,))
            row = await cursor.fetchone()
        if row is None:
            return None
        if not is_settled(*row):
            return False
        await self._delete([job_id])
        return True

    async def delete_ended_jobs(self, finished_before: float | None, keep: int | None) -> int:
        ids: set[str] = set()
        async with self._connection() as conn:
            if finished_before is not None:
                cursor = await conn.execute(
                    f"SELECT id FROM jobs WHERE {ENDED_SQL} AND finished_at < %s", (finished_before,)
                )
                ids.update(row[0] for row in await cursor.fetchall())
            if keep is not None:
                cursor = await conn.execute(
                    f"SELECT id FROM jobs WHERE {ENDED_SQL} ORDER BY finished_at DESC, id DESC OFFSET %s", (keep,)
                )
                ids.update(row[0] for row in await cursor.fetchall())
        await self._delete(sorted(ids))
        return len(ids)

    async def _delete(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            async with self._connection() as conn:
                while True:
                    cursor = await conn.execute(
                        "DELETE FROM events WHERE job_id=%s AND seq IN"
                        " (SELECT seq FROM events WHERE job_id=%s ORDER BY seq LIMIT %s)",
                        (job_id, job_id, DELETE_CHUNK),
                    )
                    if cursor.rowcount < DELETE_CHUNK:
                        break
                async with conn.transaction():
                    deleted = await conn.execute(f"DELETE FROM jobs WHERE id=%s AND {ENDED_SQL}", (job_id,))
                    if deleted.rowcount:
                        await conn.execute("DELETE FROM answers WHERE job_id=%s", (job_id,))
                    await self._notify(conn, job_topic(job_id))

    # -- Lines a server sends outside any job ------------------------------------------------------------

    async def save_server_events(self, server: str, events: Sequence[Event]) -> None:
        columns = [list(column) for column in zip(*event_rows(events), strict=True)]
        if not columns:
            return
        async with self._connection() as conn:
            await conn.execute(SAVE_SERVER_EVENTS, (*columns, CHANNEL, server_topic(server)), prepare=True)

    async def server_events_after(
        self, server: str, after: int, limit: int, only: EventFilter | None = None
    ) -> list[Event]:
        where, params = only.sql("%s", "ILIKE", "~*") if only else ("", [])
        async with self._connection() as conn:
            cursor = await conn.execute(
                f"SELECT {SERVER_EVENT_COLUMNS} FROM server_events WHERE server=%s AND seq>%s{where}"
                " ORDER BY seq LIMIT %s",
                (server, after, *params, limit),
            )
            rows = await cursor.fetchall()
        return [event_from_row(row) for row in rows]

    async def last_server_seq(self, server: str) -> int:
        async with self._connection() as conn:
            cursor = await conn.execute("SELECT coalesce(max(seq), 0) FROM server_events WHERE server=%s", (server,))
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    @contextlib.asynccontextmanager
    async def listening_to(self, server: str) -> AsyncIterator[bool]:
        # An advisory lock, held by a connection of its own: it goes with the connection, should the process die.
        try:
            conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"the database cannot be reached right now: {exc}") from exc
        async with conn:
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LISTENER_LOCK, server))
            row = await cursor.fetchone()
            yield bool(row and row[0])

    async def delete_server_events(self, received_before: float) -> int:
        deleted = 0
        async with self._connection() as conn:
            while True:
                cursor = await conn.execute(
                    "DELETE FROM server_events WHERE (server, seq) IN"
                    " (SELECT server, seq FROM server_events WHERE received_at < %s LIMIT %s)",
                    (received_before, DELETE_CHUNK),
                )
                deleted += cursor.rowcount
                if cursor.rowcount < DELETE_CHUNK:
                    return deleted

    async def trim_server_events(self, server: str, keep: int) -> int:
        deleted = 0
        async with self._connection() as conn:
            while True:
                cursor = await conn.execute(
                    "DELETE FROM server_events WHERE server=%s AND seq IN (SELECT seq FROM server_events WHERE"
                    " server=%s AND seq <= (SELECT coalesce(max(seq), 0) FROM server_events WHERE server=%s) - %s"
                    " LIMIT %s)",
                    (server, server, server, keep, DELETE_CHUNK),
                )
                deleted += cursor.rowcount
                if cursor.rowcount < DELETE_CHUNK:
                    return deleted

    async def secret(self, name: str) -> bytes:
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO secrets (name, value) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                (name, secrets.token_bytes(32)),
            )
            cursor = await conn.execute("SELECT value FROM secrets WHERE name=%s", (name,))
            row = await cursor.fetchone()
        assert row is not None
        return bytes(row[0])

    async def sign_in(self, server: str) -> str | None:
        async with self._connection() as conn:
            cursor = await conn.execute("SELECT sealed FROM sign_ins WHERE server=%s", (server,))
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def keep_sign_in(self, server: str, sealed: str, at: float) -> None:
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO sign_ins (server, sealed, updated_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (server) DO UPDATE SET sealed=excluded.sealed, updated_at=excluded.updated_at",
                (server, sealed, at),
            )

    async def forget_sign_in(self, server: str) -> bool:
        async with self._connection() as conn:
            cursor = await conn.execute("DELETE FROM sign_ins WHERE server=%s", (server,))
            return cursor.rowcount > 0

    async def request_cancel(self, job_id: str, at: float) -> Job | None:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(
                "UPDATE jobs SET state=%s, error=%s, finished_at=%s WHERE id=%s AND state=%s",
                (JobState.CANCELLED.value, CANCELLED_BEFORE_START, at, job_id, JobState.QUEUED.value),
            )
            await conn.execute(
                f"UPDATE jobs SET cancel_requested_at=%s WHERE id=%s AND cancel_requested_at IS NULL AND {ACTIVE_SQL}",
                (at, job_id),
            )
            cursor = await conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=%s", (job_id,))
            row = await cursor.fetchone()
            if row is not None:
                await self._notify(conn, job_topic(job_id), cancel_topic(job_id))
        return job_from_row(row) if row else None

    # -- Workers -------------------------------------------------------------------------------------

    async def renew_lease(self, worker: WorkerInfo, lease_seconds: float) -> None:
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO workers VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s))"
                " ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until",
                (worker.id, worker.host, worker.pid, worker.started_at, lease_seconds),
            )

    async def unregister_worker(self, worker_id: str) -> None:
        async with self._connection() as conn:
            await conn.execute("DELETE FROM workers WHERE id=%s", (worker_id,))

    async def claim_job(self, worker_id: str) -> Job | None:
        async with self._connection() as conn, conn.transaction():
            cursor = await conn.execute(
                f"UPDATE jobs SET state={CLAIMED_STATE_SQL.format('%s')}, worker=%s WHERE id = ("
                f"  SELECT id FROM jobs WHERE {CLAIMABLE_SQL} ORDER BY created_at, id FOR UPDATE SKIP LOCKED LIMIT 1"
                f") RETURNING {JOB_COLUMNS}",
                (JobState.STARTING.value, worker_id),
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            await self._notify(conn, job_topic(row[0]))
        return job_from_row(row)

    async def release_job(self, job_id: str, worker_id: str) -> bool:
        async with self._connection() as conn, conn.transaction():
            cursor = await conn.execute(
                f"UPDATE jobs SET worker=NULL WHERE id=%s AND worker=%s AND task IS NOT NULL AND {ACTIVE_SQL}",
                (job_id, worker_id),
            )
            released = cursor.rowcount > 0
            if released:
                await self._notify(conn, job_topic(job_id), QUEUE)
        self._written.pop(job_id, None)
        return released

    async def save_job(self, job: Job, events: Sequence[Event] = ()) -> None:
        began = time.perf_counter()
        columns = [list(column) for column in zip(*event_rows(events), strict=True)] or [
            [] for _ in range(EVENT_FIELDS)
        ]
        topic = job_topic(job.id) + WRITTEN
        async with self._connection() as conn:
            cursor = await conn.execute(
                SAVE_JOB, (*job_update(job), job.id, job.worker, *columns, CHANNEL, topic), prepare=True
            )
            row = await cursor.fetchone()
        if row is None:
            self._written.pop(job.id, None)
            raise JobLost(job.id)
        metrics.EVENT_WRITE_SECONDS.observe(time.perf_counter() - began)
        metrics.EVENTS_RECORDED.inc(len(events))
        self._remember(job_from_row(row), events)
        # Wake this process's readers now that it is remembered: its NOTIFY may have come back before this
        # call returned, and woken a reader that then found the write not here yet, and went back to sleep.
        self.hub.publish(job_topic(job.id))

    async def interrupt_jobs_of_lost_workers(self) -> list[str]:
        now = time.time()
        ids: list[str] = []
        async with self._connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "SELECT id, host, pid, started_at FROM workers WHERE lease_until < now() FOR UPDATE SKIP LOCKED"
            )
            for worker in [WorkerInfo(*row) for row in await cursor.fetchall()]:
                released = await conn.execute(RELEASE_TASKS.format("worker=%s"), (worker.id,))
                ids += [row[0] for row in await released.fetchall()]
                interrupted = await conn.execute(
                    f"UPDATE jobs SET state=%s, error=%s, finished_at=%s WHERE worker=%s AND {ACTIVE_SQL} RETURNING id",
                    (JobState.INTERRUPTED.value, lost_worker_error(worker), now, worker.id),
                )
                ids += [row[0] for row in await interrupted.fetchall()]
                lingering = await conn.execute(STOP_LINGERING.format("worker=%s"), (worker.id,))
                ids += [row[0] for row in await lingering.fetchall()]
                await conn.execute("DELETE FROM workers WHERE id=%s", (worker.id,))
            await self._notify(conn, *(job_topic(job_id) for job_id in ids), *((QUEUE,) if ids else ()))
        return ids

    async def interrupt_unfinished(self, error: str, finished_at: float) -> list[str]:
        async with self._connection() as conn, conn.transaction():
            released = await conn.execute(RELEASE_TASKS.format("TRUE"))
            ids = [row[0] for row in await released.fetchall()]
            cursor = await conn.execute(
                f"UPDATE jobs SET state=%s, error=%s, finished_at=%s WHERE {ACTIVE_SQL} AND worker IS NOT NULL"
                " RETURNING id",
                (JobState.INTERRUPTED.value, error, finished_at),
            )
            ids += [row[0] for row in await cursor.fetchall()]
            lingering = await conn.execute(STOP_LINGERING.format("TRUE"))
            ids += [row[0] for row in await lingering.fetchall()]
            await self._notify(conn, *(job_topic(job_id) for job_id in ids), QUEUE)
        return ids

    # -- Answers to a job's questions ----------------------------------------------------------------------

    async def answer_question(self, job_id: str, key: str, answer: Answer) -> bool:
        async with self._connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "INSERT INTO answers (job_id, key, action, content, answered_at, by) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                answer_row(job_id, key, answer),
            )
            inserted = cursor.rowcount > 0
            if inserted:
                await self._notify(conn, answer_topic(job_id))
        return inserted

    async def answer_of(self, job_id: str, key: str) -> Answer | None:
        async with self._connection() as conn:
            cursor = await conn.execute(
                "SELECT action, content, answered_at, by FROM answers WHERE job_id=%s AND key=%s", (job_id, key)
            )
            row = await cursor.fetchone()
        return None if row is None else answer_from_row(row)

    async def answered_keys(self, job_id: str) -> set[str]:
        async with self._connection() as conn:
            cursor = await conn.execute("SELECT key FROM answers WHERE job_id=%s", (job_id,))
            rows = await cursor.fetchall()
        return {row[0] for row in rows}


def first_line(exc: BaseException) -> str:
    """What the database said, on one line: its message may go on with hints and context."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)
