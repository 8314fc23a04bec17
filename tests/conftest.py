from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sse_starlette.sse import AppStatus

from tests.helpers import Dashboard
from webapp.bundled import ChildServer


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
def dashboard(mcp_server: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """The real dashboard under uvicorn, connected to the shared MCP server."""
    app = Dashboard(tmp_path_factory.mktemp("dashboard") / "jobs.sqlite3", mcp_url=mcp_server.url).start()
    yield app
    app.stop()


@pytest.fixture
def client(dashboard: Dashboard) -> Iterator[httpx.Client]:
    with dashboard.client() as c:
        yield c


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.sqlite3"
