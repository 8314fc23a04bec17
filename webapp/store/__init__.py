"""Where jobs and their events are kept, how workers share the queue, and how processes hear of changes.

`Store` is the one interface the rest of the app uses; `open_store(db, hub)` picks the backend from `--db`:

- a file path: SQLite (`sqlite.py`), the embedded default, for one dashboard process;
- a `postgresql://` URL: PostgreSQL (`postgres.py`), shared by any number of web and worker processes.

Every backend keeps the same contract (tests/unit/test_store_contract.py runs it on both): events of a job are
appended in seq order and never change; `save_job` stores events and the job's fields atomically; after each
commit the store publishes the matching hub topics (see `webapp.hub`) in every process that uses it.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import re2

from webapp.events import LEVELS, Event, Job, JobState, Question, TaskInfo, json_text
from webapp.hub import JOBS, Hub, job_topic

MIGRATIONS = Path(__file__).parent / "migrations"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

# States a worker may still write over; anything else is settled. `cancelling` is never stored: it is
# `running` (or `input_required`) with a cancel asked for (see `Job.cancel_requested`).
ACTIVE_STATES = (JobState.STARTING.value, JobState.RUNNING.value, JobState.INPUT_REQUIRED.value)
ENDED_STATES = tuple(state.value for state in JobState if state.is_terminal)
ACTIVE_SQL = "state IN ({})".format(", ".join(f"'{state}'" for state in ACTIVE_STATES))
# Settled: ended, and no longer lingering (a job's state is set when its call returns; its worker may still be
# recording what the server sends late, until `lingering_until` is cleared).
ENDED_SQL = "state IN ({}) AND lingering_until IS NULL".format(", ".join(f"'{state}'" for state in ENDED_STATES))
WRITABLE_SQL = f"({ACTIVE_SQL} OR lingering_until IS NOT NULL)"  # what the job's worker may still write
# A task job whose worker is gone (stopped and handed it over, or lost): any worker may re-attach to its task.
REATTACH_SQL = f"worker IS NULL AND task IS NOT NULL AND {ACTIVE_SQL}"
# What a worker takes: the oldest queued job, or task job to re-attach to. A re-attached job keeps its state.
CLAIMABLE_SQL = f"(state='queued' OR ({REATTACH_SQL}))"
CLAIMED_STATE_SQL = "CASE WHEN state='queued' THEN {0} ELSE state END"  # .format(the driver's placeholder)
DELETE_CHUNK = 5000  # events deleted per transaction: a job of millions must not hold the store for long
CANCELLED_BEFORE_START = "cancelled by the user before it started"


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to read, run in the store's SQL so that it works on a job of any size. Parts combine with AND.

    `levels`: log lines of these levels only (events without a level drop out). `min_level`: log lines at this level
    or more severe (syslog order: debug < info < ... < emergency); with `levels`, both must hold. `kinds`: these
    kinds only.
    `logger`: that logger or one below it (`demo` takes `demo` and `demo.job`). `q`: case-insensitive text in the
    line's data, logger or progress message; with `regex`, a regular expression (RE2's syntax, which runs in linear
    time: no pattern can stall the store; see `pattern`)."""

    levels: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    logger: str | None = None
    q: str | None = None
    regex: bool = False
    min_level: str | None = None

    def __bool__(self) -> bool:
        return bool(self.levels or self.kinds or self.logger or self.q or self.min_level)

    @property
    def severe_enough(self) -> tuple[str, ...]:
        """The levels `min_level` lets through (all of them without one)."""
        return LEVELS[LEVELS.index(self.min_level) :] if self.min_level in LEVELS else LEVELS

    def sql(self, mark: str, like: str, regexp: str) -> tuple[str, list[Any]]:
        """` AND ...` to add to a WHERE, and its parameters; `mark` is the driver's placeholder, `like` the
        case-insensitive LIKE of the backend (SQLite's LIKE is, for ASCII; PostgreSQL's ILIKE), `regexp` its
        case-insensitive regular expression match (SQLite: the REGEXP we register; PostgreSQL: ~*)."""
        parts: list[str] = []
        params: list[Any] = []
        if self.levels:
            parts.append(f"kind='log' AND level IN ({', '.join([mark] * len(self.levels))})")
            params += self.levels
        if self.min_level:
            parts.append(f"kind='log' AND level IN ({', '.join([mark] * len(self.severe_enough))})")
            params += self.severe_enough
        if self.kinds:
            parts.append(f"kind IN ({', '.join([mark] * len(self.kinds))})")
            params += self.kinds
        if self.logger:
            parts.append(f"(logger={mark} OR logger {like} {mark} ESCAPE '\\')")
            params += [self.logger, like_pattern(self.logger + ".", prefix=True)]
        if self.q and self.regex:
            parts.append(f"(data {regexp} {mark} OR logger {regexp} {mark} OR message {regexp} {mark})")
            params += [self.q] * 3
        elif self.q:
            pattern = like_pattern(self.q)
            parts.append(
                f"(data {like} {mark} ESCAPE '\\' OR logger {like} {mark} ESCAPE '\\'"
                f" OR message {like} {mark} ESCAPE '\\')"
            )
            params += [pattern, pattern, pattern]
        return "".join(f" AND {part}" for part in parts), params

    def matches(self, event: Event) -> bool:
        """The same test in Python, for a line on its way to a filtered live view."""
        if self.levels and not (event.kind == "log" and event.level in self.levels):
            return False
        if self.min_level and not (event.kind == "log" and event.level in self.severe_enough):
            return False
        if self.kinds and event.kind not in self.kinds:
            return False
        if self.logger and not (event.logger == self.logger or (event.logger or "").startswith(self.logger + ".")):
            return False
        if self.q:
            texts = [text for text in (data_text(event), event.logger, event.message) if text is not None]
            if self.regex:
                found = pattern(self.q)
                return any(found.search(text) for text in texts)
            wanted = self.q.casefold()
            return any(wanted in text.casefold() for text in texts)
        return True


