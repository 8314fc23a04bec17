"""Every notification is a line: what a server sends beside the call's log and progress, and its requests (a
question answered by a person through the API), are kept in order with their JSON-RPC method, shown on the page and
streamed, on a 2025-era session (which carries them all) against the bundled server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Dashboard, all_events, follow, run_to_end, start_job, wait_until
from webapp.bundled import ChildServer

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def legacy_client(mcp_server: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    db: Path = tmp_path_factory.mktemp("notifications") / "jobs.sqlite3"
    # Checked every ten minutes: a check before then is one that tools/list_changed asked for.
    app = Dashboard(db, mcp_url=mcp_server.url, args=("--protocol", "legacy", "--status-interval", "600")).start()
    try:
        with app.client() as client:
            yield client
    finally:
        app.stop()


def answer_when_asked(client: httpx.Client, job_id: str, action: str, content: dict[str, object] | None) -> None:
    """Wait (bounded) for the job's question, then answer it through the API as a person would."""
    wait_until(lambda: client.get(f"/api/jobs/{job_id}/input").json() != [], what="the server's question")
    (question,) = client.get(f"/api/jobs/{job_id}/input").json()
    response = client.post(f"/api/jobs/{job_id}/input/{question['key']}", json={"action": action, "content": content})
    assert response.status_code == 202, response.text


def test_list_changes_resource_updates_and_a_question_are_kept_in_order_with_their_method(
    legacy_client: httpx.Client,
) -> None:
    job_id = start_job(legacy_client, "announce_changes")
    answer_when_asked(legacy_client, job_id, "accept", {"publish": True})
    follow(legacy_client, job_id)
    job = legacy_client.get(f"/api/jobs/{job_id}").json()
    assert (job["state"], job["result"]["content"][0]["text"]) == ("succeeded", "announced 4 change(s)")
    events = all_events(legacy_client, job_id)
    assert [(e["seq"], e["kind"], e["method"]) for e in events] == [
        (1, "log", "notifications/message"),
        (2, "notification", "notifications/resources/updated"),
        (3, "notification", "notifications/resources/list_changed"),
        (4, "notification", "notifications/tools/list_changed"),
        (5, "notification", "notifications/prompts/list_changed"),
        (6, "request", "elicitation/create"),
        (7, "answer", "elicitation/create"),
        (8, "log", "notifications/message"),
        (9, "log", "notifications/message"),
    ]
    assert events[1]["data"] == {"uri": "demo://report"}
    assert (events[5]["note"], events[5]["data"]["message"]) == ("question", "Publish the report?")
    assert events[6]["data"] == {"key": "q1", "action": "accept", "content": {"publish": True}}
    assert events[7]["data"] == "the question was answered: accept"  # the server heard the person


def test_the_page_and_the_stream_show_each_as_a_line_of_its_kind(legacy_client: httpx.Client) -> None:
    job_id = start_job(legacy_client, "announce_changes")
    answer_when_asked(legacy_client, job_id, "decline", None)
    follow(legacy_client, job_id)
    page = legacy_client.get(f"/jobs/{job_id}", headers=HTML).text
    assert 'data-kind="notification" data-method="notifications/tools/list_changed"' in page
    assert 'data-kind="request" data-method="elicitation/create" data-note="question"' in page
    assert "(a question for you)" in page
    assert 'data-kind="answer" data-method="elicitation/create"' in page
    assert "&#34;uri&#34;: &#34;demo://report&#34;" in page
    streamed = follow(legacy_client, job_id, after=0)
    assert [seq for message in streamed for seq in message.seqs] == list(range(1, 10))
    assert 'data-method="notifications/resources/updated"' in "".join(m.data for m in streamed)


def test_a_servers_tools_are_read_again_when_it_says_they_changed(legacy_client: httpx.Client) -> None:
    checked = legacy_client.get("/api/server").json()["checked_at"]
    run_to_end(legacy_client, "announce_changes", ask=False)
    wait_until(
        lambda: legacy_client.get("/api/server").json()["checked_at"] != checked,
        what="the server's tools to be read again",
    )
