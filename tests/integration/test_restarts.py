"""The dashboard stopped and started again over the same store, on each backend."""

from __future__ import annotations

import signal

from tests.helpers import (
    Dashboard,
    follow,
    read_sse,
    read_until,
    run_to_end,
    server_stats,
    start_and_watch,
    start_job,
    wait_until,
)
from webapp.bundled import ChildServer


def test_jobs_and_events_survive_a_restart(own_server: ChildServer, db: str) -> None:
    first = Dashboard(db, mcp_url=own_server.url).start()
    with first.client() as client:
        job = run_to_end(client, steps=6, delay=0)
    first.stop()
    second = Dashboard(db, mcp_url=own_server.url).start()
    try:
        with second.client() as client:
            assert client.get(f"/api/jobs/{job['id']}").json() == job
            events = client.get(f"/api/jobs/{job['id']}/events").json()["events"]
            assert [e["seq"] for e in events] == list(range(1, 13))
            assert job["id"] in client.get("/").text
    finally:
        second.stop()


def test_a_graceful_stop_says_goodbye_to_viewers_interrupts_jobs_and_cancels_their_calls(
    own_server: ChildServer, db: str
) -> None:
    app = Dashboard(db, mcp_url=own_server.url).start()
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

    again = Dashboard(db, mcp_url=own_server.url).start()
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


def test_jobs_left_running_by_a_killed_dashboard_are_marked_interrupted(
    own_server: ChildServer, db: str, backend: str
) -> None:
    app = Dashboard(db, mcp_url=own_server.url).start()
    with app.client() as client:
        job_id = start_and_watch(client, 10)
    app.stop(signal.SIGKILL)

    again = Dashboard(db, mcp_url=own_server.url).start()
    try:
        with again.client() as client:
            if backend == "sqlite":  # one process per file: what it left running is over at the next start
                job = client.get(f"/api/jobs/{job_id}").json()
                assert (job["state"], job["error"]) == (
                    "interrupted",
                    "the dashboard stopped while the job was running",
                )
            else:  # shared: the dead process's lease lapses, and a live one says so
                wait_until(
                    lambda: client.get(f"/api/jobs/{job_id}").json()["state"] == "interrupted",
                    what="the lost job to be interrupted",
                    timeout=15,
                )
                job = client.get(f"/api/jobs/{job_id}").json()
                assert "was lost while running the job: it stopped renewing its lease" in job["error"]
            assert job["events"] >= 10
            page = client.get(f"/jobs/{job_id}").text
            assert 'data-state="interrupted"' in page
            assert "hx-sse:connect" not in page
            # A browser that was watching reconnects with its Last-Event-ID: it gets the rest and the end.
            messages = follow(client, job_id, last_event_id="2", timeout=10)
            assert [s for m in messages for s in m.seqs] == list(range(3, job["events"] + 1))
            assert messages[-1].data == "interrupted"
            # The dashboard works on: a new job runs.
            assert run_to_end(client, steps=2, delay=0)["state"] == "succeeded"
    finally:
        again.stop()