def data_text(event: Event) -> str | None:
    """The data as the store keeps it (its JSON text), which `q` searches."""
    if event.data is None:
        return None
    return event.data_json if event.data_json is not None else json_text(event.data)


class BadPattern(ValueError):
    """A `regex=1` search that is no regular expression RE2 can run."""


@functools.lru_cache(maxsize=64)
def pattern(text: str) -> Any:
    """`text` compiled by RE2, case-insensitive: matching takes time linear in the text, whatever the pattern."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    try:
        return re2.compile(text, options)
    except re2.error as exc:
        message = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise BadPattern(f"q is not a regular expression this dashboard can run: {message}") from None


def regexp(expression: str, value: str | None) -> bool:
    """SQLite's `value REGEXP expression`."""
    return value is not None and pattern(expression).search(value) is not None


def is_settled(state: str, lingering_until: float | None) -> bool:
    """A stored job's state and linger: ended, and no longer listening (what may be deleted)."""
    return state in ENDED_STATES and lingering_until is None


def jobs_where(state: str | None, tool: str | None, mark: str) -> tuple[str, list[Any]]:
    """A WHERE for list_jobs. `cancelling` is a state as shown, not as stored: running, with a cancel asked for."""
    parts: list[str] = []
    params: list[Any] = []
    if state == JobState.CANCELLING.value:
        parts.append(f"{ACTIVE_SQL} AND cancel_requested_at IS NOT NULL")
    elif state is not None:
        parts.append(f"state={mark}")
        params.append(state)
        if state in ACTIVE_STATES:
            parts.append("cancel_requested_at IS NULL")
    if tool is not None:
        parts.append(f"tool={mark}")
        params.append(tool)
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


