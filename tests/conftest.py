from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sse_starlette.sse import AppStatus

from tests.helpers import Dashboard
from tests.postgres import TempPostgres
from webapp.bundled import ChildServer

_databases = itertools.count(1)

# Every test shares these dashboards, and together they start jobs and open streams far beyond a person: the start
# limit and the streams per client (tested on dashboards of their own) would refuse some of them.
SHARED = ("--max-starts-per-minute", "1000000", "--max-streams-per-client", "1000000")


@pytest.fixture(autouse=True)
def _reset_sse_app_status() -> Iterator[None]:
    # sse-starlette's shutdown flag is process-wide and never reset: one stopped app would end every later stream.
    AppStatus.should_exit = False
    yield
    AppStatus.should_exit = False


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def mcp_server() -> Iterator[ChildServer]:
    """The real bundled MCP server on a free loopback port, shared by the session."""
    server = ChildServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_server() -> Iterator[ChildServer]:
    """A bundled MCP server of the test's own, free to be killed and restarted."""
    server = ChildServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def late_server() -> Iterator[ChildServer]:
    """tests/late_server.py: a legacy SSE server that keeps sending progress after it has answered."""
    server = ChildServer(module="tests.late_server")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hostile_mcp() -> Iterator[ChildServer]:
    """tests/hostile_server.py: an MCP server every word of which tries to break the dashboard."""
    server = ChildServer(module="tests.hostile_server")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dashboard(mcp_server: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """The real dashboard under uvicorn, connected to the shared MCP server."""
    db = tmp_path_factory.mktemp("dashboard") / "jobs.sqlite3"
    app = Dashboard(db, mcp_url=mcp_server.url, args=SHARED).start()
    yield app
    app.stop()


@pytest.fixture
def client(dashboard: Dashboard) -> Iterator[httpx.Client]:
    with dashboard.client() as c:
        yield c


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.sqlite3"


@pytest.fixture(scope="session")
def postgres() -> Iterator[TempPostgres]:
    """A throwaway PostgreSQL server of the test session's own, started on first use."""
    with TempPostgres(fast=True) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which store a test runs on: tests that take it run once per backend."""
    param: str = request.param
    return param


@pytest.fixture
def db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty store of the test's backend: a SQLite file, or a new PostgreSQL database."""
    if backend == "sqlite":
        return str(tmp_path / "jobs.sqlite3")
    server: TempPostgres = request.getfixturevalue("postgres")
    return server.create_database(f"test_{next(_databases)}")


@pytest.fixture(scope="session")
def pg_dashboard(mcp_server: ChildServer, postgres: TempPostgres) -> Iterator[Dashboard]:
    """The real dashboard on PostgreSQL, connected to the shared MCP server."""
    app = Dashboard(postgres.create_database("shared"), mcp_url=mcp_server.url, args=SHARED).start()
    yield app
    app.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def any_dashboard(request: pytest.FixtureRequest) -> Dashboard:
    """The shared dashboard on each backend in turn: for guarantees that must hold on both."""
    app: Dashboard = request.getfixturevalue("dashboard" if request.param == "sqlite" else "pg_dashboard")
    return app
