"""Long calls as MCP Tasks, and a person who answers the server (issue 16), end to end over real HTTP: the bundled
server's `long_task` on both protocol revisions (2026-07-28 with the tasks extension, 2025-11-25 with a
task-augmented call), through the real dashboard's JSON API: the result, the status lines, a question answered,
cancel reaching the server, a SIGKILLed dashboard re-attaching to the same task (run once, no line twice), and a
question still waiting after a restart."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SHARED
from tests.helpers import Dashboard, all_events, follow, server_stats, wait_until
from tests.odd_tasks_server import URL
from tests.postgres import TempPostgres
from webapp.bundled import ChildServer

REVISIONS = pytest.mark.parametrize("protocol", ["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
REVISION_OF = {"auto": "2026-07-28", "legacy": "2025-11-25"}


def dashboard_on(server: ChildServer, db: Path, protocol: str, *args: str) -> Dashboard:
    return Dashboard(db, mcp_url=server.url, args=("--protocol", protocol, *SHARED, *args)).start()


@pytest.fixture
def app(own_server: ChildServer, tmp_path: Path, protocol: str) -> Iterator[Dashboard]:
    dashboard = dashboard_on(own_server, tmp_path / "jobs.sqlite3", protocol)
    yield dashboard
    dashboard.stop()


def start(client: httpx.Client, **arguments: Any) -> str:
    response = client.post("/api/jobs", json={"tool": "long_task", "arguments": arguments})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    return job_id


def job_of(client: httpx.Client, job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
    return job


def waiting(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    wait_until(lambda: client.get(f"/api/jobs/{job_id}/input").json() != [], what="the server's question", timeout=20)
    questions: list[dict[str, Any]] = client.get(f"/api/jobs/{job_id}/input").json()
    return questions


def steps_logged(events: list[dict[str, Any]]) -> list[int]:
    logs = [e["data"] for e in events if e["kind"] == "log" and isinstance(e["data"], dict)]
    return [data["step"] for data in logs if "step" in data]


@REVISIONS
def test_a_task_runs_to_its_result_with_a_line_for_each_new_status(
    app: Dashboard, own_server: ChildServer, protocol: str
) -> None:
    with app.client() as client:
        tool = next(t for t in client.get("/api/server").json()["tools"] if t["name"] == "long_task")
        if protocol == "legacy":
            assert tool["execution"] == {"taskSupport": "optional"}  # the listing keeps what the tool says
        job_id = start(client, steps=4, delay=0.05)
        follow(client, job_id)
        job = job_of(client, job_id)
    assert job["state"] == "succeeded" and job["result"]["content"][0]["text"].startswith("completed 4 step(s)")
    task = job["task"]
    assert set(task) >= {"id", "status", "status_message", "ttl_ms", "poll_interval_ms", "created_at"}
    assert (task["status"], task["revision"], task["poll_interval_ms"]) == ("completed", REVISION_OF[protocol], 500)
    assert job["as_task"] is (True if protocol == "legacy" else None)
    with app.client() as client:
        events = all_events(client, job_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    statuses = [(e["data"]["status"], e["data"]["statusMessage"]) for e in events if e["kind"] == "task"]
    assert statuses[0][0] == "working" and statuses[-1][0] == "completed"
    assert len(statuses) == len(set(statuses))  # a line for each new status, none twice
    assert server_stats(own_server)["tasks_started"] == 1


@REVISIONS
def test_a_question_waits_for_an_answer_through_the_api_and_the_task_goes_on_with_it(
    app: Dashboard, protocol: str
) -> None:
    with app.client() as client:
        job_id = start(client, steps=4, delay=0.05, ask="Which colour?")
        (question,) = waiting(client, job_id)
        assert (question["key"], question["message"], question["mode"]) == ("q1", "Which colour?", "form")
        assert question["schema"]["required"] == ["answer"]
        assert job_of(client, job_id)["state"] == "input_required"
        page = client.get(f"/jobs/{job_id}", headers={"Accept": "text/html"}).text
        assert "The server asks you" in page and "Which colour?" in page and "waiting for you · long_task" in page
        wrong = client.post(f"/api/jobs/{job_id}/input/q1", json={"action": "accept", "content": {"answer": 3}})
        assert wrong.status_code == 422 and "does not fit the question's form" in wrong.json()["detail"]
        assert client.get(f"/api/jobs/{job_id}/input").json() != []  # nothing was sent
        right = client.post(f"/api/jobs/{job_id}/input/q1", json={"action": "accept", "content": {"answer": "teal"}})
        assert right.status_code == 202
        again = client.post(f"/api/jobs/{job_id}/input/q1", json={"action": "decline"})
        assert again.status_code == 409
        follow(client, job_id)
        job = job_of(client, job_id)
        events = all_events(client, job_id)
    assert job["state"] == "succeeded" and "teal" in job["result"]["content"][0]["text"]
    kinds = [(e["kind"], e["note"]) for e in events if e["kind"] in ("request", "answer")]
    assert kinds == [("request", "question"), ("answer", None)]


@REVISIONS
def test_cancel_reaches_the_servers_task(app: Dashboard, own_server: ChildServer, protocol: str) -> None:
    with app.client() as client:
        job_id = start(client, steps=400, delay=0.05)
        wait_until(lambda: (job_of(client, job_id)["task"] or {}).get("status") == "working", what="the task")
        assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 202
        follow(client, job_id)
        job = job_of(client, job_id)
    assert (job["state"], job["error"], job["task"]["status"]) == ("cancelled", "cancelled by the user", "cancelled")
    wait_until(lambda: server_stats(own_server)["tasks_cancelled"] == 1, what="the server to cancel its task")


@REVISIONS
def test_a_sigkilled_dashboard_re_attaches_to_the_same_task_which_runs_once_with_no_line_twice(
    own_server: ChildServer, tmp_path: Path, protocol: str
) -> None:
    db = tmp_path / "jobs.sqlite3"
    first = dashboard_on(own_server, db, protocol)
    with first.client() as client:
        job_id = start(client, steps=30, delay=0.1)
        wait_until(lambda: job_of(client, job_id)["events"] >= 6, what="the task to be under way")
        task_id = job_of(client, job_id)["task"]["id"]
    first.stop(signal.SIGKILL)
    second = dashboard_on(own_server, db, protocol)
    try:
        with second.client() as client:
            follow(client, job_id, timeout=60)
            job = job_of(client, job_id)
            events = all_events(client, job_id)
    finally:
        second.stop()
    assert (job["state"], job["task"]["id"]) == ("succeeded", task_id)  # the same task, followed to its end
    assert job["result"]["content"][0]["text"].startswith("completed 30 step(s)")
    assert server_stats(own_server)["tasks_started"] == 1  # the tool ran once
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    reattached = [e for e in events if e["kind"] == "task" and e["data"].get("dashboard") == "re-attached"]
    assert len(reattached) == 1
    logged = steps_logged(events)
    assert len(logged) == len(set(logged))  # on 2025, each step's line once (2026 carries no logs for tasks)


@REVISIONS
def test_a_question_still_waits_after_a_restart_and_its_answer_reaches_the_task(
    own_server: ChildServer, tmp_path: Path, protocol: str
) -> None:
    db = tmp_path / "jobs.sqlite3"
    first = dashboard_on(own_server, db, protocol)
    with first.client() as client:
        job_id = start(client, steps=4, delay=0.05, ask="Still there?")
        (asked,) = waiting(client, job_id)
    first.stop(signal.SIGKILL)
    second = dashboard_on(own_server, db, protocol)
    try:
        with second.client() as client:
            (still,) = waiting(client, job_id)
            assert (still["key"], still["requested_at"]) == (asked["key"], asked["requested_at"])
            answered = client.post(
                f"/api/jobs/{job_id}/input/{still['key']}", json={"action": "accept", "content": {"answer": "yes"}}
            )
            assert answered.status_code == 202
            follow(client, job_id, timeout=60)
            job = job_of(client, job_id)
    finally:
        second.stop()
    assert job["state"] == "succeeded" and "yes" in job["result"]["content"][0]["text"]
    assert server_stats(own_server)["tasks_started"] == 1


@REVISIONS
def test_a_question_no_one_answers_is_declined_after_the_input_timeout(
    own_server: ChildServer, tmp_path: Path, protocol: str
) -> None:
    app = dashboard_on(own_server, tmp_path / "jobs.sqlite3", protocol, "--input-timeout", "1")
    try:
        with app.client() as client:
            job_id = start(client, steps=2, delay=0.05, ask="Anyone?")
            follow(client, job_id, timeout=30)
            job = job_of(client, job_id)
            events = all_events(client, job_id)
    finally:
        app.stop()
    assert job["state"] == "succeeded" and "decline" in job["result"]["content"][0]["text"]
    (answer,) = [e for e in events if e["kind"] == "answer"]
    assert answer["data"]["action"] == "decline"
    assert re.search(r"declined: no answer within 1 s \(--input-timeout\)", answer["note"])


@pytest.mark.parametrize("protocol", ["legacy"])
def test_a_run_as_task_choice_and_a_plain_run(app: Dashboard, own_server: ChildServer, protocol: str) -> None:
    with app.client() as client:
        plain = client.post(
            "/api/jobs", json={"tool": "long_task", "arguments": {"steps": 2, "delay": 0}, "as_task": False}
        ).json()
        follow(client, plain["id"])
        assert job_of(client, plain["id"])["task"] is None and plain["as_task"] is False
        refused = client.post("/api/jobs", json={"tool": "run_job", "arguments": {}, "as_task": True})
        assert refused.status_code == 422 and "does not run 'run_job' as an MCP task" in refused.json()["detail"]
        form = client.get("/", headers={"Accept": "text/html"}, params={"server": "default"}).text
        assert "data-task-mode" not in form  # run_job, the default tool, runs plainly
        fields = client.get("/tools/arguments", params={"tool": "long_task"}).text
        assert 'data-task-mode="optional"' in fields and 'name="as_task" value="true" checked' in fields
    assert server_stats(own_server)["tasks_started"] == 0


@REVISIONS
def test_a_dashboard_stopped_gracefully_hands_its_task_job_over_to_its_next_start(
    own_server: ChildServer, tmp_path: Path, protocol: str
) -> None:
    db = tmp_path / "jobs.sqlite3"
    first = dashboard_on(own_server, db, protocol)
    with first.client() as client:
        job_id = start(client, steps=60, delay=0.1)
        wait_until(lambda: job_of(client, job_id)["events"] >= 4, what="the task to be under way")
    first.stop(signal.SIGTERM)  # a rolling restart: the job is not interrupted, its task goes on on the server
    assert server_stats(own_server)["tasks_finished"] == 0  # handed over at once, not waited for
    second = dashboard_on(own_server, db, protocol)
    try:
        with second.client() as client:
            # Still running, or (on a slow machine, the task done while this one started) finished by it.
            assert job_of(client, job_id)["state"] in ("running", "input_required", "succeeded")
            follow(client, job_id, timeout=60)
            job = job_of(client, job_id)
    finally:
        second.stop()
    assert job["state"] == "succeeded" and server_stats(own_server)["tasks_started"] == 1


@REVISIONS
def test_a_worker_killed_mid_task_leaves_its_job_to_another_worker_which_finishes_it(
    postgres: TempPostgres, own_server: ChildServer, protocol: str
) -> None:
    db = postgres.create_database(f"tasks_{protocol}")
    web = Dashboard(db, mcp_url=own_server.url, role="web", args=("--protocol", protocol))
    workers = [
        Dashboard(db, mcp_url=own_server.url, role="worker", args=("--protocol", protocol, "--max-jobs", "1"))
        for _ in range(2)
    ]
    started = []
    try:
        for process in [web, *workers]:
            started.append(process.start())
        with web.client() as client:
            job_id = start(client, steps=60, delay=0.1, ask="Still there?" if protocol == "legacy" else None)
            wait_until(lambda: (job_of(client, job_id)["task"] or {}).get("id") is not None, what="the task")
            victim_id = job_of(client, job_id)["worker"]
            victim = next(w for w in workers if w.worker_id == victim_id)
            victim.stop(signal.SIGKILL)
            wait_until(
                lambda: job_of(client, job_id)["worker"] not in (None, victim_id),
                what="another worker to take the job over",
                timeout=30,
            )
            if protocol == "legacy":  # a question asked on the lost worker's watch is answered on the other's
                (question,) = waiting(client, job_id)
                answer = {"action": "accept", "content": {"answer": "yes"}}
                assert client.post(f"/api/jobs/{job_id}/input/{question['key']}", json=answer).status_code == 202
            follow(client, job_id, timeout=90)
            job = job_of(client, job_id)
            events = all_events(client, job_id)
    finally:
        for process in started:
            process.stop()
    assert job["state"] == "succeeded", job
    assert job["worker"] != victim_id and server_stats(own_server)["tasks_started"] == 1
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


# ---- A server whose tasks are wrong ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChildServer, Dashboard]]:
    server = ChildServer(module="tests.odd_tasks_server").start()
    app = Dashboard(tmp_path_factory.mktemp("odd") / "jobs.sqlite3", mcp_url=server.url, args=SHARED).start()
    yield server, app
    app.stop()
    server.stop()


def odd_job(odd: tuple[ChildServer, Dashboard], tool: str) -> dict[str, Any]:
    with odd[1].client() as client:
        response = client.post("/api/jobs", json={"tool": tool, "arguments": {}})
        assert response.status_code == 201, response.text
        follow(client, response.json()["id"], timeout=60)
        return job_of(client, response.json()["id"])


@pytest.mark.parametrize(
    ("tool", "error"),
    [
        ("long_id", "the server gave the task an id of 300 characters (at most 256)"),
        ("odd_status", "the server gave the task an unknown status 'paused'"),
        ("not_a_result", "the task's result is not a tool's result"),
    ],
)
def test_a_task_the_dashboard_cannot_keep_fails_the_job_saying_why(
    odd: tuple[ChildServer, Dashboard], tool: str, error: str
) -> None:
    job = odd_job(odd, tool)
    assert job["state"] == "failed" and error in job["error"], job


def test_a_poll_interval_of_zero_is_clamped(odd: tuple[ChildServer, Dashboard]) -> None:
    job = odd_job(odd, "fast_poll")
    assert job["state"] == "succeeded" and job["result"]["content"][0]["text"] == "done"
    tasks = httpx.get(f"http://{odd[0].host}:{odd[0].port}/stats").json()
    (gets,) = [task["gets"] for task_id, task in tasks.items() if "fast_poll" in task_id]
    assert 2 <= gets <= 15  # a second's work at 0.1 s at least between polls (unclamped: hundreds of polls)


def test_input_requests_that_are_no_question_are_refused_and_a_huge_question_can_be_declined(
    odd: tuple[ChildServer, Dashboard],
) -> None:
    with odd[1].client() as client:
        job_id = client.post("/api/jobs", json={"tool": "asks_oddly", "arguments": {}}).json()["id"]
        (question,) = waiting(client, job_id)
        assert len(question["message"]) == 4000 and question["message"].endswith("…")  # a bounded preview
        page = client.get(f"/jobs/{job_id}", headers={"Accept": "text/html"}).text
        assert len(page) < 200_000 and f"/api/jobs/{job_id}/events/{question['seq']}" in page  # the raw JSON
        accepted = client.post(f"/api/jobs/{job_id}/input/{question['key']}", json={"action": "accept", "content": {}})
        assert accepted.status_code == 422
        declined = client.post(f"/api/jobs/{job_id}/input/{question['key']}", json={"action": "decline"})
        assert declined.status_code == 202
        follow(client, job_id, timeout=60)
        job = job_of(client, job_id)
        events = all_events(client, job_id)
    assert job["state"] == "succeeded" and job["result"]["content"][0]["text"] == "answered decline"
    requests = [(e["method"], e["note"]) for e in events if e["kind"] == "request"]
    assert requests == [("sampling/createMessage", "refused"), ("elicitation/create", "question")]
    raw = next(e for e in events if e["kind"] == "request" and e["note"] == "question")
    assert raw["data_bytes"] > 1_000_000  # the whole question, cut to --max-event-bytes, its size said


def test_a_url_question_names_its_host_and_is_only_a_link_and_accepting_it_sends_no_content(
    odd: tuple[ChildServer, Dashboard],
) -> None:
    with odd[1].client() as client:
        job_id = client.post("/api/jobs", json={"tool": "asks_url", "arguments": {}}).json()["id"]
        (question,) = waiting(client, job_id)
        assert (question["mode"], question["url"], question["schema"]) == ("url", URL, None)
        page = client.get(f"/jobs/{job_id}", headers={"Accept": "text/html"}).text
        assert 'data-url-host="sign.example.org"' in page
        assert (
            f'<a class="question-url" href="{URL.replace("&", "&amp;")}" target="_blank" rel="noopener noreferrer">'
            in page
        )
        accepted = client.post(f"/api/jobs/{job_id}/input/{question['key']}", json={"action": "accept"})
        assert accepted.status_code == 202 and accepted.json()["content"] is None
        follow(client, job_id, timeout=60)
        assert job_of(client, job_id)["result"]["content"][0]["text"] == "answered accept"


@REVISIONS
def test_a_plain_call_that_asks_first_waits_for_the_answer(app: Dashboard, protocol: str) -> None:
    """`confirm`: on 2026-07-28 the call is answered `input_required` (multi round-trip) and called again with the
    answer; on 2025-11-25 the server sends elicitation/create during the call."""
    with app.client() as client:
        job_id = client.post("/api/jobs", json={"tool": "confirm", "arguments": {"question": "Ship it?"}}).json()["id"]
        (question,) = waiting(client, job_id)
        assert question["message"] == "Ship it?" and job_of(client, job_id)["task"] is None
        answer = {"action": "accept", "content": {"answer": "yes"}}
        assert client.post(f"/api/jobs/{job_id}/input/{question['key']}", json=answer).status_code == 202
        follow(client, job_id)
        job = job_of(client, job_id)
        events = all_events(client, job_id)
    assert (job["state"], job["result"]["content"][0]["text"]) == ("succeeded", "you said: yes")
    assert [(e["kind"], e["method"], e["note"]) for e in events if e["kind"] in ("request", "answer")] == [
        ("request", "elicitation/create", "question"),
        ("answer", "elicitation/create", None),
    ]
