"""The dashboard against a peer it did not grow up with: the real npm `@modelcontextprotocol/server-everything`
(TypeScript SDK, 2025-11-25 sessions), over streamable HTTP and over legacy SSE, through the JSON API.

What the server does, read in its dist/ and measured: `trigger-long-running-operation {duration, steps}` sends
progress 1..steps with the total and no message, one step every duration/steps seconds, only to a request that
carries a progress token. `toggle-simulated-logging` sends one log line of a random level at once and one every
5 s, on the session (not tied to any call), filtered by the session's logging/setLevel. `gzip-file-as-resource`
registers a resource, which announces `notifications/resources/list_changed`. Over SSE every session also hears
`notifications/tools/list_changed` as it starts, once per tool the server registers for the client's capabilities
after it has initialized (three for the dashboard, which offers elicitation). `simulate-research-query` must be
called as a task: tests/integration/test_everything_tasks.py covers it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.everything import EverythingServer
from tests.helpers import Dashboard, all_events, follow, wait_until
from webapp.events import LEVELS

LINGER = 12.0  # the simulated log comes at once, then every 5 s: lines at about 0, 5 and 10 s of the linger
# Each level of simulated logging is drawn at random; several sessions at warning make a lost setLevel show
# (3 jobs, 3 lines each: 9 draws, each below warning 3 times in 8).
WARNING_JOBS = 3
# "Warning-level message - SessionId <uuid>" (the server spells one of them "Alert level-message").
SIMULATED_LOG = re.compile(r"^(\w+)[- ]level[- ]message - SessionId ([0-9a-f-]{36})$")


@pytest.fixture(scope="module", params=["streamableHttp", "sse"])
def everything(request: pytest.FixtureRequest) -> Iterator[EverythingServer]:
    server = EverythingServer(request.param).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api(everything: EverythingServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The real dashboard under uvicorn, its --mcp-url on server-everything, once the dashboard has met it."""
    db: Path = tmp_path_factory.mktemp("everything") / "jobs.sqlite3"
    app = Dashboard(db, mcp_url=everything.url).start()
    try:
        with app.client() as client:
            wait_until(
                lambda: client.get("/api/server").json()["state"] == "connected",
                what=f"the dashboard to reach server-everything\n{everything.output()}",
                timeout=20,
            )
            yield client
    finally:
        app.stop()


def start(client: httpx.Client, tool: str, arguments: dict[str, Any] | None = None, **options: Any) -> str:
    response = client.post("/api/jobs", json={"tool": tool, "arguments": arguments or {}, **options})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    return job_id


