"""The SSE stream of the real dashboard: every event exactly once, in order, resumable."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.helpers import SEQ, Dashboard, SseMessage, follow, read_sse, run_to_end, start_job

REPLACE_LOG = '<hx-partial hx-target="#log" hx-swap="innerHTML">'


def seqs_of(messages: list[SseMessage]) -> list[int]:
    return [seq for m in messages for seq in m.seqs]


def test_a_live_stream_delivers_every_event_once_in_order_and_ends(client: httpx.Client) -> None:
    job_id = start_job(client, steps=24, delay=0.01)
    messages = follow(client, job_id)
    assert seqs_of(messages) == list(range(1, 49))
    assert messages[-1].event == "end" and messages[-1].data == "succeeded"
    assert 'data-state="succeeded"' in messages[-2].data
    for m in messages:
        if m.seqs:
            assert m.id == str(m.seqs[-1])  # id: is the seq of the last event in the message


def test_a_backlog_goes_out_in_batches(client: httpx.Client) -> None:
    job = run_to_end(client, "flood", count=1200)
    messages = follow(client, job["id"])
    assert seqs_of(messages) == list(range(1, 2401))
    assert len([m for m in messages if m.seqs]) <= 5


def test_every_line_carries_its_seq_and_level(client: httpx.Client) -> None:
    job = run_to_end(client, steps=8, delay=0)
    html = "".join(m.data for m in follow(client, job["id"]))
    for level in ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"):
        assert f'data-level="{level}"' in html


def test_after_starts_after_that_seq(client: httpx.Client) -> None:
    job = run_to_end(client, steps=10, delay=0)
    assert seqs_of(follow(client, job["id"], after=13)) == list(range(14, 21))


def test_last_event_id_wins_over_after(client: httpx.Client) -> None:
    job = run_to_end(client, steps=10, delay=0)
    assert seqs_of(follow(client, job["id"], after=2, last_event_id="17")) == [18, 19, 20]


def test_a_stream_dropped_mid_job_resumes_exactly_with_last_event_id(any_dashboard: Dashboard) -> None:
    with any_dashboard.client() as client:
        resume_dropped_stream(client)


def resume_dropped_stream(client: httpx.Client) -> None:
    job_id = start_job(client, steps=60, delay=0.02)
    first: list[SseMessage] = []
    with client.stream("GET", f"/jobs/{job_id}/events", timeout=30) as response:
        for message in read_sse(response.iter_lines()):
            first.append(message)
            if len(seqs_of(first)) >= 20:
                break  # the connection drops here, mid-job
    last_id = next(m.id for m in reversed(first) if m.seqs)
    assert last_id is not None
    rest = follow(client, job_id, last_event_id=last_id)
    assert seqs_of(first) + seqs_of(rest) == list(range(1, 121))


def test_the_page_and_the_stream_together_show_every_event_once(client: httpx.Client) -> None:
    job_id = start_job(client, steps=40, delay=0.02)
    # Wait (bounded) until the job is part-way, reading its stream: then the page has a history to render.
    with client.stream("GET", f"/jobs/{job_id}/events", timeout=30) as response:
        for message in read_sse(response.iter_lines()):
            if message.seqs and message.seqs[-1] >= 10:
                break
    page = client.get(f"/jobs/{job_id}").text
    on_page = [int(s) for s in SEQ.findall(page)]
    assert on_page[:10] == list(range(1, 11))
    connect = re.search(r'hx-sse:connect="/jobs/\w+/events\?after=(\d+)&amp;tail=(\d+)"', page)
    assert connect is not None
    after = int(connect.group(1))
    assert int(connect.group(2)) == 2000  # the page asks for no more lines than its DOM keeps (--max-lines)
    assert after == on_page[-1]
    assert on_page + seqs_of(follow(client, job_id, after=after)) == list(range(1, 81))


def test_an_ended_job_page_renders_everything_and_opens_no_stream(client: httpx.Client) -> None:
    job = run_to_end(client, steps=5, delay=0)
    page = client.get(f"/jobs/{job['id']}").text
    assert [int(s) for s in SEQ.findall(page)] == list(range(1, 11))
    assert "hx-sse:connect" not in page
    assert 'data-state="succeeded"' in page


@pytest.mark.parametrize("value", ["abc", "²", "-1", "9" * 30, "9" * 5000])
def test_a_bad_last_event_id_is_a_400(client: httpx.Client, value: str) -> None:
    job = run_to_end(client, steps=1, delay=0)
    response = client.get(f"/jobs/{job['id']}/events", headers=[(b"Last-Event-ID", value.encode())])
    assert response.status_code == 400
    assert "Last-Event-ID must be an event sequence number" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/jobs/{id}/events", "/api/jobs/{id}/events"])
def test_an_after_beyond_any_seq_is_a_422(client: httpx.Client, path: str) -> None:
    job = run_to_end(client, steps=1, delay=0)
    response = client.get(path.format(id=job["id"]), params={"after": 2**64})
    assert response.status_code == 422
    assert "after" in response.json()["detail"]


def test_messages_use_lf_only_separators(client: httpx.Client) -> None:
    job = run_to_end(client, steps=2, delay=0)
    body = client.get(f"/jobs/{job['id']}/events").content
    assert b"\r" not in body
    assert body.endswith(b"\n\n")


def test_status_goes_out_only_when_it_changes_and_the_count_with_every_batch(client: httpx.Client) -> None:
    job_id = start_job(client, steps=30, delay=0.01)
    messages = [m for m in follow(client, job_id) if m.event is None]
    with_lines = [m for m in messages if m.seqs]
    status_updates = [m for m in messages if 'hx-target="#job-status"' in m.data]
    assert len(with_lines) > 3
    # The first message (whatever the page had), running (if not in that one), then succeeded: a handful, not one
    # per batch. A status swapped with every batch rebuilds the Cancel button under the user's pointer.
    assert 2 <= len(status_updates) <= 3, [m.data[:80] for m in status_updates]
    assert 'data-state="succeeded"' in status_updates[-1].data
    assert all('hx-target="#events-count"' in m.data for m in with_lines)
    assert 'data-events="60"' in with_lines[-1].data


def test_a_viewer_further_behind_than_tail_gets_the_newest_lines_and_the_count_it_skipped(
    client: httpx.Client,
) -> None:
    job = run_to_end(client, "flood", count=1000)
    messages = [m for m in follow(client, job["id"], tail=50) if m.event is None]
    first = messages[0]
    assert REPLACE_LOG in first.data  # the page's log is replaced, not appended to
    assert 'id="hidden-lines" data-hidden="1950"' in first.data
    assert seqs_of(messages) == list(range(1951, 2001))


def test_a_viewer_within_tail_gets_every_line_after_its_cursor(client: httpx.Client) -> None:
    job = run_to_end(client, steps=30, delay=0)
    messages = follow(client, job["id"], after=20, tail=50)
    assert seqs_of(messages) == list(range(21, 61))
    assert not any(REPLACE_LOG in m.data for m in messages)


def test_a_reconnect_far_behind_a_running_flood_jumps_ahead_and_shows_each_line_once(client: httpx.Client) -> None:
    job_id = start_job(client, "flood", count=4000)
    messages = follow(client, job_id, last_event_id="1", tail=100, timeout=60)
    shown = seqs_of(messages)
    assert shown == sorted(set(shown)) and shown[-1] == 8000  # never twice, never backwards, to the end
    for message in messages:
        if REPLACE_LOG in message.data:
            # Each jump says how many lines came before the first one it shows.
            assert f'data-hidden="{message.seqs[0] - 1}"' in message.data