def like_pattern(text: str, *, prefix: bool = False) -> str:
    """`text` as a LIKE pattern that matches it literally: anywhere, or (`prefix`) at the start."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%" if prefix else f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class EventCounts:
    """A job's log lines by level and its events by kind: what the log's filter toggles show."""

    by_level: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)


def counts_from_rows(rows: Sequence[Sequence[Any]]) -> EventCounts:
    """From (kind, level, count) rows grouped by kind and level."""
    counts = EventCounts()
    for kind, level, count in rows:
        counts.by_kind[kind] = counts.by_kind.get(kind, 0) + count
        if kind == "log" and level is not None:
            counts.by_level[level] = counts.by_level.get(level, 0) + count
    return counts


async def counts_of(store: Store, job: Job) -> EventCounts:
    """The job's counts, as kept with it while its events came; counted from its events for a job from before
    they were kept."""
    if job.kind_counts or not job.last_seq:
        return EventCounts(dict(job.level_counts), dict(job.kind_counts))
    return await store.count_events(job.id, job.last_seq)


COUNT_SQL = "SELECT kind, level, count(*) FROM events WHERE job_id={0} AND seq<={0} GROUP BY kind, level"
MATCHING_SQL = "SELECT count(*) FROM events WHERE job_id={0} AND seq<={0}"


@dataclass(frozen=True, slots=True)
class Answer:
    """What answers a question: a person's (`by` "person"), or the decline of a question left unanswered (`by`
    "timeout"). The first answer stored for a question is the one."""

    action: str
    content: dict[str, Any] | None
    answered_at: float
    by: str = "person"


def answer_row(job_id: str, key: str, answer: Answer) -> tuple[Any, ...]:
    content = None if answer.content is None else json_text(answer.content)
    return (job_id, key, answer.action, content, answer.answered_at, answer.by)


def answer_from_row(row: Sequence[Any]) -> Answer:
    return Answer(row[0], None if row[1] is None else json.loads(row[1]), row[2], row[3])


class StoreUnavailable(Exception):
    """The store cannot be reached or used right now (a database restarting, a file locked too long).
    What was asked may be retried; nothing was half done."""


class SchemaTooNew(Exception):
    """The database's schema is newer than this code knows: a newer version migrated it. Running on would write
    rows that code does not expect; upgrade this process instead (see docs/deploying.md)."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"the database's schema is at version {found}, newer than this version of MCP Live knows ({known}): "
            "a newer MCP Live has migrated it. Upgrade this installation, or point it at another database."
        )
        self.found = found
        self.known = known


