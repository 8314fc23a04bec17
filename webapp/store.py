"""Where jobs and their events are kept.

`Store` is the small interface the rest of the app uses; `SQLiteStore` is the embedded default.
Another backend (one several dashboard processes can share) implements the same five calls.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from webapp.events import Event, Job, JobState, json_safe

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL,
    progress REAL,
    total REAL,
    message TEXT,
    result TEXT,
    error TEXT,
    idle_timeout REAL,
    max_duration REAL,
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_age ON jobs (created_at DESC);
CREATE TABLE IF NOT EXISTS events (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    received_at REAL NOT NULL,
    level TEXT,
    logger TEXT,
    data TEXT,
    progress REAL,
    total REAL,
    message TEXT,
    note TEXT,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
"""

_JOB_COLUMNS = (
    "id, tool, arguments, state, created_at, finished_at, progress, total, message, result, error,"
    " idle_timeout, max_duration, last_seq"
)
_EVENT_COLUMNS = "job_id, seq, kind, received_at, level, logger, data, progress, total, message, note"


class Store(Protocol):
    """Persistence for jobs and their events. Events of a job are only ever appended, in seq order."""

    async def create_job(self, job: Job) -> None: ...

    async def save_job(self, job: Job, events: Sequence[Event] = ()) -> None:
        """Persist the job's current fields and append `events`, atomically."""

    async def get_job(self, job_id: str) -> Job | None: ...

    async def list_jobs(self, limit: int = 50) -> list[Job]:
        """Newest first."""

    async def events_after(self, job_id: str, after: int, limit: int) -> list[Event]:
        """Events with seq > after, in seq order, at most `limit`."""

    async def interrupt_unfinished(self, error: str, finished_at: float) -> list[str]:
        """Mark every job that is not in a terminal state `interrupted`; return their ids."""

    def close(self) -> None: ...


class SQLiteStore:
    """A `Store` in one SQLite file (WAL mode).

    Calls run on the event loop's thread: each is a short indexed statement, and the job runner
    writes events in batches, so a thread hop would cost more than it saves.
    """

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives an application crash; only a power cut can lose the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    async def create_job(self, job: Job) -> None:
        with self._transaction():
            self._db.execute(f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({_marks(14)})", _job_row(job))

    async def save_job(self, job: Job, events: Sequence[Event] = ()) -> None:
        with self._transaction():
            if events:
                self._db.executemany(
                    f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES ({_marks(11)})", [_event_row(e) for e in events]
                )
            self._db.execute(
                "UPDATE jobs SET state=?, finished_at=?, progress=?, total=?, message=?, result=?, error=?,"
                " last_seq=? WHERE id=?",
                (
                    job.state.value,
                    job.finished_at,
                    job.progress,
                    job.total,
                    job.message,
                    None if job.result is None else _dumps(job.result),
                    job.error,
                    job.last_seq,
                    job.id,
                ),
            )

    async def get_job(self, job_id: str) -> Job | None:
        row = self._db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
        return _job_from_row(row) if row else None

    async def list_jobs(self, limit: int = 50) -> list[Job]:
        rows = self._db.execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)
        ).fetchall()
        return [_job_from_row(row) for row in rows]

    async def events_after(self, job_id: str, after: int, limit: int) -> list[Event]:
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE job_id=? AND seq>? ORDER BY seq LIMIT ?",
            (job_id, after, limit),
        ).fetchall()
        return [_event_from_row(row) for row in rows]

    async def interrupt_unfinished(self, error: str, finished_at: float) -> list[str]:
        unfinished = [s.value for s in JobState if not s.is_terminal]
        with self._transaction():
            ids = [
                row[0]
                for row in self._db.execute(
                    f"SELECT id FROM jobs WHERE state IN ({_marks(len(unfinished))})", unfinished
                ).fetchall()
            ]
            self._db.executemany(
                "UPDATE jobs SET state=?, error=?, finished_at=? WHERE id=?",
                [(JobState.INTERRUPTED.value, error, finished_at, job_id) for job_id in ids],
            )
        return ids

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN or infinity from the server: keep them, as text
        return json.dumps(json_safe(value), ensure_ascii=False)


def _job_row(job: Job) -> tuple[Any, ...]:
    return (
        job.id,
        job.tool,
        _dumps(job.arguments),
        job.state.value,
        job.created_at,
        job.finished_at,
        job.progress,
        job.total,
        job.message,
        None if job.result is None else _dumps(job.result),
        job.error,
        job.idle_timeout,
        job.max_duration,
        job.last_seq,
    )


def _job_from_row(row: tuple[Any, ...]) -> Job:
    return Job(
        id=row[0],
        tool=row[1],
        arguments=json.loads(row[2]),
        state=JobState(row[3]),
        created_at=row[4],
        finished_at=row[5],
        progress=row[6],
        total=row[7],
        message=row[8],
        result=None if row[9] is None else json.loads(row[9]),
        error=row[10],
        idle_timeout=row[11],
        max_duration=row[12],
        last_seq=row[13],
    )


def _event_row(e: Event) -> tuple[Any, ...]:
    data = None if e.kind != "log" else _dumps(e.data)
    return (e.job_id, e.seq, e.kind, e.received_at, e.level, e.logger, data, e.progress, e.total, e.message, e.note)


def _event_from_row(row: tuple[Any, ...]) -> Event:
    return Event(
        job_id=row[0],
        seq=row[1],
        kind=row[2],
        received_at=row[3],
        level=row[4],
        logger=row[5],
        data=None if row[6] is None else json.loads(row[6]),
        progress=row[7],
        total=row[8],
        message=row[9],
        note=row[10],
    )
