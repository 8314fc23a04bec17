"""stdio servers: one process per job, its stderr as lines, its exit status on failure, and no orphan ever."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SHARED
from tests.helpers import Dashboard, all_events, follow, wait_until

DEMO = {"command": sys.executable, "args": ["-m", "webapp.demo_server", "--transport", "stdio"]}
QUITS = {
    "command": sys.executable,
    "args": ["-c", "import sys; print('no settings found', file=sys.stderr); sys.exit(3)"],
}
PID = re.compile(r"demo MCP server on stdio, pid (\d+)")


def write_config(path: Path, servers: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"mcpServers": servers}))
    return path


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    folder = tmp_path_factory.mktemp("stdio")
    config = write_config(
        folder / "servers.json", {"local": DEMO, "nowhere": {"command": str(folder / "no-such-server")}, "quits": QUITS}
    )
    app = Dashboard(folder / "jobs.sqlite3", mcp_url=None, args=("--config", str(config), *SHARED)).start()
    yield app
    app.stop()


@pytest.fixture
def client(dashboard: Dashboard) -> Iterator[httpx.Client]:
    with dashboard.client() as client:
        yield client


def start(client: httpx.Client, server: str, tool: str = "run_job", **arguments: Any) -> str:
    response = client.post("/api/jobs", json={"server": server, "tool": tool, "arguments": arguments})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    return job_id


def server_pid(client: httpx.Client, job_id: str) -> int:
    """The stdio server's pid, from the first line it writes on stderr."""
    found: list[int] = []

    def said_it() -> bool:
        events = client.get(f"/api/jobs/{job_id}/events", params={"kinds": "stderr"}).json()["events"]
        found.extend(int(m.group(1)) for e in events if (m := PID.search(str(e["data"]))))
        return bool(found)

    wait_until(said_it, what="the server's pid on its stderr")
    return found[0]


def is_alive(pid: int) -> bool:
    """Running, and not merely a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_job_runs_on_a_process_of_its_own_whose_stderr_lines_are_the_jobs(client: httpx.Client) -> None:
    first, second = start(client, "local", steps=3, delay=0), start(client, "local", steps=3, delay=0)
    follow(client, first)
    follow(client, second)
    pids = set()
    for job_id in (first, second):
        job = client.get(f"/api/jobs/{job_id}").json()
        assert (job["state"], job["server"]) == ("succeeded", "local")
        events = all_events(client, job_id)
        stderr = [e for e in events if e["kind"] == "stderr"]
        assert stderr and stderr[0]["method"] is None and stderr[0]["level"] is None
        pids.add(int(PID.search(stderr[0]["data"]).group(1)))  # type: ignore[union-attr]
        assert [e["data"]["step"] for e in events if e["kind"] == "log"] == [1, 2, 3]
    assert len(pids) == 2  # a process for each job
    wait_until(lambda: not any(map(is_alive, pids)), what="both servers to be stopped when their jobs ended")


def test_a_server_killed_mid_job_fails_it_with_how_it_ended(client: httpx.Client) -> None:
    job_id = start(client, "local", steps=1000, delay=0.02)
    pid = server_pid(client, job_id)
    os.kill(pid, signal.SIGKILL)
    follow(client, job_id)
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "failed"
    assert "was killed by SIGKILL" in job["error"]
    assert f"pid {pid}" in job["error"]  # its last words on stderr


def test_a_command_that_does_not_exist_fails_the_job_with_its_status_and_stderr(client: httpx.Client) -> None:
    status = client.get("/api/servers/nowhere").json()
    assert status["state"] in ("connecting", "unreachable") and status["transport"] == "stdio"
    job_id = start(client, "nowhere", "any_tool")
    follow(client, job_id)
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "failed"
    assert "exited with status 127" in job["error"]
    assert "cannot start" in job["error"] and "No such file or directory" in job["error"]
    assert [e["kind"] for e in all_events(client, job_id)] == ["stderr"]


def test_a_server_that_exits_at_once_fails_the_job_with_its_status_and_stderr(client: httpx.Client) -> None:
    job_id = start(client, "quits", "any_tool")
    follow(client, job_id)
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "failed"
    assert "exited with status 3" in job["error"] and "no settings found" in job["error"]
    assert [e["data"] for e in all_events(client, job_id)] == ["no settings found"]


def test_cancel_stops_the_server_process(client: httpx.Client) -> None:
    job_id = start(client, "local", steps=1000, delay=0.02)
    pid = server_pid(client, job_id)
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 202
    follow(client, job_id)
    assert client.get(f"/api/jobs/{job_id}").json()["state"] == "cancelled"
    wait_until(lambda: not is_alive(pid), what="the server to be stopped")


def test_no_orphan_outlives_a_killed_dashboard(tmp_path: Path) -> None:
    config = write_config(tmp_path / "servers.json", {"local": DEMO})
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=None, args=("--config", str(config))).start()
    try:
        with app.client() as client:
            job_id = start(client, "local", steps=1000, delay=0.02)
            pid = server_pid(client, job_id)
            guard = parent_of(pid)
    finally:
        app.stop(signal.SIGKILL)
    wait_until(lambda: not is_alive(pid) and not is_alive(guard), what="the server and its guard to go")


def test_a_time_limit_stops_the_server_process_as_for_http(client: httpx.Client) -> None:
    response = client.post(
        "/api/jobs",
        json={"server": "local", "tool": "run_job", "arguments": {"steps": 1000, "delay": 0.02}, "max_duration": 2},
    )
    job_id = response.json()["id"]
    pid = server_pid(client, job_id)
    follow(client, job_id)
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "timed_out" and "maximum duration of 2 s" in job["error"]
    wait_until(lambda: not is_alive(pid), what="the server to be stopped")
