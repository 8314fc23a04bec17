"""Holes in exactly-once, closed: a store locked mid-job, a store that stays down, and progress that belongs
to another request. Each was measured losing or doubling lines before."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Dashboard, all_events, follow, read_until, run_to_end, start_job, wait_until
from webapp.bundled import ChildServer

RETRYING = "could not write to the store, retrying"


@pytest.fixture
def sqlite_app(own_server: ChildServer, db_path: Path) -> Iterator[Dashboard]:
    app = Dashboard(db_path, mcp_url=own_server.url, args=("--store-patience", "4")).start()
    yield app
    app.stop()


@contextlib.contextmanager
def write_locked(db_path: Path) -> Iterator[None]:
    """Another process's write lock on the file, as a backup tool or a second program might hold it."""
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.rollback()
        other.close()


def test_a_store_locked_past_its_busy_timeout_loses_no_event_and_never_freezes_the_dashboard(
    own_server: ChildServer, db_path: Path
) -> None:
    app = Dashboard(db_path, mcp_url=own_server.url).start()
    try:
        with app.client() as client:
            job_id = start_job(client, steps=60, delay=0.03)
            with client.stream("GET", f"/jobs/{job_id}/events", timeout=10) as response:
                read_until(response.iter_lines(), 10)
            with write_locked(db_path):
                # Held until a write has waited out SQLite's busy timeout (5 s) and failed: the old code lost
                # events right here, and its event loop stood still while it waited.
                wait_until(lambda: RETRYING in app.output(), what="a write to fail", timeout=30)
                assert client.get("/api/server", timeout=2).status_code == 200  # the loop answers meanwhile
                assert client.get(f"/api/jobs/{job_id}", timeout=2).json()["state"] == "running"  # WAL: reads go on
            follow(client, job_id, timeout=30)
            job = client.get(f"/api/jobs/{job_id}").json()
            assert (job["state"], job["events"]) == ("succeeded", 120)
            assert [e["seq"] for e in all_events(client, job_id)] == list(range(1, 121))
        assert "the store is written again" in app.output()
    finally:
        app.stop()


def test_a_store_that_stays_down_fails_the_job_clearly_and_keeps_every_event(
    sqlite_app: Dashboard, db_path: Path
) -> None:
    with sqlite_app.client() as client:
        job_id = start_job(client, steps=100_000, delay=0.02)
        with client.stream("GET", f"/jobs/{job_id}/events", timeout=10) as response:
            read_until(response.iter_lines(), 6)
        with write_locked(db_path):
            wait_until(
                lambda: "the store could not be written for 4 s" in sqlite_app.output(),
                what="the job to give up",
                timeout=30,
            )
        follow(client, job_id, timeout=30)
        job = client.get(f"/api/jobs/{job_id}").json()
        assert job["state"] == "failed"
        assert job["error"].startswith("the store could not be written for 4 s: ")
        assert job["finished_at"] is not None
        assert [e["seq"] for e in all_events(client, job_id)] == list(range(1, job["events"] + 1))


@pytest.mark.parametrize("protocol", ["legacy", "auto"], ids=["2025-session", "2026-07-28"])
def test_progress_for_another_request_is_kept_once_and_never_doubles_the_calls_own(
    own_server: ChildServer, db_path: Path, protocol: str
) -> None:
    app = Dashboard(db_path, mcp_url=own_server.url, args=("--protocol", protocol)).start()
    script = [
        {"progress": {"progress": 1, "total": 4, "message": "one"}},
        {"progress": {"progress": 99, "total": 100, "message": "not ours", "token": "someone-else"}},
        {"progress": {"progress": 2, "total": 4, "message": "two"}},
        {"progress": {"progress": 3, "total": 4, "message": "three"}},
        {"progress": {"progress": 4, "total": 4, "message": "four"}},
    ]
    try:
        with app.client() as client:
            job = run_to_end(client, "scripted", script=script)
            events = all_events(client, job["id"])
    finally:
        app.stop()
    assert job["state"] == "succeeded"
    assert [(e["message"], e["note"]) for e in events] == [
        ("one", None),
        ("not ours", "other_token"),
        ("two", None),
        ("three", None),
        ("four", None),
    ]
    assert (job["progress"], job["total"], job["message"]) == (4, 4, "four")


def test_late_progress_on_the_answer_is_not_counted_twice(client: httpx.Client) -> None:
    job = run_to_end(client, "process_items", items=["a", "b", "c"], delay=0)
    events = all_events(client, job["id"])
    assert [e["seq"] for e in events] == list(range(1, 7))
    assert [e["note"] for e in events if e["kind"] == "progress"] == [None, None, None]
