"""Export: a job's events as a file, JSON Lines or text, line for line what the API holds, streamed in pages."""

from __future__ import annotations

import json

import httpx

from tests.helpers import all_events, run_to_end


def test_json_lines_are_the_apis_events_line_for_line_across_several_pages(client: httpx.Client) -> None:
    job = run_to_end(client, "flood", count=1250)  # 2,500 events: three pages of the store
    response = client.get(f"/api/jobs/{job['id']}/export", params={"format": "jsonl"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jsonl")
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="flood-{job["id"]}.jsonl"'
    lines = response.text.splitlines()
    assert [json.loads(line) for line in lines] == all_events(client, job["id"])
    assert len(lines) == 2500


def test_text_has_one_line_per_event_with_time_level_logger_and_data(client: httpx.Client) -> None:
    job = run_to_end(client, "run_job", steps=8, delay=0)
    response = client.get(f"/api/jobs/{job['id']}/export", params={"format": "text"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-disposition"] == f'attachment; filename="run_job-{job["id"]}.log"'
    events = all_events(client, job["id"])
    lines = response.text.splitlines()
    assert len(lines) == len(events) == 16
    for line, event in zip(lines, events, strict=True):
        assert line.startswith(event["received_at"] + " ")
        if event["kind"] == "log":
            assert f" {event['level'].upper():<9} {event['logger']} " in line
            assert line.endswith(json.dumps(event["data"], ensure_ascii=False))
        else:
            assert f" PROGRESS  - {event['progress']:g}/{event['total']:g} {event['message']}" in line


def test_an_unknown_job_or_format_is_refused_clearly(client: httpx.Client) -> None:
    job = run_to_end(client, "run_job", steps=1, delay=0)
    assert client.get("/api/jobs/nope/export").status_code == 404
    response = client.get(f"/api/jobs/{job['id']}/export", params={"format": "pdf"})
    assert response.status_code == 422 and "jsonl" in response.text


def test_the_job_page_links_both_downloads(client: httpx.Client) -> None:
    job = run_to_end(client, "run_job", steps=1, delay=0)
    page = client.get(f"/jobs/{job['id']}", headers={"Accept": "text/html"}).text
    for export_format in ("text", "jsonl"):
        assert f'href="/api/jobs/{job["id"]}/export?format={export_format}" download' in page


def test_filters_work_on_the_api_and_the_downloads_alike(client: httpx.Client) -> None:
    job = run_to_end(client, "run_job", steps=16, delay=0)
    params = {"levels": "error,critical", "q": "STEP 1"}  # steps 13 and 14 (error, critical); 5 and 6 say "step 5"
    api = client.get(f"/api/jobs/{job['id']}/events", params=params).json()["events"]
    assert [(e["seq"], e["level"]) for e in api] == [(25, "error"), (27, "critical")]
    text = client.get(f"/api/jobs/{job['id']}/export", params={**params, "format": "text"}).text
    jsonl = client.get(f"/api/jobs/{job['id']}/export", params={**params, "format": "jsonl"}).text
    assert [json.loads(line) for line in jsonl.splitlines()] == api
    assert len(text.splitlines()) == 2 and " ERROR " in text and " CRITICAL " in text
    kinds = client.get(f"/api/jobs/{job['id']}/events", params={"kinds": "progress", "logger": "demo.job"})
    assert kinds.json()["events"] == []  # progress has no logger: AND leaves nothing
    refused = client.get(f"/api/jobs/{job['id']}/events", params={"levels": "loud"})
    assert refused.status_code == 422 and "levels: 'loud' is not one of debug, info" in refused.text