class JobLost(Exception):
    """The job is no longer this worker's to write: another process settled it (e.g. its lease lapsed)."""


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker process, as other processes see it while it holds its lease."""

    id: str
    host: str
    pid: int
    started_at: float

    def describe(self) -> str:
        return f"{self.id} on {self.host} (pid {self.pid})"


def lost_worker_error(worker: WorkerInfo) -> str:
    return f"the worker {worker.describe()} was lost while running the job: it stopped renewing its lease"


class Store(Protocol):
    """Persistence for jobs and events, the job queue and worker leases."""

    hub: Hub  # where it publishes what changed

    # -- Jobs as people and scripts see them --------------------------------------------------------

    async def create_job(self, job: Job) -> None:
        """Insert a `queued` job; wakes workers (`queue`) and lists (`jobs`)."""

    async def get_job(self, job_id: str) -> Job | None: ...

    async def list_jobs(self, limit: int = 50, *, state: str | None = None, tool: str | None = None) -> list[Job]:
        """Newest first; with `state` or `tool`, only jobs in that state (as shown) or of that tool."""

    async def events_after(self, job_id: str, after: int, limit: int, only: EventFilter | None = None) -> list[Event]:
        """Events with seq > after, in seq order, at most `limit`; with `only`, those it lets through."""

    async def events_before(self, job_id: str, before: int, limit: int, only: EventFilter | None = None) -> list[Event]:
        """The newest `limit` events with seq < before (that `only` lets through), in seq order: a page of older
        lines."""

    async def count_events(self, job_id: str, upto: int) -> EventCounts:
        """The job's events up to seq `upto`, counted by kind and its log lines by level (see `counts_of`)."""

    async def count_matching(self, job_id: str, upto: int, only: EventFilter) -> int:
        """How many of the job's events up to seq `upto` `only` lets through."""

    async def job_and_events_after(self, job_id: str, after: int, limit: int) -> tuple[Job | None, list[Event]]:
        """The job and its events after `after`, as one snapshot: the job's fields match those events."""

    async def count_queued(self) -> int:
        """Jobs waiting for a worker."""

    async def delete_job(self, job_id: str) -> bool | None:
        """Delete an ended job and its events: True. A job not ended yet, or still lingering, is left alone: False.
        None: no such job."""

    async def delete_ended_jobs(self, finished_before: float | None, keep: int | None) -> int:
        """Retention: delete ended jobs that finished before `finished_before`, and all but the newest `keep`
        ended ones; return how many went."""

    # -- Lines a server sends outside any job ------------------------------------------------------------

    async def save_server_events(self, server: str, events: Sequence[Event]) -> None:
        """Keep lines `server` sent outside any job (their `job_id` is the server's name, their seq its log's own);
        wakes `server:<name>`. Writing a seq kept already is a no-op."""

    async def server_events_after(
        self, server: str, after: int, limit: int, only: EventFilter | None = None
    ) -> list[Event]:
        """The server's lines with seq > after, in seq order, at most `limit`; with `only`, those it lets through."""

    async def last_server_seq(self, server: str) -> int:
        """The seq of the server's newest line kept (0: none)."""

    def listening_to(self, server: str) -> contextlib.AbstractAsyncContextManager[bool]:
        """Whether this process is the one to listen to `server` outside jobs, for the block's length: one
        process at a time, so the server's log has one writer."""

    async def delete_server_events(self, received_before: float) -> int:
        """Retention: delete server lines received before `received_before`; return how many went."""

    async def trim_server_events(self, server: str, keep: int) -> int:
        """Delete all but the newest `keep` lines of `server` (--max-server-lines); return how many went."""

    # -- Secrets the processes share -------------------------------------------------------------------

    async def secret(self, name: str) -> bytes:
        """A random 32-byte secret by this name, made on first use; every process that asks gets the same one."""

    # -- Sign-ins to servers (sealed by webapp.oauth.sealing: the store never sees a token in the clear) ----

    async def sign_in(self, server: str) -> str | None:
        """The sealed sign-in kept for `server`, or None."""

    async def keep_sign_in(self, server: str, sealed: str, at: float) -> None:
        """Keep (or replace) the sealed sign-in of `server`."""

    async def forget_sign_in(self, server: str) -> bool:
        """Forget the sign-in of `server`; whether there was one."""

    async def request_cancel(self, job_id: str, at: float) -> Job | None:
        """Ask for the job to stop. A queued job is cancelled at once; a running one is flagged for its
        worker (`cancel:<id>`) and reads `cancelling` until the worker ends it. None: no such job."""

    # -- Answers to a job's questions ----------------------------------------------------------------------

    async def answer_question(self, job_id: str, key: str, answer: Answer) -> bool:
        """Keep the answer to question `key` of the job, unless it has one already (False); wakes the job's worker
        (`answer:<id>`)."""

    async def answer_of(self, job_id: str, key: str) -> Answer | None: ...

    async def answered_keys(self, job_id: str) -> set[str]:
        """The keys of the job's questions that have an answer (its worker may not have taken it yet)."""

    # -- Workers -------------------------------------------------------------------------------------

    async def renew_lease(self, worker: WorkerInfo, lease_seconds: float) -> None:
        """Register the worker, or extend its lease, to `lease_seconds` from now (by the store's clock)."""

    async def unregister_worker(self, worker_id: str) -> None: ...

    async def claim_job(self, worker_id: str) -> Job | None:
        """Take the oldest queued job (now `starting`, owned by `worker_id`), or task job whose worker is gone (its
        state kept: the worker re-attaches to its task), or None if there is none. Two workers never take the same
        job."""

    async def release_job(self, job_id: str, worker_id: str) -> bool:
        """Hand a task job over: it is no longer `worker_id`'s, and any worker may take it to re-attach to its task
        (wakes the queue). False, changing nothing: it is not that worker's, or not active."""

    async def save_job(self, job: Job, events: Sequence[Event] = ()) -> None:
        """Persist the job's fields and append `events`, atomically, as its worker (`job.worker`).
        Events already stored (seq <= the stored last_seq) are skipped: a retry after a write whose outcome
        was lost stores nothing twice. Raises JobLost, writing nothing, if the job is no longer that
        worker's or no longer active."""

    async def interrupt_jobs_of_lost_workers(self) -> list[str]:
        """Mark `interrupted` the active jobs of every worker whose lease has lapsed, but hand over those that run
        as a task (a worker re-attaches to it); return the ids of both."""

    async def interrupt_unfinished(self, error: str, finished_at: float) -> list[str]:
        """Mark every started, unfinished job `interrupted`, but hand over those that run as a task (one process per
        SQLite file: at its start)."""

    # -- Operations ------------------------------------------------------------------------------------

    async def ping(self) -> None:
        """Answer, or raise StoreUnavailable: what /readyz asks."""

    async def count_jobs(self) -> dict[str, int]:
        """How many jobs are in each stored state (what /metrics shows)."""

    async def check_writable(self) -> None:
        """Raise StoreUnavailable unless a write would go through now (it writes nothing)."""


