"""A window on the log (issue 18): the events around a seq, on the API and as the page's lines; older and newer
lines next to a window; and a seq the job does not have, said so."""

from __future__ import annotations

import re

import httpx

from tests.helpers import follow, start_job

SEQ = re.compile(r'data-seq="(\d+)"')


def flood_job(client: httpx.Client, count: int = 600) -> str:
    job_id = start_job(client, "flood", count=count)
    follow(client, job_id)
    return job_id


def test_the_events_around_a_seq_are_a_bounded_window_centred_on_it(client: httpx.Client) -> None:
    job_id = flood_job(client)  # 1,200 events
    body = client.get(f"/api/jobs/{job_id}/events/600/around", params={"before": 3, "after": 4}).json()
    assert [e["seq"] for e in body["events"]] == list(range(597, 605))
    assert body["seq"] == 600 and body["more_before"] and body["more_after"]
    # At the job's start and end the window stops there, and says so.
    start = client.get(f"/api/jobs/{job_id}/events/2/around", params={"before": 5, "after": 1}).json()
    assert [e["seq"] for e in start["events"]] == [1, 2, 3] and not start["more_before"] and start["more_after"]
    end = client.get(f"/api/jobs/{job_id}/events/1200/around").json()
    assert [e["seq"] for e in end["events"]] == list(range(1150, 1201)) and not end["more_after"]


def test_the_events_around_a_seq_keep_the_views_filters(client: httpx.Client) -> None:
    job_id = flood_job(client)
    # Log lines alternate with progress: around a progress line, only the log lines of the view.
    params: dict[str, str | int] = {"kinds": "log", "min_level": "error", "before": 2, "after": 2}
    body = client.get(f"/api/jobs/{job_id}/events/500/around", params=params).json()
    seqs = [e["seq"] for e in body["events"]]
    assert len(seqs) == 4 and seqs[1] < 500 < seqs[2]
    levels = {"error", "critical", "alert", "emergency"}
    assert all(e["kind"] == "log" and e["level"] in levels for e in body["events"])


def test_a_seq_the_job_does_not_have_is_a_404_that_says_so(client: httpx.Client) -> None:
    job_id = flood_job(client, count=10)
    missing = client.get(f"/api/jobs/{job_id}/events/21/around")
    assert missing.status_code == 404
    assert f"Job {job_id} has no event 21" in missing.json()["detail"]
    assert client.get(f"/api/jobs/{job_id}/events/0/around").status_code == 422
    assert client.get("/api/jobs/nosuchjob/events/1/around").status_code == 404
    page = client.get(f"/jobs/{job_id}/lines", params={"around": 999})
    assert page.status_code == 404 and "has no event 999" in page.text
    too_wide = client.get(f"/api/jobs/{job_id}/events/5/around", params={"before": 100_000})
    assert too_wide.status_code == 422


def test_the_pages_lines_come_around_after_or_before_a_seq_with_what_lies_beyond(client: httpx.Client) -> None:
    job_id = flood_job(client)
    around = client.get(f"/jobs/{job_id}/lines", params={"around": 7, "limit": 20})
    assert [int(s) for s in SEQ.findall(around.text)] == list(range(1, 21))
    assert around.headers["X-Lines-Before"] == "0" and around.headers["X-More-After"] == "1"
    middle = client.get(f"/jobs/{job_id}/lines", params={"around": 700, "limit": 10})
    assert [int(s) for s in SEQ.findall(middle.text)] == list(range(695, 705))
    assert middle.headers["X-Lines-Before"] == "694"
    after = client.get(f"/jobs/{job_id}/lines", params={"after": 1190, "limit": 5})
    assert [int(s) for s in SEQ.findall(after.text)] == list(range(1191, 1196)) and after.headers["X-More-Lines"] == "1"
    last = client.get(f"/jobs/{job_id}/lines", params={"after": 1195})
    assert [int(s) for s in SEQ.findall(last.text)] == list(range(1196, 1201)) and last.headers["X-More-Lines"] == "0"
    # A filtered view counts the lines before the window among its own.
    filtered = client.get(f"/jobs/{job_id}/lines", params={"after": 100, "limit": 3, "kinds": "progress"})
    assert [int(s) for s in SEQ.findall(filtered.text)] == [102, 104, 106]
    assert filtered.headers["X-Lines-Before"] == "50"
    # Exactly one of before, after or around.
    assert client.get(f"/jobs/{job_id}/lines").status_code == 422
    assert client.get(f"/jobs/{job_id}/lines", params={"after": 1, "before": 9}).status_code == 422
