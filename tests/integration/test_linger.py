"""Linger: a job keeps its connection open after the call, so that what the server sends late is kept as the job's
own, marked after the end. Against tests/late_server.py, which sends 20 progress notifications after its answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Dashboard, all_events, follow, wait_until
from webapp.bundled import ChildServer

LINGER = 5.0  # long enough to look at the job while it lingers, on the slowest machine


@pytest.fixture(scope="module")
def late_client(late_server: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    db: Path = tmp_path_factory.mktemp("linger") / "jobs.sqlite3"
    sse_url = late_server.url.removesuffix("/mcp") + "/sse"
    app = Dashboard(db, mcp_url=sse_url).start()
    try:
        with app.client() as client:
            yield client
    finally:
        app.stop()


def api_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
    return job


def start(client: httpx.Client, linger: float) -> str:
    response = client.post("/api/jobs", json={"tool": "answer_then_report", "linger": linger})
    assert response.status_code == 201, response.text
    assert response.json()["linger"] == linger
    job_id: str = response.json()["id"]
    return job_id


def test_lines_sent_after_the_answer_are_kept_marked_and_streamed_until_the_linger_is_over(
    late_client: httpx.Client,
) -> None:
    job_id = start(late_client, LINGER)
    with late_client.stream("GET", f"/jobs/{job_id}/events", timeout=30) as stream:
        # The state is set when the call returns, while the job still listens for what comes late.
        wait_until(lambda: api_job(late_client, job_id)["lingering_until"] is not None, what="the linger")
        job = api_job(late_client, job_id)
        assert job["state"] == "succeeded" and job["finished_at"] is not None
        page = late_client.get(f"/jobs/{job_id}", headers={"Accept": "text/html"}).text
        assert "listening for what the server sends late" in page and 'id="delete-job"' not in page
        assert late_client.delete(f"/api/jobs/{job_id}").status_code == 409
        rest = list(stream.iter_lines())  # to the stream's end
        # It ended with the linger, not with the call: by then the job no longer listens.
        assert api_job(late_client, job_id)["lingering_until"] is None
    assert rest[-3:] == ["event: end", "data: succeeded", ""]
    job = late_client.get(f"/api/jobs/{job_id}").json()
    assert (job["state"], job["lingering_until"], job["events"]) == ("succeeded", None, 23)
    events = all_events(late_client, job_id)
    assert [e["progress"] for e in events] == list(range(1, 24))  # each once, in order
    assert [e["note"] for e in events] == [None] * 3 + ["after_end"] * 20
    assert (job["progress"], job["message"]) == (3, "in time 3")  # late progress never moves the bar
    assert [seq for message in follow(late_client, job_id, after=0) for seq in message.seqs] == list(range(1, 24))


def test_the_form_sets_the_linger_and_a_linger_out_of_bounds_is_refused(late_client: httpx.Client) -> None:
    form = {"tool": "answer_then_report", "arguments": "{}", "linger": "0.5"}
    response = late_client.post("/jobs", data=form, headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303
    job = late_client.get("/api" + response.headers["location"]).json()
    assert job["linger"] == 0.5
    page = late_client.get(response.headers["location"], headers={"Accept": "text/html"}).text
    assert 'data-linger="0.5"' in page
    refused = late_client.post("/jobs", data={**form, "linger": "9999"}, headers={"Accept": "text/html"})
    assert refused.status_code == 400 and "Linger must be between 0 and 600 seconds" in refused.text
    assert late_client.post("/api/jobs", json={"tool": "answer_then_report", "linger": -1}).status_code == 422
