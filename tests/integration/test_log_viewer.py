"""The log viewer's server side: a filtered page, a filtered live stream that resumes exactly, and older lines."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import Dashboard, all_events, follow, read_sse, start_job

SEQ = re.compile(r'data-seq="(\d+)"')


@pytest.fixture
def client(dashboard: Dashboard) -> Iterator[httpx.Client]:
    with dashboard.client() as client:
        yield client


def test_a_filtered_stream_sends_only_matching_lines_and_resumes_after_the_last_event_looked_at(
    client: httpx.Client,
) -> None:
    job_id = start_job(client, steps=24, delay=0.01)
    follow(client, job_id)
    events = all_events(client, job_id)
    errors = [e["seq"] for e in events if e["level"] == "error"]
    params = {"levels": "error", "after": "0"}
    with client.stream("GET", f"/jobs/{job_id}/events", params=params, timeout=10) as response:
        messages = list(read_sse(response.iter_lines()))
    lines = [seq for message in messages for seq in message.seqs]
    assert lines == errors
    ids = [int(m.id) for m in messages if m.id is not None]
    assert ids == sorted(ids) and ids[-1] == len(events)  # the cursor covers every event, matching or not
    assert messages[-1].event == "end"
    # Resumed after the second error line: the third and later, nothing twice.
    headers = {"Last-Event-ID": str(errors[1])}
    with client.stream("GET", f"/jobs/{job_id}/events", params=params, headers=headers, timeout=10) as response:
        again = [seq for message in read_sse(response.iter_lines()) for seq in message.seqs]
    assert again == errors[2:]


def test_a_filtered_page_holds_the_newest_matching_lines_and_older_ones_come_in_pages(
    client: httpx.Client,
) -> None:
    job_id = start_job(client, "flood", count=3000)
    follow(client, job_id)
    page = client.get(f"/jobs/{job_id}", params={"kinds": "progress", "q": "/3000"}).text
    shown = [int(seq) for seq in SEQ.findall(page)]
    assert shown == list(range(2, 6001, 2))[-len(shown) :] and shown[-1] == 6000
    older = client.get(f"/jobs/{job_id}/lines", params={"before": shown[0], "kinds": "progress", "q": "/3000"})
    assert older.status_code == 200
    before = [int(seq) for seq in SEQ.findall(older.text)]
    assert before == list(range(shown[0] - 2 * len(before), shown[0], 2))
    assert older.headers["X-More-Lines"] == ("1" if before[0] > 2 else "0")
    # The download links of a filtered view carry its filters; the file holds what the view holds.
    assert "/export?format=text&amp;kinds=progress&amp;q=%2F3000" in page
    text = client.get(f"/api/jobs/{job_id}/export", params={"format": "jsonl", "kinds": "progress", "q": "/3000"})
    assert len(text.text.splitlines()) == 3000


def test_bad_filters_are_explained(client: httpx.Client) -> None:
    job_id = start_job(client, steps=1, delay=0)
    follow(client, job_id)
    for params, message in (
        ({"levels": "loud"}, "levels: 'loud' is not one of debug"),
        ({"min_level": "loud"}, "min_level: 'loud' is not one of debug"),
        ({"q": "a(", "regex": "1"}, "q is not a regular expression this dashboard can run"),
    ):
        for path in (f"/jobs/{job_id}/events", f"/api/jobs/{job_id}/events", f"/api/jobs/{job_id}/export"):
            response = client.get(path, params=params)
            assert response.status_code == 422, path
            assert message in response.json()["detail"]
        # The job's page keeps itself: the job and its log, the reason beside the search box (issue 19).
        page = client.get(f"/jobs/{job_id}", params=params, headers={"Accept": "text/html"})
        assert page.status_code == 422
        assert f'<p class="error filter-error" id="filter-error" role="alert">{message}' in html.unescape(page.text)
        assert 'id="state-badge"' in page.text and 'id="seq-1"' in page.text
