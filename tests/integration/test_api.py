"""The JSON API of the real dashboard process, against the real bundled MCP server."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import all_events, follow, run_to_end, start_job
from webapp.events import LEVELS


def test_a_job_runs_to_success_and_keeps_its_result_and_every_event(client: httpx.Client) -> None:
    response = client.post("/api/jobs", json={"tool": "run_job", "arguments": {"steps": 16, "delay": 0.01}})
    assert response.status_code == 201
    created = response.json()
    assert created["url"] == f"/jobs/{created['id']}"
    assert created["state"] == "queued"  # until a worker takes it: at once, with a free one

    follow(client, created["id"])
    job = client.get(f"/api/jobs/{created['id']}").json()
    assert job["state"] == "succeeded"
    assert job["error"] is None
    assert (job["progress"], job["total"], job["message"]) == (16, 16, "step 16/16")
    assert job["result"]["content"][0]["text"] == "completed 16 step(s)"
    assert job["finished_at"] >= job["created_at"]

    events = all_events(client, created["id"])
    assert [e["seq"] for e in events] == list(range(1, 33))
    logs = [e for e in events if e["kind"] == "log"]
    assert [e["level"] for e in logs] == list(LEVELS) * 2
    assert logs[0]["logger"] == "demo.job.debug"
    assert logs[0]["data"] == {"step": 1, "of": 16, "level": "debug", "msg": "step 1 at debug"}
    progress = [e for e in events if e["kind"] == "progress"]
    assert [(e["progress"], e["total"]) for e in progress] == [(n, 16) for n in range(1, 17)]
    assert all(e["received_at"].endswith("Z") for e in events)


def test_events_page_with_after_and_limit(client: httpx.Client) -> None:
    job = run_to_end(client, steps=10, delay=0)
    page = client.get(f"/api/jobs/{job['id']}/events", params={"after": 5, "limit": 10}).json()
    assert [e["seq"] for e in page["events"]] == list(range(6, 16))
    assert page["more"] is True
    rest = client.get(f"/api/jobs/{job['id']}/events", params={"after": 15, "limit": 10}).json()
    assert [e["seq"] for e in rest["events"]] == list(range(16, 21))
    assert rest["more"] is False


def test_jobs_are_listed_newest_first(client: httpx.Client) -> None:
    first = start_job(client, steps=1, delay=0)
    second = start_job(client, steps=1, delay=0)
    ids = [j["id"] for j in client.get("/api/jobs").json()]
    assert ids.index(second) < ids.index(first)
    follow(client, first)
    follow(client, second)


def test_a_failing_tool_fails_the_job_with_the_error_text(client: httpx.Client) -> None:
    job = run_to_end(client, steps=8, delay=0, fail_at=5)
    assert job["state"] == "failed"
    assert "step 5 failed" in job["error"]
    assert job["result"]["isError"] is True
    assert job["events"] == 9  # 5 log lines and the 4 progress notifications before the failure


def test_process_items_reports_progress_by_item(client: httpx.Client) -> None:
    job = run_to_end(client, "process_items", items=["a.txt", "b.txt", "c.txt"], delay=0)
    assert job["state"] == "succeeded"
    assert (job["progress"], job["total"], job["message"]) == (3, 3, "processed c.txt")


def test_several_jobs_run_at_once_and_keep_their_own_lines(client: httpx.Client) -> None:
    ids = [
        start_job(client, "process_items", items=[f"job{n}-item{i}" for i in range(5)], delay=0.01) for n in range(4)
    ]
    for n, job_id in enumerate(ids):
        follow(client, job_id)
        events = all_events(client, job_id)
        assert [e["seq"] for e in events] == list(range(1, 11))
        assert all(f"job{n}-" in (e["data"] or e["message"]) for e in events)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"tool": "no_such_tool", "arguments": {}}, 404, "Unknown tool 'no_such_tool'"),
        ({"tool": "run_job", "arguments": {"steps": "many"}}, 422, 'steps: "many" is not of type "integer"'),
        ({"tool": "process_items", "arguments": {}}, 422, '"items" is a required property'),
        ({"tool": "run_job", "arguments": [1, 2]}, 422, "arguments"),
        ({"arguments": {}}, 422, "tool: Field required"),
        ({"tool": "run_job", "idle_timeout": -1}, 422, "idle_timeout"),
    ],
)
def test_bad_job_requests_get_a_clear_4xx(client: httpx.Client, body: object, status: int, words: str) -> None:
    before = len(client.get("/api/jobs", params={"limit": 1000}).json())
    response = client.post("/api/jobs", json=body)
    assert response.status_code == status
    assert words in response.json()["detail"]
    assert len(client.get("/api/jobs", params={"limit": 1000}).json()) == before  # nothing was started


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"tool": "run_job", "arguments": {"delay": NaN}}', "must not contain NaN or Infinity"),
        (b'{"tool": "run_job", "idle_timeout": Infinity}', "idle_timeout"),
        (b'{"tool": "run_job", "max_duration": 1e999}', "max_duration"),
    ],
)
def test_numbers_json_cannot_carry_are_refused_before_anything_starts(
    client: httpx.Client, body: bytes, words: str
) -> None:
    before = len(client.get("/api/jobs", params={"limit": 1000}).json())
    response = client.post("/api/jobs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert words in response.json()["detail"]
    assert len(client.get("/api/jobs", params={"limit": 1000}).json()) == before


def test_a_foreign_host_name_is_refused(client: httpx.Client) -> None:
    # DNS rebinding: a page at evil.example whose name now resolves to 127.0.0.1.
    response = client.get("/api/jobs", headers={"Host": "evil.example:8000"})
    assert response.status_code == 400
    assert client.get("/api/jobs", headers={"Host": "localhost"}).status_code == 200


def test_malformed_json_is_a_400(client: httpx.Client) -> None:
    response = client.post("/api/jobs", content=b'{"tool": "run_job",', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"] == "The request body is not valid JSON."


@pytest.mark.parametrize("path", ["/api/jobs/nope", "/api/jobs/nope/events", "/jobs/nope", "/jobs/nope/events"])
def test_an_unknown_job_is_a_404_with_a_message(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "No job with id 'nope'" in response.json()["detail"]


def test_cancelling_an_ended_job_is_a_409(client: httpx.Client) -> None:
    job = run_to_end(client, steps=1, delay=0)
    response = client.post(f"/api/jobs/{job['id']}/cancel")
    assert response.status_code == 409
    assert "already ended (succeeded)" in response.json()["detail"]


def test_server_endpoint_describes_the_connection(client: httpx.Client) -> None:
    server = client.get("/api/server").json()
    assert server["state"] == "connected"
    assert server["name"] == "mcp-live-demo" and server["version"] == "1.0.0"
    assert server["protocol_version"]
    assert {t["name"] for t in server["tools"]} == {
        "process_items",
        "run_job",
        "flood",
        "scripted",
        "announce_changes",
        "broadcast",
        "long_task",
        "confirm",
    }


def test_a_write_from_another_origin_is_refused(client: httpx.Client) -> None:
    evil = {"Origin": "http://evil.example"}
    response = client.post("/jobs", data={"tool": "run_job", "arguments": "{}"}, headers=evil)
    assert response.status_code == 403
    assert "another origin (http://evil.example)" in response.json()["detail"]
    assert client.post("/api/jobs", json={"tool": "run_job"}, headers=evil).status_code == 403
    same = {"Origin": str(client.base_url).rstrip("/")}
    response = client.post("/api/jobs", json={"tool": "run_job", "arguments": {"steps": 1, "delay": 0}}, headers=same)
    assert response.status_code == 201
    follow(client, response.json()["id"])


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ('{"steps": ', "Arguments are not valid JSON"),
        ("[1, 2]", "Arguments must be a JSON object"),
        ("[" * 100_000, "will not read"),
        ('{"steps": ' + "9" * 5000 + "}", "will not read"),
    ],
)
def test_the_form_explains_arguments_it_cannot_use(client: httpx.Client, arguments: str, words: str) -> None:
    response = client.post("/jobs", data={"tool": "run_job", "arguments": arguments})
    assert response.status_code == 400
    assert words in response.text


def test_a_rerun_is_a_new_job_with_the_same_tool_arguments_limits_level_and_linger(client: httpx.Client) -> None:
    body = {
        "tool": "run_job",
        "arguments": {"steps": 2, "delay": 0},
        "idle_timeout": 30,
        "max_duration": 90,
        "log_level": "error",
        "linger": 0.5,
    }
    first = client.post("/api/jobs", json=body).json()
    follow(client, first["id"])
    response = client.post(f"/api/jobs/{first['id']}/rerun")
    assert response.status_code == 201
    again = response.json()
    assert response.headers["location"] == f"/api/jobs/{again['id']}" and again["id"] != first["id"]
    assert {key: again[key] for key in body} == body
    assert client.post("/api/jobs/nope/rerun").status_code == 404
