"""MCP server faults, time limits and cancel, with a server of each test's own that it may kill; on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import Dashboard, follow, run_to_end, server_stats, start_and_watch, wait_until
from webapp.bundled import ChildServer


@pytest.fixture
def protocol() -> str:
    """How the dashboard greets the server; tests parametrize it to cover 2025-era sessions too."""
    return "auto"


@pytest.fixture
def own_client(own_server: ChildServer, db: str, protocol: str) -> Iterator[httpx.Client]:
    app = Dashboard(db, mcp_url=own_server.url, args=("--protocol", protocol)).start()
    try:
        with app.client() as client:
            expected = "2025-11-25" if protocol == "legacy" else "2026-07-28"
            assert client.get("/api/server").json()["protocol_version"] == expected
            yield client
    finally:
        app.stop()


BOTH_PROTOCOLS = pytest.mark.parametrize("protocol", ["auto", "legacy"], ids=["2026-07-28", "2025-session"])


@BOTH_PROTOCOLS
def test_a_server_killed_mid_job_fails_the_job_and_keeps_every_line_before(
    own_server: ChildServer, own_client: httpx.Client
) -> None:
    job_id = start_and_watch(own_client, 20)
    own_server.kill()
    follow(own_client, job_id, timeout=3)  # the job ends promptly: every read is bounded by 3 s
    job = own_client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "failed"
    assert job["error"].startswith("lost the connection to the MCP server during the call")
    events = own_client.get(f"/api/jobs/{job_id}/events").json()["events"]
    assert len(events) >= 20
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_a_job_started_while_the_server_is_down_fails_at_once_and_status_shows_it(
    own_server: ChildServer, own_client: httpx.Client
) -> None:
    own_server.kill()
    job = run_to_end(own_client, steps=3, delay=0)
    assert job["state"] == "failed"
    assert f"cannot reach the MCP server at {own_server.url}" in job["error"]
    wait_until(
        lambda: own_client.get("/api/server").json()["state"] == "unreachable", what="the status to say unreachable"
    )
    assert "cannot reach" in own_client.get("/api/server").json()["error"]


@BOTH_PROTOCOLS
def test_after_a_server_restart_the_next_job_works_without_restarting_the_dashboard(
    own_server: ChildServer, own_client: httpx.Client
) -> None:
    own_server.kill()
    assert run_to_end(own_client, steps=2, delay=0)["state"] == "failed"
    restarted = ChildServer(port=own_server.port)
    restarted.start()
    try:
        assert run_to_end(own_client, steps=2, delay=0)["state"] == "succeeded"
        wait_until(
            lambda: own_client.get("/api/server").json()["state"] == "connected", what="the status to say connected"
        )
    finally:
        restarted.stop()


@BOTH_PROTOCOLS
def test_the_idle_timeout_ends_a_silent_job_and_cancels_it_on_the_server(
    own_server: ChildServer, own_client: httpx.Client
) -> None:
    job = run_to_end(own_client, limits={"idle_timeout": 0.5}, steps=3, delay=30)
    assert job["state"] == "timed_out"
    assert job["idle_timeout"] == 0.5
    assert "idle timeout: no notification from the server for 0.5 s" in job["error"]
    wait_until(lambda: server_stats(own_server)["cancelled"] == 1, what="the server to see the cancel")
    assert server_stats(own_server)["running"] == 0


def test_notifications_keep_a_long_job_alive_past_its_idle_timeout(own_client: httpx.Client) -> None:
    job = run_to_end(own_client, limits={"idle_timeout": 1}, steps=10, delay=0.15)  # 1.5 s in all
    assert job["state"] == "succeeded"


def test_the_maximum_duration_ends_a_chatty_job(own_server: ChildServer, own_client: httpx.Client) -> None:
    job = run_to_end(own_client, limits={"idle_timeout": 30, "max_duration": 1}, steps=100000, delay=0.01)
    assert job["state"] == "timed_out"
    assert job["max_duration"] == 1
    assert "exceeded its maximum duration of 1 s" in job["error"]
    wait_until(lambda: server_stats(own_server)["cancelled"] == 1, what="the server to see the cancel")


@BOTH_PROTOCOLS
def test_cancel_stops_the_tool_on_the_server(own_server: ChildServer, own_client: httpx.Client) -> None:
    job_id = start_and_watch(own_client, 10)
    response = own_client.post(f"/api/jobs/{job_id}/cancel")
    assert response.status_code == 202
    assert response.json()["state"] == "cancelling"
    messages = follow(own_client, job_id, timeout=10)
    assert messages[-1].data == "cancelled"
    job = own_client.get(f"/api/jobs/{job_id}").json()
    assert (job["state"], job["error"]) == ("cancelled", "cancelled by the user")
    wait_until(lambda: server_stats(own_server)["cancelled"] == 1, what="the server to see the cancel")
    assert server_stats(own_server)["running"] == 0
    again = own_client.post(f"/api/jobs/{job_id}/cancel")
    assert again.status_code == 409
    assert "already ended (cancelled)" in again.json()["detail"]


def test_odd_progress_is_recorded_and_marked_but_never_moves_the_bar_back(own_client: httpx.Client) -> None:
    script = [
        {"progress": {"progress": 2, "total": 10, "message": "two"}},
        {"progress": {"progress": 5, "total": 10, "message": "five"}},
        {"progress": {"progress": 3, "total": 10, "message": "back to three"}},
        {"progress": {"progress": 5, "total": 10, "message": "five again"}},
        {"progress": {"progress": 12, "total": 10, "message": "beyond the total"}},
        {"progress": {"progress": 6, "total": 100, "message": "six percent"}},
        {"progress": {"progress": 7, "message": "no total any more"}},
    ]
    job = run_to_end(own_client, "scripted", script=script)
    assert (job["state"], job["progress"], job["total"], job["message"]) == ("succeeded", 5, 10, "five")
    events = own_client.get(f"/api/jobs/{job['id']}/events").json()["events"]
    notes = [e["note"] for e in events]
    assert notes == [
        None,
        None,
        "not_increasing",
        "not_increasing",
        "exceeds_total",
        "moves_bar_back",
        "moves_bar_back",
    ]
    assert [e["message"] for e in events] == [s["progress"]["message"] for s in script]
