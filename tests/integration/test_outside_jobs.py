"""Lines a server sends outside any tool call: heard on a session of the dashboard's own, kept in the store as the
server's log (its own sequence), replayable, resumable and live, on both HTTP transports."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import SHARED
from tests.helpers import Dashboard, follow, read_sse, wait_until
from webapp.bundled import ChildServer


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    # A server of its own: what the bundled one broadcasts reaches every listener connected to it.
    server = ChildServer()
    server.start()
    folder = tmp_path_factory.mktemp("outside")
    base = server.url.removesuffix("/mcp")
    config = folder / "servers.json"
    servers = {
        "http": {"url": f"{base}/mcp", "log_level": "warning"},
        "sse": {"url": f"{base}/sse"},
        "local": {"command": sys.executable, "args": ["-m", "webapp.demo_server", "--transport", "stdio"]},
    }
    config.write_text(json.dumps({"mcpServers": servers}))
    app = Dashboard(folder / "jobs.sqlite3", mcp_url=None, args=("--config", str(config), *SHARED)).start()
    yield app
    app.stop()
    server.stop()


@pytest.fixture
def client(dashboard: Dashboard) -> Iterator[httpx.Client]:
    with dashboard.client() as client:
        yield client


def lines(client: httpx.Client, server: str, **params: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client.get(f"/api/servers/{server}/events", params=params).json()["events"]
    return events


def broadcast(client: httpx.Client, message: str, level: str = "notice") -> None:
    """A job whose tool makes the server log `message` to every other session: both listeners among them."""
    arguments = {"message": message, "level": level}
    job = client.post("/api/jobs", json={"server": "sse", "tool": "broadcast", "arguments": arguments}).json()
    follow(client, job["id"])


@pytest.fixture
def listening(client: httpx.Client) -> httpx.Client:
    wait_until(
        lambda: (
            [s["outside_jobs"]["state"] for s in client.get("/api/servers").json()]
            == ["listening", "listening", "no_channel"]
        ),
        what="the listeners to settle",
    )
    return client


def test_every_http_server_is_listened_to_and_a_stdio_one_says_it_cannot_be(listening: httpx.Client) -> None:
    client = listening
    local = client.get("/api/servers/local").json()["outside_jobs"]
    assert "stdio server is started for each job" in local["note"]
    assert "offers no channel for lines outside calls" in client.get("/servers/local").text


def test_lines_outside_jobs_are_kept_in_order_with_a_sequence_of_their_own(listening: httpx.Client) -> None:
    client = listening
    for n in range(1, 4):
        broadcast(client, f"news {n}", level="error")
    wait_until(lambda: len(lines(client, "sse")) >= 3 and len(lines(client, "http")) >= 3, what="three lines each")
    for server in ("http", "sse"):
        events = lines(client, server)
        assert [(e["seq"], e["kind"], e["level"], e["data"]["msg"]) for e in events[:3]] == [
            (1, "log", "error", "news 1"),
            (2, "log", "error", "news 2"),
            (3, "log", "error", "news 3"),
        ]
        assert [e["data"]["msg"] for e in lines(client, server, after=2)] == ["news 3"]
        assert lines(client, server, q="news 2")[0]["seq"] == 2
        assert client.get(f"/api/servers/{server}/events/2").json()["data"] == {"msg": "news 2"}
    assert client.get("/api/servers/http/events/999").status_code == 404
    assert client.get("/api/servers/elsewhere/events").status_code == 404


def test_the_level_asked_for_is_honoured_outside_jobs(listening: httpx.Client) -> None:
    client = listening
    broadcast(client, "quiet", level="info")
    broadcast(client, "loud", level="warning")
    wait_until(lambda: "loud" in [e["data"]["msg"] for e in lines(client, "http")], what="the warning")
    wait_until(lambda: "loud" in [e["data"]["msg"] for e in lines(client, "sse")], what="the warning over SSE")
    assert "quiet" not in [e["data"]["msg"] for e in lines(client, "http")]  # asked for warning and above
    assert "quiet" in [e["data"]["msg"] for e in lines(client, "sse")]  # asked for debug


def test_the_servers_page_streams_its_lines_live_and_resumes(listening: httpx.Client) -> None:
    client = listening
    page = client.get("/servers/sse").text
    assert 'hx-sse:connect="/servers/sse/events?after=' in page
    last = len(lines(client, "sse"))
    with client.stream("GET", "/servers/sse/events", params={"after": last}, timeout=10) as response:
        broadcast(client, "<script>alert(1)</script>", level="critical")
        message = next(read_sse(response.iter_lines()))
    assert message.id == str(last + 1)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.data and "<script>" not in message.data
    # A reconnect with Last-Event-ID resumes after it: nothing again, nothing lost.
    broadcast(client, "after the cut", level="critical")
    with client.stream("GET", "/servers/sse/events", headers={"Last-Event-ID": str(last + 1)}, timeout=10) as again:
        message = next(read_sse(again.iter_lines()))
    assert message.id == str(last + 2) and "after the cut" in message.data
