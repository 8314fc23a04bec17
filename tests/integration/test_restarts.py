"""The dashboard stopped and started again over the same SQLite file."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Dashboard, read_sse, read_until, run_to_end, server_stats, start_job, wait_until
from webapp.bundled import ChildServer


@pytest.fixture
def own_server() -> Iterator[ChildServer]:
    server = ChildServer()
    server.start()
    yield server
    server.stop()


def test_jobs_and_events_survive_a_restart(own_server: ChildServer, db_path: Path) -> None:
    first = Dashboard(db_path, mcp_url=own_server.url).start()
    with first.client() as client:
        job = run_to_end(client, steps=6, delay=0)
    first.stop()
    second = Dashboard(db_path, mcp_url=own_server.url).start()
    try:
        with second.client() as client:
            assert client.get(f"/api/jobs/{job['id']}").json() == job
            events = client.get(f"/api/jobs/{job['id']}/events").json()["events"]
            assert [e["seq"] for e in events] == list(range(1, 13))
            assert job["id"] in client.get("/").text
    finally:
        second.stop()


def test_a_graceful_stop_says_goodbye_to_viewers_interrupts_jobs_and_cancels_their_calls(
    own_server: ChildServer, db_path: Path
) -> None:
    app = Dashboard(db_path, mcp_url=own_server.url).start()
    with app.client() as client:
        job_id = start_job(client, steps=1000, delay=0.02)
        with client.stream("GET", f"/jobs/{job_id}/events", timeout=10) as response:
            lines = response.iter_lines()
            seen = read_until(lines, 10)
            assert app.process is not None
            app.process.send_signal(signal.SIGTERM)
            # The body ends properly (httpx would raise on a truncated chunked body) with a farewell event.
            seen += list(read_sse(lines))
    assert seen[-1].event == "shutdown"
    seqs = [s for m in seen for s in m.seqs]
    assert seqs == list(range(1, len(seqs) + 1))
    app.stop()
    wait_until(lambda: server_stats(own_server)["running"] == 0, what="the server's call to end")
    assert server_stats(own_server)["cancelled"] == 1

    again = Dashboard(db_path, mcp_url=own_server.url).start()
    try:
        with again.client() as client:
            job = client.get(f"/api/jobs/{job_id}").json()
            assert job["state"] == "interrupted"
            assert job["error"] == "the dashboard shut down while the job was running"
            assert job["finished_at"] is not None
            events = client.get(f"/api/jobs/{job_id}/events").json()["events"]
            assert [e["seq"] for e in events] == list(range(1, job["events"] + 1))
            assert job["events"] >= len(seqs)
    finally:
        again.stop()


def test_jobs_left_running_by_a_killed_dashboard_are_marked_interrupted_on_restart(
    own_server: ChildServer, db_path: Path
) -> None:
    app = Dashboard(db_path, mcp_url=own_server.url).start()
    with app.client() as client:
        job_id = start_job(client, steps=1000, delay=0.02)
        with client.stream("GET", f"/jobs/{job_id}/events", timeout=10) as response:
            read_until(response.iter_lines(), 10)
    app.stop(signal.SIGKILL)

    again = Dashboard(db_path, mcp_url=own_server.url).start()
    try:
        with again.client() as client:
            job = client.get(f"/api/jobs/{job_id}").json()
            assert (job["state"], job["error"]) == ("interrupted", "the dashboard stopped while the job was running")
            assert job["events"] >= 10
            page = client.get(f"/jobs/{job_id}").text
            assert 'data-state="interrupted"' in page
            assert "hx-sse:connect" not in page
            # The dashboard works on: a new job runs.
            assert run_to_end(client, steps=2, delay=0)["state"] == "succeeded"
    finally:
        again.stop()


def test_a_stream_opened_after_a_restart_ends_at_once_for_an_interrupted_job(
    own_server: ChildServer, db_path: Path
) -> None:
    app = Dashboard(db_path, mcp_url=own_server.url).start()
    with app.client() as client:
        job_id = start_job(client, steps=1000, delay=0.02)
        with client.stream("GET", f"/jobs/{job_id}/events", timeout=10) as response:
            read_until(response.iter_lines(), 4)
    app.stop(signal.SIGKILL)
    again = Dashboard(db_path, mcp_url=own_server.url).start()
    try:
        with again.client() as client:
            # A browser reconnecting with its Last-Event-ID gets the rest and the end, not a hang.
            with client.stream("GET", f"/jobs/{job_id}/events", headers={"Last-Event-ID": "2"}, timeout=10) as r:
                messages = list(read_sse(r.iter_lines()))
            assert messages[0].seqs[0] == 3
            assert messages[-1].event == "end" and messages[-1].data == "interrupted"
    finally:
        again.stop()
