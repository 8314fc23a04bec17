"""What every scenario shares: figures and readings, storage backends, a dashboard in front of a fresh MCP server."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import Dashboard
from tests.postgres import TempPostgres
from webapp.bundled import ChildServer

TERMINAL_STATES = frozenset({"succeeded", "failed", "cancelled", "timed_out", "interrupted"})
_EXCEPTION = re.compile(r"[\w.]+(Error|Exception|Exit)\b")  # "sqlite3.OperationalError: ...", a traceback's end
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what may be pasted into SQL text


class BenchError(Exception):
    """A run that could not produce its figures; the report shows the reason instead."""


@dataclass(frozen=True)
class Figure:
    """One line of the report. `check` judges a value against the target (None: context, no target).

    `every_run`: met only if every run met it (correctness figures); otherwise the median is judged.
    """

    key: str
    label: str
    unit: str
    target: str = "—"
    check: Callable[[float], bool] | None = None
    every_run: bool = False
    digits: int = 2

    def show(self, value: float) -> str:
        return f"{value:,.{self.digits}f}"


@dataclass(frozen=True)
class Reading:
    value: float
    ok: bool | None  # None: the figure has no target


def read(figure: Figure, value: float, ok: bool | None = None) -> tuple[str, Reading]:
    """A run's reading of `figure`, judged by the figure's own check unless the scenario judged it (`ok`)."""
    if ok is None and figure.check is not None:
        ok = figure.check(value)
    return figure.key, Reading(value, ok)


@dataclass(frozen=True)
class Sizes:
    flood_count: int
    latency_steps: int
    viewers: int
    viewer_steps: int
    million_count: int
    browser_count: int


FULL = Sizes(
    flood_count=20_000,
    latency_steps=2_000,
    viewers=200,
    viewer_steps=1_500,
    million_count=500_000,
    browser_count=20_000,
)
# Issue 18's one-core figures: a 20,000-notification flood in Chromium, 50 viewers.
ONE_CORE = Sizes(
    flood_count=20_000,
    latency_steps=2_000,
    viewers=50,
    viewer_steps=1_500,
    million_count=500_000,
    browser_count=10_000,
)
QUICK = Sizes(
    flood_count=3_000, latency_steps=400, viewers=200, viewer_steps=300, million_count=50_000, browser_count=3_000
)


def epoch(iso: str) -> float:
    """The API's UTC ISO 8601 time as epoch seconds."""
    return datetime.fromisoformat(iso).timestamp()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of them at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(round(len(ordered) * fraction, 6)))  # rounded first: 100 * 0.07 is 7.000000000000001
    return ordered[rank - 1]


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants: a dashboard may run its work in child processes."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone since the listing
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    return tree


def rss_bytes(pid: int) -> int:
    """Resident memory of `pid` and its descendants."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{member}/status").read_text()
            total += next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time used so far by `pid` and its descendants (and their reaped children)."""
    ticks = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


