"""Flow control of a job page's stream (issue 18): the server learns how far a page has got and sends it no more
than a window beyond that; a page that never says, names a seq from the future, or comes back far behind gets the
tail and a `skip` event for what it missed (which stays in the store), and the server buffers nothing for it."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.helpers import SseMessage, follow, read_sse, start_job

VIEWER = "viewer-test-1"


def lines_and_skips(messages: list[SseMessage]) -> list[Any]:
    """What a page is told, in order: each line's seq, and each skip as (from, to, count)."""
    told: list[Any] = []
    for message in messages:
        if message.event == "skip":
            skip = json.loads(message.data)
            told.append((skip["from"], skip["to"], skip["count"]))
        else:
            told += message.seqs
    return told


def assert_covers(told: list[Any], first: int, last: int) -> None:
    expected = first
    for item in told:
        if isinstance(item, tuple):
            start, end, count = item
            assert start == expected and count == end - start + 1, (item, expected)
            expected = end + 1
        else:
            assert item == expected, (item, expected)
            expected += 1
    assert expected == last + 1


def finished_flood(client: httpx.Client, count: int) -> str:
    job_id = start_job(client, "flood", count=count)
    follow(client, job_id)
    return job_id


def read_all(client: httpx.Client, job_id: str, **params: str | int) -> list[SseMessage]:
    headers = {}
    if "last_event_id" in params:
        headers["Last-Event-ID"] = str(params.pop("last_event_id"))
    with client.stream("GET", f"/jobs/{job_id}/events", params=params, headers=headers, timeout=30) as response:
        response.raise_for_status()
        return list(read_sse(response.iter_lines()))


def test_a_page_that_never_says_how_far_it_got_gets_a_window_then_the_tail_with_a_skip(client: httpx.Client) -> None:
    job_id = finished_flood(client, 1000)  # 2,000 events
    messages = read_all(client, job_id, after=0, tail=50, viewer=VIEWER)
    told = lines_and_skips(messages)
    seqs = [item for item in told if isinstance(item, int)]
    skips = [item for item in told if isinstance(item, tuple)]
    assert len(skips) >= 1 and len(seqs) <= 50 + 50  # a window from where it started, and the tail: no backlog
    assert seqs[-1] == 2000
    assert_covers(told, 1, 2000)
    assert messages[-1].event == "end"
    # The skip's id moves the cursor: a reconnect resumes after what it skipped.
    skip_message = next(m for m in messages if m.event == "skip")
    assert skip_message.id == str(json.loads(skip_message.data)["to"])


def test_a_page_that_says_how_far_it_got_is_sent_every_line(client: httpx.Client, dashboard: Any) -> None:
    job_id = start_job(client, "flood", count=1500)  # 3,000 events, live
    told: list[Any] = []
    statuses: list[int] = []
    with (
        dashboard.client() as acks,
        client.stream(
            "GET", f"/jobs/{job_id}/events", params={"after": 0, "tail": 5000, "viewer": VIEWER}, timeout=30
        ) as response,
    ):
        for message in read_sse(response.iter_lines()):
            told += lines_and_skips([message])
            if message.id is not None and message.event is None:
                answer = acks.post(f"/jobs/{job_id}/viewers/{VIEWER}/ack", params={"seq": message.id})
                # (Once the job's last lines are sent, its stream ends, and the viewer with it: then a 404.)
                statuses.append(answer.status_code)
            if message.event == "end":
                break
    assert told == list(range(1, 3001))  # no skip: it kept up
    assert statuses.count(204) >= len(statuses) - 2 and set(statuses) <= {204, 404}


def test_a_page_too_far_behind_for_its_window_is_told_to_skip_not_sent_the_backlog(client: httpx.Client) -> None:
    job_id = finished_flood(client, 1000)
    # It comes back with a Last-Event-ID far behind: the tail, and a skip for the rest.
    messages = read_all(client, job_id, after=0, tail=100, viewer=VIEWER, last_event_id=10)
    told = lines_and_skips(messages)
    assert isinstance(told[0], tuple) and told[0][0] == 11
    assert len([item for item in told if isinstance(item, int)]) == 100
    assert_covers(told, 11, 2000)


def test_acknowledgements_that_do_not_fit_are_refused_and_say_why(client: httpx.Client) -> None:
    job_id = finished_flood(client, 20)
    url = f"/jobs/{job_id}/viewers/{VIEWER}/ack"
    unknown = client.post(url, params={"seq": 1})
    assert unknown.status_code == 404 and "No open stream" in unknown.json()["detail"]
    assert client.post(f"/jobs/{job_id}/viewers/x/ack", params={"seq": 1}).status_code == 422  # not a viewer id
    assert client.post(url, params={"seq": -1}).status_code == 422
    assert client.post(url).status_code == 422  # no seq
    assert client.get(f"/jobs/{job_id}/events", params={"viewer": "<b>"}).status_code == 422
    # While its stream is open: a seq from the future is refused, and the page then gets the tail with a skip.
    job_id = start_job(client, "flood", count=1000)
    url = f"/jobs/{job_id}/viewers/{VIEWER}/ack"
    told: list[Any] = []
    refused = False
    with client.stream(
        "GET", f"/jobs/{job_id}/events", params={"after": 0, "tail": 50, "viewer": VIEWER}, timeout=30
    ) as response:
        for message in read_sse(response.iter_lines()):
            told += lines_and_skips([message])
            if not refused and message.seqs:
                future = client.post(url, params={"seq": 10_000_000})
                assert future.status_code == 422 and "ahead of what this viewer was sent" in future.json()["detail"]
                refused = True
            if message.event == "end":
                break
    assert refused
    assert any(isinstance(item, tuple) for item in told)
    assert_covers(told, 1, 2000)
    assert len([item for item in told if isinstance(item, int)]) <= 150


def test_a_running_jobs_page_whose_acknowledgements_never_arrive_is_not_held_till_the_end(client: httpx.Client) -> None:
    # Its acknowledgements may reach another web process (a load balancer without stickiness), or it may be stuck:
    # held out of credit a while, the stream goes on from near the tail, with a skip for what lies between.
    job_id = start_job(client, steps=2000, delay=0.02)  # 40 s of lines, far longer than it takes
    told: list[Any] = []
    running_after_the_skip = False
    with client.stream(
        "GET", f"/jobs/{job_id}/events", params={"after": 0, "tail": 20, "viewer": VIEWER}, timeout=30
    ) as response:
        for message in read_sse(response.iter_lines()):
            told += lines_and_skips([message])
            if message.seqs and any(isinstance(item, tuple) for item in told):
                running_after_the_skip = client.get(f"/api/jobs/{job_id}").json()["state"] == "running"
                break
    client.post(f"/api/jobs/{job_id}/cancel")
    assert running_after_the_skip  # lines again while the job ran, not only at its end
    assert_covers(told, 1, max(item for item in told if isinstance(item, int)))
