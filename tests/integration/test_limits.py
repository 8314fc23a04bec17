"""Limits on what a server may send and on what is kept: each a setting, each visible when it applies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Dashboard, all_events, follow, read_until, run_to_end, start_job
from webapp.bundled import ChildServer

HTML = {"Accept": "text/html"}


@pytest.fixture
def tight(mcp_server: ChildServer, tmp_path: Path) -> Iterator[httpx.Client]:
    args = (
        "--max-event-bytes", "2048",
        "--max-line-bytes", "300",
        "--max-events", "10",
        "--max-starts-per-minute", "4",
    )  # fmt: skip
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=args).start()
    with app.client() as client:
        yield client
    app.stop()


def log_of(data: object) -> list[dict[str, object]]:
    return [{"log": {"level": "info", "logger": "big", "data": data}}]


def test_data_over_the_store_limit_is_cut_with_its_size_and_marked_on_the_page(tight: httpx.Client) -> None:
    job = run_to_end(tight, "scripted", script=log_of("é" * 5000))  # 10,002 bytes of JSON
    event = all_events(tight, job["id"])[0]
    assert event["data_bytes"] == 10_002
    assert isinstance(event["data"], str) and len(event["data"].encode()) <= 2048
    assert event["data"].startswith('"ééé')
    page = tight.get(f"/jobs/{job['id']}", headers=HTML).text
    assert 'data-cut="10002"' in page and "cut: 9.8 KiB were sent, the start is kept" in page


def test_a_line_over_the_page_limit_shows_a_preview_and_links_to_all_of_it(tight: httpx.Client) -> None:
    data = {"report": "x" * 1000}
    job = run_to_end(tight, "scripted", script=log_of(data))
    page = tight.get(f"/jobs/{job['id']}", headers=HTML).text
    whole_line = len(json.dumps(data))  # a line shows its data as one line of JSON
    assert f"{whole_line} B in all" in page and f'href="/api/jobs/{job["id"]}/events/1"' in page
    log = page[page.index('id="log"') :]  # (the arguments above the log hold the data too: it was sent in them)
    assert "x" * 280 in log and "x" * 300 not in log  # only the preview (300 bytes) is in the log
    whole = tight.get(f"/api/jobs/{job['id']}/events/1").json()
    assert (whole["seq"], whole["data"], whole["data_bytes"]) == (1, data, None)
    assert tight.get(f"/api/jobs/{job['id']}/events/2").status_code == 404


def test_events_past_the_per_job_limit_are_counted_not_kept_and_the_page_says_so(tight: httpx.Client) -> None:
    job = run_to_end(tight, "flood", count=20)  # 40 notifications
    assert (job["state"], job["events"], job["dropped_events"]) == ("succeeded", 10, 30)
    assert [e["seq"] for e in all_events(tight, job["id"])] == list(range(1, 11))
    page = tight.get(f"/jobs/{job['id']}", headers=HTML).text
    assert 'data-dropped="30"' in page and "beyond the limit of 10 a job keeps" in page


def test_a_client_starting_too_many_jobs_in_a_minute_gets_429_and_when_to_retry(tight: httpx.Client) -> None:
    started = [
        tight.post("/api/jobs", json={"tool": "run_job", "arguments": {"steps": 1, "delay": 0}}) for _ in range(5)
    ]
    assert [r.status_code for r in started] == [201, 201, 201, 201, 429]
    refused = started[-1]
    assert "at most 4 a minute" in refused.json()["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    for response in started[:4]:
        follow(tight, response.json()["id"])


def test_a_full_queue_refuses_new_jobs_with_a_clear_message(mcp_server: ChildServer, tmp_path: Path) -> None:
    args = ("--max-jobs", "1", "--max-queued", "1")
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=args).start()
    try:
        with app.client() as client:
            running = start_job(client, steps=10_000, delay=0.02)
            with client.stream("GET", f"/jobs/{running}/events", timeout=10) as response:
                read_until(response.iter_lines(), 2)
            waiting = start_job(client, steps=1, delay=0)
            refused = client.post("/api/jobs", json={"tool": "run_job", "arguments": {}})
            assert refused.status_code == 429
            assert "1 jobs are waiting for a worker already" in refused.json()["detail"]
            client.post(f"/api/jobs/{running}/cancel")
            assert follow(client, waiting)[-1].data == "succeeded"
    finally:
        app.stop()


def test_an_ended_job_can_be_deleted_a_running_one_not(client: httpx.Client) -> None:
    running = start_job(client, steps=10_000, delay=0.02)
    refused = client.delete(f"/api/jobs/{running}")
    assert refused.status_code == 409 and "cancel it or wait for its end" in refused.json()["detail"]
    client.post(f"/api/jobs/{running}/cancel")
    follow(client, running)
    assert client.delete(f"/api/jobs/{running}").status_code == 204
    assert client.get(f"/api/jobs/{running}").status_code == 404
    assert client.get(f"/api/jobs/{running}/events").status_code == 404
    assert client.delete(f"/api/jobs/{running}").status_code == 404


def test_retention_deletes_the_oldest_ended_jobs_beyond_keep_jobs(mcp_server: ChildServer, db_path: Path) -> None:
    first = Dashboard(db_path, mcp_url=mcp_server.url, args=("--keep-jobs", "")).start()  # keep all, for now
    with first.client() as client:
        ids = [run_to_end(client, steps=1, delay=0)["id"] for _ in range(3)]
    first.stop()
    second = Dashboard(db_path, mcp_url=mcp_server.url, args=("--keep-jobs", "1")).start()
    try:
        with second.client() as client:
            kept = [job["id"] for job in client.get("/api/jobs").json()]
            assert kept == [ids[-1]]  # retention runs at start, then every ten minutes
            assert client.get(f"/api/jobs/{ids[0]}/events").status_code == 404
    finally:
        second.stop()


def test_a_long_job_reaches_a_late_viewer_in_messages_no_bigger_than_the_limit(
    mcp_server: ChildServer, tmp_path: Path
) -> None:
    limit = 16 * 1024  # the smallest --max-message-bytes
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=("--max-message-bytes", str(limit)))
    try:
        with app.start().client() as client:
            job = run_to_end(client, "flood", count=400)  # 800 lines, about 110 KiB of HTML
            messages = follow(client, job["id"], after=0)
    finally:
        app.stop()
    logs = [m.data.split('<hx-partial hx-target="#log"', 1)[1].split("</hx-partial>", 1)[0] for m in messages if m.seqs]
    assert len(logs) >= 6
    assert all(len(log.encode()) <= limit for log in logs)
    assert [seq for m in messages for seq in m.seqs] == list(range(1, 801))