@contextlib.asynccontextmanager
async def open_store(db: str, hub: Hub, *, pool_size: int = 10) -> AsyncIterator[Store]:
    """Open (creating or migrating the schema) the store that `db` names, for as long as the block runs.
    `pool_size`: most connections to PostgreSQL this process opens for its calls (its listeners have their own)."""
    if db.startswith(POSTGRES_SCHEMES):
        from webapp.store.postgres import PostgresStore

        async with PostgresStore(db, hub, pool_size=pool_size) as store:
            yield store
    else:
        from webapp.store.sqlite import SQLiteStore

        async with SQLiteStore(db, hub) as store:
            yield store


def is_shared(db: str) -> bool:
    """Whether several processes may share this store (web and worker roles need it)."""
    return db.startswith(POSTGRES_SCHEMES)


def latest_schema(db: str) -> int:
    """The newest schema version this code knows for the backend `db` names."""
    known = migrations("postgres" if is_shared(db) else "sqlite")
    return known[-1][0] if known else 0


def schema_version(db: str) -> int:
    """The schema version the store `db` names is at now (0: empty or missing), read without changing anything."""
    if is_shared(db):
        import psycopg

        try:
            with psycopg.connect(db, connect_timeout=10, autocommit=True) as conn:
                exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
                if not exists or not exists[0]:
                    return 0
                row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"the database cannot be reached: {str(exc).strip().splitlines()[0]}") from exc
        return int(row[0]) if row else 0
    import sqlite3

    if not Path(db).exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrations(backend: str) -> list[tuple[int, str]]:
    """The backend's numbered schema scripts (`0001_name.sql` ...), in order."""
    scripts = sorted((MIGRATIONS / backend).glob("*.sql"))
    return [(int(path.name.split("_", 1)[0]), path.read_text()) for path in scripts]


def shown_state(stored: str, cancel_requested: bool) -> JobState:
    """A running job whose cancel was asked for reads `cancelling` until its worker ends it."""
    state = JobState(stored)
    if cancel_requested and stored in ACTIVE_STATES:
        return JobState.CANCELLING
    return state


def job_news(job_id: str) -> tuple[str, ...]:
    """The hub topics a change of the job publishes."""
    return (job_topic(job_id), JOBS)