async def poll(check: Callable[[], Awaitable[bool]], *, what: str, within: float, interval: float = 0.1) -> None:
    """Await `check` until it holds; BenchError after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise BenchError(f"gave up after {within:g} s waiting for {what}")
        await asyncio.sleep(interval)  # the pause between checks, not the wait itself


# ---- Storage backends: where a dashboard keeps its jobs, and a direct look at its events ----


class Backend:
    name = ""

    def open(self) -> None:
        """Get ready to hand out databases (e.g. start a server)."""

    def close(self) -> None: ...

    def new_db(self, label: str) -> str:
        """A fresh, empty database for one scenario run: what `--db` gets."""
        raise NotImplementedError

    def drop_db(self, db: str) -> None:
        """Forget a database once its dashboard has stopped (a million events take room)."""

    def settle(self) -> None:
        """Before a scenario run: nothing left over from the runs before it may weigh on this one."""

    def event_times(self, db: str, job_id: str) -> dict[int, float]:
        """seq -> received_at (epoch seconds) of a job's events, read from the store itself."""
        raise NotImplementedError

    def holds_job(self, db: str, job_id: str) -> bool:
        """Whether the database really has the job: proof that the dashboard used this backend."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


class SQLiteBackend(Backend):
    name = "SQLite"

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self._made = 0

    def new_db(self, label: str) -> str:
        self._made += 1
        return str(self.scratch / f"{self._made:03d}-{label}.sqlite3")

    def drop_db(self, db: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(db + suffix).unlink(missing_ok=True)

    def _query(self, db: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
        # Read-only: the bench must not take the dashboard's write lock.
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return conn.execute(sql, params).fetchall()

    def event_times(self, db: str, job_id: str) -> dict[int, float]:
        rows = self._query(db, "SELECT seq, received_at FROM events WHERE job_id=?", job_id)
        return {int(seq): float(at) for seq, at in rows}

    def holds_job(self, db: str, job_id: str) -> bool:
        try:
            return bool(self._query(db, "SELECT 1 FROM jobs WHERE id=?", job_id))
        except sqlite3.Error:
            return False

    def describe(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (the dashboard's own settings)"


class PostgresBackend(Backend):
    name = "PostgreSQL"

    def __init__(self) -> None:
        self.server: TempPostgres | None = None
        self._made = 0

    def open(self) -> None:
        self.server = TempPostgres().start()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _pg(self) -> TempPostgres:
        if self.server is None:
            raise BenchError("the PostgreSQL server is not running")
        return self.server

    def new_db(self, label: str) -> str:
        self._made += 1
        return self._pg().create_database(f"bench_{self._made:03d}_{re.sub(r'[^a-z0-9]', '_', label.lower())}")

    def drop_db(self, db: str) -> None:
        self._pg().psql(f"DROP DATABASE IF EXISTS {db.rsplit('/', 1)[1]} WITH (FORCE)")

    def settle(self) -> None:
        # The million-event run before leaves gigabytes of dirty pages and WAL: flushed now, not during the next run.
        self._pg().psql("CHECKPOINT")

    def _rows(self, db: str, sql: str) -> list[list[str]]:
        out = self._pg().psql(sql, database=db.rsplit("/", 1)[1])
        return [line.split("|") for line in out.splitlines() if line]

    def event_times(self, db: str, job_id: str) -> dict[int, float]:
        if not _JOB_ID.fullmatch(job_id):
            raise BenchError(f"unexpected job id {job_id!r}")
        kind = self._rows(
            db,
            "SELECT data_type FROM information_schema.columns WHERE table_name='events' AND column_name='received_at'",
        )
        # A float of epoch seconds today; a timestamp column would be read through extract().
        at = "extract(epoch FROM received_at)" if kind and kind[0][0].startswith("timestamp") else "received_at"
        rows = self._rows(db, f"SELECT seq, {at} FROM events WHERE job_id='{job_id}'")
        return {int(seq): float(value) for seq, value in rows}

    def holds_job(self, db: str, job_id: str) -> bool:
        if not _JOB_ID.fullmatch(job_id):
            return False
        try:
            return bool(self._rows(db, f"SELECT 1 FROM jobs WHERE id='{job_id}'"))
        except RuntimeError:  # no jobs table: the dashboard stored the job elsewhere
            return False

    def describe(self) -> str:
        version = self._pg().psql("SHOW server_version").strip()
        return f"PostgreSQL {version} (throwaway cluster on loopback, default durability settings)"


# ---- A dashboard in front of a fresh bundled MCP server ----


@dataclass
class Setup:
    server: ChildServer
    dashboard: Dashboard
    db: str
    backend: Backend

    @property
    def pid(self) -> int:
        assert self.dashboard.process is not None
        return self.dashboard.process.pid

    @property
    def port(self) -> int:
        return self.dashboard.port

    def client(self, timeout: float = 30.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.dashboard.url, timeout=timeout)


@contextlib.contextmanager
def setup(backend: Backend, label: str, scratch: Path, args: tuple[str, ...] = ()) -> Iterator[Setup]:
    """A fresh MCP server, a fresh database and a dashboard on both; all gone when the block ends."""
    server = ChildServer()
    server.start()
    db = ""
    try:
        db = backend.new_db(label)
        # A bench's clients are one address with many streams and starts: no per-client limit may get in the way.
        limits = ("--max-streams-per-client", "1000000", "--max-starts-per-minute", "1000000")
        dashboard = Dashboard(db, mcp_url=server.url, args=(*limits, *args))  # a str: Path would fold a URL's "//"
        # Anything the dashboard writes to a relative path (a --db URL taken for a file name) lands in scratch.
        with contextlib.chdir(scratch):
            dashboard.start()
        try:
            yield Setup(server, dashboard, db, backend)
        finally:
            dashboard.stop()
    finally:
        server.stop()
        if db:
            with contextlib.suppress(OSError, RuntimeError):  # a database left behind is no reason to fail a run
                backend.drop_db(db)


async def wait_connected(app: Setup) -> None:
    """The dashboard answers 503 to new jobs until it has reached its MCP server once."""
    async with app.client() as client:

        async def connected() -> bool:
            return bool((await client.get("/api/server")).json().get("state") == "connected")

        await poll(connected, what="the dashboard to reach the MCP server", within=30)


async def start_job(client: httpx.AsyncClient, tool: str, **arguments: Any) -> str:
    response = await client.post("/api/jobs", json={"tool": tool, "arguments": arguments})
    if response.status_code != 201:
        raise BenchError(f"POST /api/jobs answered {response.status_code}: {response.text[:300]}")
    job_id: str = response.json()["id"]
    return job_id


async def finished_job(client: httpx.AsyncClient, job_id: str, *, within: float) -> dict[str, Any]:
    """The job as the API shows it once it has ended; BenchError unless it succeeded."""
    job: dict[str, Any] = {}

    async def ended() -> bool:
        nonlocal job
        job = (await client.get(f"/api/jobs/{job_id}")).json()
        return job.get("state") in TERMINAL_STATES

    await poll(ended, what=f"job {job_id} to end", within=within, interval=0.25)
    if job["state"] != "succeeded":
        raise BenchError(f"job {job_id} ended {job['state']}: {job.get('error')}")
    return job


def job_seconds(job: dict[str, Any]) -> float:
    return epoch(job["finished_at"]) - epoch(job["created_at"])


async def check_backend(backend: Backend, scratch: Path) -> str | None:
    """Why this backend cannot be benchmarked (None: it can): the dashboard must start on it and store a job in it."""
    try:
        with setup(backend, "probe", scratch) as app:
            await wait_connected(app)
            async with app.client() as client:
                job_id = await start_job(client, "run_job", steps=2, delay=0)
                await finished_job(client, job_id, within=30)
            if not backend.holds_job(app.db, job_id):
                return (
                    f"the dashboard started with `--db {app.db}` but its job is not in {backend.name}: "
                    "this dashboard has no store for it (it took the URL for a file name)"
                )
    except Exception as exc:
        # The first line says what failed; the dashboard's output (after it) ends with the exception that did it.
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        cause = next((line for line in reversed(lines[1:]) if _EXCEPTION.match(line)), lines[-1])
        why = lines[0] if len(lines) == 1 else f"{lines[0]} ({cause})"
        return f"the dashboard could not run on {backend.name}: {why}"
    return None


def wait_for(condition: Callable[[], bool], *, what: str, within: float, interval: float = 0.1) -> None:
    """The blocking twin of `poll`, for code outside an event loop (Playwright's sync API)."""
    deadline = time.monotonic() + within
    pause = threading.Event()  # never set: its wait is the pause between checks
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"gave up after {within:g} s waiting for {what}")
        pause.wait(interval)
