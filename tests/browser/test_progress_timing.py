"""Progress a person can plan with, in Chromium: elapsed time, rate and time left while a job runs, its duration
once it has ended, and a tab title that can be watched from another tab. Downloads of the log from the page."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, expect

from tests.browser.test_page import TIMEOUT
from tests.helpers import Dashboard, all_events, follow, start_job


def test_a_running_job_shows_elapsed_rate_and_time_left_and_its_title_the_percentage(
    page: Page, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=40, delay=0.1)  # about 4 s, 10 steps a second
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    timing = page.locator("#timing")
    running = re.compile(r"^elapsed \d+\.\d s · \d+(\.\d+)?/s · about \d+\.\d s left$")
    expect(timing).to_have_text(running, timeout=TIMEOUT)
    expect(page).to_have_title(re.compile(r"^\d{1,2}% · run_job · MCP Live$"), timeout=TIMEOUT)
    rate = float(timing.inner_text().split(" · ")[1].removesuffix("/s"))
    assert 2 <= rate <= 20  # the server sends 10 steps a second
    expect(page.locator("#job-status [data-state]")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    expect(timing).to_have_text(re.compile(r"^took \d+\.\d s$"))
    expect(page).to_have_title("succeeded · run_job · MCP Live")


def test_an_ended_job_page_says_how_long_it_took_from_its_first_render(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=2, delay=0)
        follow(client, job_id)
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    expect(page.locator("#timing")).to_have_text(re.compile(r"^took \d+\.\d s$"))
    expect(page).to_have_title("succeeded · run_job · MCP Live")


def test_the_page_downloads_the_log_as_json_lines_that_match_the_api(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=6, delay=0)
        follow(client, job_id)
        events = all_events(client, job_id)
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    with page.expect_download() as download:
        page.get_by_role("link", name="JSON Lines").click()
    assert download.value.suggested_filename == f"run_job-{job_id}.jsonl"
    path = download.value.path()
    assert [json.loads(line) for line in path.read_text().splitlines()] == events
