"""The shared store: PostgreSQL, for any number of web and worker processes on any hosts.

- Jobs and events live in tables; a job's events and fields are written in one transaction, the
  events with COPY.
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
import time
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any

import anyio
import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from webapp.events import Event, Job, JobState
from webapp.hub import JOBS, QUEUE, Hub, cancel_topic, job_topic
from webapp.store import (
    ACTIVE_STATES,
    CANCELLED_BEFORE_START,
    EVENT_COLUMNS,
    JOB_COLUMNS,
    JobLost,
    StoreUnavailable,
    WorkerInfo,
    event_from_row,
    event_rows,
    job_from_row,
    job_row,
    job_update,
    lost_worker_error,
    migrations,
)

log = logging.getLogger(__name__)

CHANNEL = "mcp_live"
MIGRATION_LOCK = 0x6D63706C  # pg_advisory_lock key: "mcpl"
POOL_SIZE = 10
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)
_ACTIVE = "state IN ({})".format(", ".join(f"'{state}'" for state in ACTIVE_STATES))


class PostgresStore:
    def __init__(self, url: str, hub: Hub) -> None:
        self.url = url
        self.hub = hub
        self._pool = AsyncConnectionPool(
            url,
            min_size=2,
            max_size=POOL_SIZE,
            open=False,
            kwargs={"autocommit": True},
            name="mcp-live",
            timeout=10,  # seconds to wait for a connection before a call gives up (StoreUnavailable)
        )
        self._listener_scope = anyio.CancelScope()
        self._listening = anyio.Event()
        self._tg: Any = None

    async def __aenter__(self) -> PostgresStore:
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
                for number, script in migrations("postgres"):
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
        except (psycopg.OperationalError, PoolTimeout) as exc:  # the server restarting, the network gone...
            raise StoreUnavailable(f"the database cannot be reached right now: {exc}") from exc

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
                            self.hub.publish_all()  # news sent while we were away is lost: everyone re-reads
                        attempt = 0
                        self._listening.set()
                        async for notice in conn.notifies():
                            self._hear(notice.payload)
                except psycopg.Error as exc:
                    delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                    log.warning("lost the database's notifications (%s); reconnecting in %g s", exc, delay)
                    attempt += 1
                    await anyio.sleep(delay)

    def _hear(self, topic: str) -> None:
        self.hub.publish(topic)
        if topic.startswith("job:"):
            self.hub.publish(JOBS)

    @staticmethod
    async def _notify(conn: psycopg.AsyncConnection[Any], *topics: str) -> None:
        for topic in topics:
            await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, topic))

    # -- Jobs ----------------------------------------------------------------------------------------

    async def create_job(self, job: Job) -> None:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ({_marks(16)})", job_row(job))
            await self._notify(conn, job_topic(job.id), QUEUE)

    async def get_job(self, job_id: str) -> Job | None:
        async with self._connection() as conn:
            cursor = await conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=%s", (job_id,))
            row = await cursor.fetchone()
        return job_from_row(row) if row else None

    async def list_jobs(self, limit: int = 50) -> list[Job]:
        async with self._connection() as conn:
            cursor = await conn.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY created_at DESC, id DESC LIMIT %s", (limit,)
            )
            rows = await cursor.fetchall()
        return [job_from_row(row) for row in rows]

    async def events_after(self, job_id: str, after: int, limit: int) -> list[Event]:
        async with self._connection() as conn:
            cursor = await conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE job_id=%s AND seq>%s ORDER BY seq LIMIT %s",
                (job_id, after, limit),
            )
            rows = await cursor.fetchall()
        return [event_from_row(row) for row in rows]

    async def job_and_events_after(self, job_id: str, after: int, limit: int) -> tuple[Job | None, list[Event]]:
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")  # one snapshot
            cursor = await conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=%s", (job_id,))
            job = await cursor.fetchone()
            cursor = await conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE job_id=%s AND seq>%s ORDER BY seq LIMIT %s",
                (job_id, after, limit),
            )
            rows = await cursor.fetchall()
        return (job_from_row(job) if job else None), [event_from_row(row) for row in rows]

    async def request_cancel(self, job_id: str, at: float) -> Job | None:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(
                "UPDATE jobs SET state=%s, error=%s, finished_at=%s WHERE id=%s AND state=%s",
                (JobState.CANCELLED.value, CANCELLED_BEFORE_START, at, job_id, JobState.QUEUED.value),
            )
            await conn.execute(
                f"UPDATE jobs SET cancel_requested_at=%s WHERE id=%s AND cancel_requested_at IS NULL AND {_ACTIVE}",
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
                f"UPDATE jobs SET state=%s, worker=%s WHERE id = ("
                "  SELECT id FROM jobs WHERE state=%s ORDER BY created_at, id FOR UPDATE SKIP LOCKED LIMIT 1"
                f") RETURNING {JOB_COLUMNS}",
                (JobState.STARTING.value, worker_id, JobState.QUEUED.value),
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            await self._notify(conn, job_topic(row[0]))
        return job_from_row(row)

    async def save_job(self, job: Job, events: Sequence[Event] = ()) -> None:
        fields = job_update(job)
        async with self._connection() as conn, conn.transaction():
            # The row, locked, with what is stored already: a retry after a commit whose answer was lost
            # (a dropped connection, a cancelled await) must not insert the same events again.
            cursor = await conn.execute(
                f"SELECT last_seq FROM jobs WHERE id=%s AND worker IS NOT DISTINCT FROM %s AND {_ACTIVE} FOR UPDATE",
                (job.id, job.worker),
            )
            row = await cursor.fetchone()
            if row is None:
                raise JobLost(job.id)  # leaving the block rolls the transaction back
            rows = event_rows([e for e in events if e.seq > row[0]])
            await conn.execute(
                "UPDATE jobs SET state=%s, finished_at=%s, progress=%s, total=%s, message=%s, result=%s, error=%s,"
                " last_seq=%s WHERE id=%s",
                (*fields, job.id),
            )
            if rows:
                async with conn.cursor().copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy:
                    for event_row in rows:
                        await copy.write_row(event_row)
            await self._notify(conn, job_topic(job.id))

    async def interrupt_jobs_of_lost_workers(self) -> list[str]:
        now = time.time()
        ids: list[str] = []
        async with self._connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "SELECT id, host, pid, started_at FROM workers WHERE lease_until < now() FOR UPDATE SKIP LOCKED"
            )
            for worker in [WorkerInfo(*row) for row in await cursor.fetchall()]:
                interrupted = await conn.execute(
                    f"UPDATE jobs SET state=%s, error=%s, finished_at=%s WHERE worker=%s AND {_ACTIVE} RETURNING id",
                    (JobState.INTERRUPTED.value, lost_worker_error(worker), now, worker.id),
                )
                ids += [row[0] for row in await interrupted.fetchall()]
                await conn.execute("DELETE FROM workers WHERE id=%s", (worker.id,))
            await self._notify(conn, *(job_topic(job_id) for job_id in ids))
        return ids

    async def interrupt_unfinished(self, error: str, finished_at: float) -> list[str]:
        async with self._connection() as conn, conn.transaction():
            cursor = await conn.execute(
                f"UPDATE jobs SET state=%s, error=%s, finished_at=%s WHERE {_ACTIVE} RETURNING id",
                (JobState.INTERRUPTED.value, error, finished_at),
            )
            ids = [row[0] for row in await cursor.fetchall()]
            await self._notify(conn, *(job_topic(job_id) for job_id in ids))
        return ids


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)