JOB_COLUMNS = (
    "id, tool, arguments, state, created_at, finished_at, progress, total, message, result, error,"
    " idle_timeout, max_duration, last_seq, worker, cancel_requested_at, dropped_events, log_level, linger,"
    " lingering_until, server, warnings, counts, as_task, task, questions"
)
EVENT_COLUMNS = (
    "job_id, seq, kind, received_at, level, logger, data, progress, total, message, note, data_bytes, method"
)
SERVER_EVENT_COLUMNS = EVENT_COLUMNS.replace("job_id", "server", 1)  # the same shape, by server
JOB_FIELDS = len(JOB_COLUMNS.split(","))
EVENT_FIELDS = len(EVENT_COLUMNS.split(","))


def job_row(job: Job) -> tuple[Any, ...]:
    """A new job as a row of `jobs`, in JOB_COLUMNS order."""
    return (
        job.id,
        job.tool,
        json_text(job.arguments),
        job.state.value,
        job.created_at,
        job.finished_at,
        job.progress,
        job.total,
        job.message,
        None if job.result is None else json_text(job.result),
        job.error,
        job.idle_timeout,
        job.max_duration,
        job.last_seq,
        job.worker,
        None,
        job.dropped_events,
        job.log_level,
        job.linger,
        job.lingering_until,
        job.server,
        job.warnings,
        counts_json(job),
        job.as_task,
        task_json(job),
        questions_json(job),
    )


def job_update(job: Job) -> tuple[Any, ...]:
    """The fields a worker writes, in the order of the backends' UPDATE statements (JOB_UPDATE)."""
    return (
        job.state.value,
        job.finished_at,
        job.progress,
        job.total,
        job.message,
        None if job.result is None else json_text(job.result),
        job.error,
        job.last_seq,
        job.dropped_events,
        job.lingering_until,
        job.warnings,
        counts_json(job),
        task_json(job),
        questions_json(job),
    )


_UPDATED = (
    "state",
    "finished_at",
    "progress",
    "total",
    "message",
    "result",
    "error",
    "last_seq",
    "dropped_events",
    "lingering_until",
    "warnings",
    "counts",
    "task",
    "questions",
)
JOB_UPDATE = ", ".join(f"{name}={{0}}" for name in _UPDATED)  # .format("?") or .format("%s")


def job_from_row(row: Sequence[Any]) -> Job:
    cancel_requested = row[15] is not None
    return Job(
        id=row[0],
        tool=row[1],
        arguments=json.loads(row[2]),
        state=shown_state(row[3], cancel_requested),
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
        worker=row[14],
        cancel_requested=cancel_requested,
        dropped_events=row[16],
        log_level=row[17],
        linger=row[18],
        lingering_until=row[19],
        server=row[20],
        warnings=row[21],
        **counts_from_json(row[22]),
        as_task=None if row[23] is None else bool(row[23]),
        task=None if row[24] is None else TaskInfo(**json.loads(row[24])),
        questions=[] if row[25] is None else [Question(**question) for question in json.loads(row[25])],
    )


def task_json(job: Job) -> str | None:
    return None if job.task is None else json_text(job.task.stored())


def questions_json(job: Job) -> str | None:
    return json_text([question.stored() for question in job.questions]) if job.questions else None


def counts_json(job: Job) -> str:
    return json_text({"kinds": job.kind_counts, "levels": job.level_counts})


def counts_from_json(text: str | None) -> dict[str, dict[str, int]]:
    """A job's counts as stored; a job from before they were kept has none (its page counts its events)."""
    if text is None:
        return {}
    counts = json.loads(text)
    return {"kind_counts": counts["kinds"], "level_counts": counts["levels"]}


def event_rows(events: Sequence[Event]) -> list[tuple[Any, ...]]:
    """Events as rows of the `events` table: data as JSON text."""
    return [
        (
            e.job_id,
            e.seq,
            e.kind,
            e.received_at,
            e.level,
            e.logger,
            None if e.data is None else e.data_json if e.data_json is not None else json_text(e.data),
            e.progress,
            e.total,
            e.message,
            e.note,
            e.data_bytes,
            e.method,
        )
        for e in events
    ]


def event_from_row(row: Sequence[Any]) -> Event:
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
        data_bytes=row[11],
        method=row[12],
    )
