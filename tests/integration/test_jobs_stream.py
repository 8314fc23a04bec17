"""The home page's live jobs list, /fragments/jobs/events, on the real dashboard: a job started elsewhere appears
and its changes follow, filters apply, and a stopping dashboard says goodbye."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.helpers import Dashboard, SseMessage, read_sse, start_job, wait_until
from webapp.bundled import ChildServer

BOUND = 30.0  # seconds: the longest any of the waits below may take


def row_of(message: SseMessage, job_id: str) -> str | None:
    found = re.search(rf'<tr id="job-row-{job_id}".*?</tr>', message.data, re.DOTALL)
    return found.group(0) if found else None


def state_in(row: str) -> str:
    found = re.search(r'data-state="(\w+)"', row)
    assert found is not None, row
    return found.group(1)


def messages_of(response: httpx.Response) -> Iterator[SseMessage]:
    """The stream's messages, until BOUND seconds have passed (each read is bounded by the client's timeout)."""
    deadline = time.monotonic() + BOUND
    for message in read_sse(response.iter_lines()):
        yield message
        assert time.monotonic() < deadline, "gave up waiting on the jobs stream"


def test_a_job_started_elsewhere_appears_and_its_changes_follow(any_dashboard: Dashboard) -> None:
    with any_dashboard.client() as client, client.stream("GET", "/fragments/jobs/events", timeout=BOUND) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        messages = messages_of(response)
        first = next(messages)  # the list as it is, at once
        assert first.event is None and ('<table class="jobs">' in first.data or "No jobs yet" in first.data)
        with any_dashboard.client() as elsewhere:
            job_id = start_job(elsewhere, steps=20, delay=0.05)
        states: list[str] = []
        row = ""
        for message in messages:
            row = row_of(message, job_id) or ""
            if not row:
                continue
            if not states or states[-1] != state_in(row):
                states.append(state_in(row))
            if states[-1] == "succeeded":
                break
    assert "running" in states and states[-1] == "succeeded", states
    assert states == sorted(states, key=["queued", "starting", "running", "succeeded"].index)
    assert 'data-warnings="11"' in row  # 20 steps through the eight levels: 5 + 5 + 1 at warning or worse
    assert "100 %" in row and f'action="/jobs/{job_id}/rerun"' in row  # and, ended, it can be run again


def test_the_stream_keeps_the_pages_filters(client: httpx.Client) -> None:
    done = start_job(client, steps=1, delay=0)
    wait_until(lambda: client.get(f"/api/jobs/{done}").json()["state"] == "succeeded", what="the first job's end")
    params = {"state": "failed", "tool": "run_job"}
    with client.stream("GET", "/fragments/jobs/events", params=params, timeout=BOUND) as response:
        seen: list[SseMessage] = []
        failed = None
        for message in messages_of(response):
            seen.append(message)
            if failed is None:
                failed = start_job(client, steps=2, delay=0, fail_at=1)
                start_job(client, "process_items", items=["a"], delay=0)  # another tool: never shown
            elif row_of(message, failed) is not None:
                break
    rows = [row for m in seen for row in re.findall(r'<tr id="job-row-.*?</tr>', m.data, re.DOTALL)]
    assert rows and all(state_in(row) == "failed" and "<code>run_job</code>" in row for row in rows)
    assert not any(f"job-row-{done}" in row for row in rows)


def test_the_stream_ends_with_a_farewell_when_the_dashboard_stops(own_server: ChildServer, tmp_path: Path) -> None:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=own_server.url).start()
    try:
        with app.client() as client, client.stream("GET", "/fragments/jobs/events", timeout=BOUND) as response:
            lines = response.iter_lines()
            assert "No jobs yet" in next(read_sse(lines)).data
            start_job(client, steps=1000, delay=0.02)  # a running job: the list is busy when the stop comes
            assert app.process is not None
            app.process.send_signal(signal.SIGTERM)
            # The body ends properly (httpx would raise on a truncated chunked body) with a farewell event.
            rest = list(read_sse(lines))
        assert rest and rest[-1].event == "shutdown"
    finally:
        app.stop()