def settle(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """Follow the job's stream to its end (the end of its linger, if any) and return the job."""
    follow(client, job_id)
    job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
    assert job["lingering_until"] is None, job
    return job


def at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def session_notices(everything: EverythingServer, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The notifications a session over SSE hears as it starts, before the call: the events that are not them."""
    if everything.transport == "sse":
        starting = 0
        while (events[starting]["kind"], events[starting]["method"], events[starting]["note"]) == (
            "notification",
            "notifications/tools/list_changed",
            None,
        ):
            starting += 1
        assert starting >= 1, events[:3]
        return events[starting:]
    return events


def test_it_listens_on_loopback_only(everything: EverythingServer) -> None:
    # The package binds every interface; the preload of tests/everything.py pins it (ports are hex in /proc).
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, port = local.split(":")
            if state == "0A" and int(port, 16) == everything.port:
                listening.append(address)
    assert listening == ["0100007F"]


def test_the_dashboard_meets_it_in_a_2025_session_and_lists_its_tools(
    api: httpx.Client, everything: EverythingServer
) -> None:
    server = api.get("/api/server").json()
    assert (server["name"], server["version"], server["protocol_version"]) == (
        "mcp-servers/everything",
        "2.0.0",
        "2025-11-25",  # auto mode tried 2026-07-28 first and fell back to the initialize handshake
    )
    tools = {tool["name"]: tool for tool in server["tools"]}
    assert set(tools["trigger-long-running-operation"]["inputSchema"]["properties"]) == {"duration", "steps"}
    assert {"toggle-simulated-logging", "gzip-file-as-resource", "echo"} <= set(tools)
    # Offered by capability: the dashboard answers questions (elicitation) but samples no model.
    assert "trigger-elicitation-request" in tools and "trigger-sampling-request" not in tools


def test_a_long_running_operation_records_each_step_live_with_its_total_and_no_message(
    api: httpx.Client, everything: EverythingServer
) -> None:
    job_id = start(api, "trigger-long-running-operation", {"duration": 1.5, "steps": 5})
    job = settle(api, job_id)
    assert (job["state"], job["progress"], job["total"], job["message"]) == ("succeeded", 5, 5, None)
    assert job["result"]["content"] == [
        {"type": "text", "text": "Long running operation completed. Duration: 1.5 seconds, Steps: 5."}
    ]
    events = session_notices(everything, all_events(api, job_id))
    assert [(e["kind"], e["progress"], e["total"], e["message"], e["note"]) for e in events] == [
        ("progress", float(step), 5.0, None, None) for step in range(1, 6)
    ]
    # One step every 0.3 s, each relayed as it came: not all at once when the call returned.
    received = [at(e["received_at"]) for e in events]
    assert received == sorted(received) and received[-1] - received[0] >= 0.6


def test_a_cancelled_operation_ends_cancelled_though_the_server_ignores_the_cancel(api: httpx.Client) -> None:
    job_id = start(api, "trigger-long-running-operation", {"duration": 20, "steps": 20})
    wait_until(lambda: api.get(f"/api/jobs/{job_id}").json()["progress"] is not None, what="the first step")
    assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 202
    job = settle(api, job_id)
    assert (job["state"], job["error"]) == ("cancelled", "cancelled by the user")
    assert at(job["finished_at"]) - at(job["created_at"]) < 10  # the call was dropped, not waited for


def test_a_resource_it_registers_during_the_call_is_a_list_changed_line_of_the_job(
    api: httpx.Client, everything: EverythingServer
) -> None:
    data = "data:text/plain;base64," + base64.b64encode(b"hello from mcp-live").decode()
    arguments = {"name": f"notes-{everything.transport}.txt.gz", "data": data, "outputType": "resourceLink"}
    # A moment's linger: on streamable HTTP the announcement travels on the session's own stream, beside the answer.
    job = settle(api, start(api, "gzip-file-as-resource", arguments, linger=1))
    assert job["state"] == "succeeded"
    [link] = job["result"]["content"]
    assert (link["type"], link["uri"]) == ("resource_link", f"demo://resource/session/{arguments['name']}")
    events = session_notices(everything, all_events(api, job["id"]))
    assert [(e["kind"], e["method"], e["data"]) for e in events] == [
        ("notification", "notifications/resources/list_changed", {})
    ]


@pytest.fixture(scope="module")
def simulated_logging(api: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    """One job at the default level (debug) and WARNING_JOBS at warning, all toggling simulated logging on their
    own sessions and lingering at once: the jobs, each with its events."""
    ids = [start(api, "toggle-simulated-logging", linger=LINGER)]
    ids += [start(api, "toggle-simulated-logging", linger=LINGER, log_level="warning") for _ in range(WARNING_JOBS)]
    return {job_id: [settle(api, job_id), *all_events(api, job_id)] for job_id in ids}


def simulated_logs(job_and_events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The job's simulated log lines, each checked: its text names its level and the job's one session."""
    logs = [e for e in job_and_events[1:] if e["kind"] == "log"]
    sessions = set()
    for line in logs:
        found = SIMULATED_LOG.match(line["data"])
        assert found is not None, line
        assert found.group(1).lower() == line["level"] and line["logger"] is None
        sessions.add(found.group(2))
    assert len(sessions) <= 1  # one connection per job: every line is its own session's
    return logs


def test_log_lines_sent_after_the_call_returned_are_kept_on_the_job_while_it_lingers(
    simulated_logging: dict[str, list[dict[str, Any]]], everything: EverythingServer
) -> None:
    job, *events = next(iter(simulated_logging.values()))
    assert (job["state"], job["log_level"], job["linger"]) == ("succeeded", "debug", LINGER)
    assert job["result"]["content"][0]["text"].startswith("Started simulated, random-leveled logging for session")
    logs = simulated_logs([job, *events])
    assert [e["kind"] for e in session_notices(everything, events)] == ["log"] * len(logs)
    late = [e for e in logs if e["note"] == "after_end"]
    # At about 5 and 10 s into the linger (the first one, sent with the answer, may come on either side of it).
    assert 2 <= len(late) <= len(logs) <= 3, logs
    waited = [at(e["received_at"]) - at(job["finished_at"]) for e in late]
    assert max(waited) > 8, waited
    assert everything.running(), everything.output()


def test_a_job_asking_for_warning_gets_no_debug_info_or_notice_line(
    simulated_logging: dict[str, list[dict[str, Any]]],
) -> None:
    warning_jobs = list(simulated_logging.values())[1:]
    levels = []
    for job, *events in warning_jobs:
        assert (job["state"], job["log_level"]) == ("succeeded", "warning")
        levels += [e["level"] for e in simulated_logs([job, *events])]
    assert set(levels) <= set(LEVELS[LEVELS.index("warning") :]), levels
    assert levels  # and the level lets lines through: all 9 draws below warning has odds of 1 in 6,800
