"""The log level a job asks for, against the bundled server over loopback HTTP on both protocol revisions: sent
per request on 2026-07-28 and with logging/setLevel on 2025-era sessions, shown on the job page, and checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Dashboard, all_events, follow
from webapp.bundled import ChildServer

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module", params=["auto", "legacy"], ids=["2026-07-28", "2025-session"])
def level_client(
    request: pytest.FixtureRequest, mcp_server: ChildServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    db: Path = tmp_path_factory.mktemp("log-level") / "jobs.sqlite3"
    app = Dashboard(db, mcp_url=mcp_server.url, args=("--protocol", request.param)).start()
    try:
        with app.client() as client:
            yield client
    finally:
        app.stop()


def test_a_job_asking_for_warning_gets_no_debug_info_or_notice_line(level_client: httpx.Client) -> None:
    body = {"tool": "run_job", "arguments": {"steps": 16, "delay": 0}, "log_level": "warning"}
    response = level_client.post("/api/jobs", json=body)
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    assert response.json()["log_level"] == "warning"
    follow(level_client, job_id)
    levels = [e["level"] for e in all_events(level_client, job_id) if e["kind"] == "log"]
    assert levels == ["warning", "error", "critical", "alert", "emergency"] * 2
    page = level_client.get(f"/jobs/{job_id}", headers=HTML).text
    assert 'data-log-level="warning"' in page


def test_a_job_asks_for_debug_by_default_and_gets_every_level(level_client: httpx.Client) -> None:
    response = level_client.post("/api/jobs", json={"tool": "run_job", "arguments": {"steps": 8, "delay": 0}})
    job_id = response.json()["id"]
    assert response.json()["log_level"] == "debug"
    follow(level_client, job_id)
    levels = [e["level"] for e in all_events(level_client, job_id) if e["kind"] == "log"]
    assert levels == ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


def test_the_form_starts_a_job_at_the_level_picked_and_a_level_that_is_none_is_refused(
    level_client: httpx.Client,
) -> None:
    form = {"tool": "run_job", "arguments": '{"steps": 8, "delay": 0}', "log_level": "error"}
    response = level_client.post("/jobs", data=form, headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    job = level_client.get("/api" + response.headers["location"]).json()
    assert job["log_level"] == "error"
    refused = level_client.post("/jobs", data={**form, "log_level": "loud"}, headers=HTML)
    assert refused.status_code == 400 and "Log level must be one of debug, info" in refused.text
    api = level_client.post("/api/jobs", json={"tool": "run_job", "log_level": "loud"})
    assert api.status_code == 422 and "log_level" in api.text
