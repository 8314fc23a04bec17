"""MCP Tasks against a peer we did not write: the real npm server-everything 2026.8.31 (TypeScript SDK, 2025-11-25
sessions: it does not speak 2026-07-28), whose `simulate-research-query` must run as a task. Plain, ambiguous (its
question answered with "programming", as a person would through the API) and cancelled, over streamable HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SHARED
from tests.everything import EverythingServer
from tests.helpers import Dashboard, all_events, follow, wait_until

TOOL = "simulate-research-query"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    server = EverythingServer("streamableHttp").start()
    db: Path = tmp_path_factory.mktemp("everything-tasks") / "jobs.sqlite3"
    app = Dashboard(db, mcp_url=server.url, args=SHARED).start()
    try:
        with app.client() as client:
            wait_until(
                lambda: client.get("/api/server").json()["state"] == "connected",
                what=f"the dashboard to reach server-everything\n{server.output()}",
                timeout=20,
            )
            yield client
    finally:
        app.stop()
        server.stop()


def research(client: httpx.Client, **arguments: Any) -> str:
    response = client.post("/api/jobs", json={"tool": TOOL, "arguments": {"topic": "python", **arguments}})
    assert response.status_code == 201, response.text
    assert response.json()["as_task"] is True  # the tool requires it
    job_id: str = response.json()["id"]
    return job_id


def test_the_research_tool_is_listed_as_one_that_runs_as_a_task(api: httpx.Client) -> None:
    server = api.get("/api/server").json()
    assert server["capabilities"]["tasks"]["requests"] == {"tools": {"call": {}}}
    (tool,) = [t for t in server["tools"] if t["name"] == TOOL]
    assert tool["execution"] == {"taskSupport": "required"}
    fields = api.get("/tools/arguments", params={"tool": TOOL}).text
    assert 'data-task-mode="required"' in fields and "runs as an <strong>MCP task</strong>" in fields


def test_a_plain_research_query_runs_as_a_task_to_its_report_with_its_stages_as_lines(api: httpx.Client) -> None:
    job_id = research(api)
    follow(api, job_id, timeout=60)
    job = api.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "succeeded", job
    assert job["result"]["content"][0]["text"].startswith("# Research Report: python")
    assert (job["task"]["status"], job["task"]["ttl_ms"], job["task"]["revision"]) == (
        "completed",
        300000,
        "2025-11-25",
    )
    messages = [e["message"] for e in all_events(api, job_id) if e["kind"] == "task"]
    for stage in ("Gathering sources...", "Analyzing content...", "Synthesizing findings...", "Generating report..."):
        assert stage in messages


def test_an_ambiguous_query_asks_a_person_who_answers_programming(api: httpx.Client) -> None:
    job_id = research(api, ambiguous=True)
    wait_until(lambda: api.get(f"/api/jobs/{job_id}/input").json() != [], what="the question", timeout=30)
    (question,) = api.get(f"/api/jobs/{job_id}/input").json()
    assert "could have multiple interpretations" in question["message"]
    choices = question["schema"]["properties"]["interpretation"]["oneOf"]
    assert choices[0]["const"] == "programming"
    page = api.get(f"/jobs/{job_id}", headers={"Accept": "text/html"}).text
    assert "Python programming language" in page  # the choice, labelled by its title
    answered = api.post(
        f"/api/jobs/{job_id}/input/{question['key']}",
        json={"action": "accept", "content": {"interpretation": "programming"}},
    )
    assert answered.status_code == 202, answered.text
    follow(api, job_id, timeout=60)
    job = api.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "succeeded", job
    assert "# Research Report: python (programming)" in job["result"]["content"][0]["text"]
    events = all_events(api, job_id)
    assert [(e["kind"], e["note"]) for e in events if e["kind"] in ("request", "answer")] == [
        ("request", "question"),
        ("answer", None),
    ]


def test_a_cancelled_research_query_is_cancelled_on_the_server(api: httpx.Client) -> None:
    job_id = research(api)
    wait_until(lambda: api.get(f"/api/jobs/{job_id}").json()["task"] is not None, what="the task", timeout=30)
    assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 202
    follow(api, job_id, timeout=60)
    job = api.get(f"/api/jobs/{job_id}").json()
    assert (job["state"], job["error"]) == ("cancelled", "cancelled by the user")
    assert job["task"]["status"] == "cancelled"  # as the server said it, after our tasks/cancel


def test_its_elicitation_tool_is_offered_and_a_persons_answer_reaches_it_during_a_plain_call(api: httpx.Client) -> None:
    # The tool exists only for clients that declare elicitation: the dashboard's probe and jobs both do.
    response = api.post("/api/jobs", json={"tool": "trigger-elicitation-request", "arguments": {}})
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    wait_until(lambda: api.get(f"/api/jobs/{job_id}/input").json() != [], what="the question", timeout=30)
    assert api.get(f"/api/jobs/{job_id}").json()["state"] == "input_required"
    (question,) = api.get(f"/api/jobs/{job_id}/input").json()
    assert question["message"] == "Please provide inputs for the following fields:"
    assert question["schema"]["required"] == ["name"]
    answer = {"action": "accept", "content": {"name": "Ada Lovelace", "check": True}}
    assert api.post(f"/api/jobs/{job_id}/input/{question['key']}", json=answer).status_code == 202
    follow(api, job_id, timeout=60)
    job = api.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "succeeded", job
    assert "- Name: Ada Lovelace\n- Agreed to terms: true" in job["result"]["content"][1]["text"]
