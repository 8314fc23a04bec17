"""A real click on the real page in headless Chromium, and what a person then sees."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.helpers import Dashboard, start_job
from webapp.events import LEVELS

TIMEOUT = 30_000  # ms: the bound of every wait below


def seqs_in_dom(page: Page) -> list[int]:
    values: list[str] = page.eval_on_selector_all("#log > li", "lines => lines.map(l => l.dataset.seq)")
    return [int(v) for v in values]


def start_from_form(page: Page, dashboard: Dashboard, tool: str | None = None, arguments: object = None) -> None:
    page.goto(dashboard.url + "/")
    if tool is not None:
        before = page.input_value("#arguments")
        page.select_option("#tool", tool)
        expect(page.locator("#arguments")).not_to_have_value(before, timeout=TIMEOUT)  # the tool's own defaults
    if arguments is not None:
        page.fill("#arguments", json.dumps(arguments))
    page.click("button.primary")
    page.wait_for_url("**/jobs/*", timeout=TIMEOUT)


def test_one_click_on_start_runs_a_job_live_with_eight_coloured_levels_in_order(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/")
    expect(page.locator("#tool")).to_have_value("run_job")
    page.click("button.primary")
    page.wait_for_url("**/jobs/*", timeout=TIMEOUT)

    bar = page.locator("#progress [role=progressbar]")
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=TIMEOUT)
    expect(page.locator("#progress .pct")).to_have_text("100 %")
    expect(page.locator("#job-status [data-state]")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)

    assert seqs_in_dom(page) == list(range(1, 81))  # 40 log lines + 40 progress, each once, in order
    colours = {}
    for level in LEVELS:
        lines = page.locator(f'#log > li[data-level="{level}"]')
        assert lines.count() == 5
        expect(lines.first.locator(".level")).to_have_text(level.upper())
        colours[level] = lines.first.locator(".level").evaluate("el => getComputedStyle(el).color")
    assert len(set(colours.values())) == 8, colours


def test_a_failing_job_shows_its_failure(page: Page, dashboard: Dashboard) -> None:
    start_from_form(page, dashboard, arguments={"steps": 6, "delay": 0.02, "fail_at": 4})
    expect(page.locator("#job-status [data-state]")).to_have_attribute("data-state", "failed", timeout=TIMEOUT)
    expect(page.locator("#job-status .error")).to_contain_text("step 4 failed")
    # The bar is redrawn with the job's end, in the failure colour (app.css keys it on the state).
    expect(page.locator("#progress .progress-row")).to_have_attribute("data-job-state", "failed")
    assert seqs_in_dom(page) == list(range(1, 8))


def test_a_log_level_picked_in_the_form_keeps_lower_levels_off_the_page(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/")
    page.fill("#arguments", '{"steps": 16, "delay": 0.01}')
    page.select_option("#log_level", "error")
    page.click("button.primary")
    page.wait_for_url("**/jobs/*", timeout=TIMEOUT)
    expect(page.locator("#job-status [data-state]")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    expect(page.locator("[data-log-level]")).to_have_text("error")
    levels = page.locator("#log > li[data-kind=log]").evaluate_all("lines => lines.map(li => li.dataset.level)")
    assert levels == ["error", "critical", "alert", "emergency"] * 2


def test_bad_arguments_are_explained_on_the_form(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/")
    page.fill("#arguments", '{"steps": "lots"}')
    page.click("button.primary")
    expect(page.locator("form.start .error")).to_contain_text('"lots" is not of type "integer"')
    expect(page.locator("#arguments")).to_have_value('{"steps": "lots"}')  # what was typed is kept


def test_hostile_text_from_the_server_is_shown_as_text(page: Page, dashboard: Dashboard) -> None:
    hostile = ['<img src=x onerror="window.pwned=1">', "</hx-partial><script>window.pwned=2</script>"]
    start_from_form(page, dashboard, "process_items", {"items": hostile, "delay": 0})
    expect(page.locator("#job-status [data-state]")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    expect(page.locator("#log")).to_contain_text(hostile[0])
    expect(page.locator("#log")).to_contain_text(hostile[1])
    assert page.locator("#log img, #log script").count() == 0
    assert page.evaluate("window.pwned") is None


def test_the_dom_keeps_at_most_max_lines_and_says_how_many_are_hidden(page: Page, small_dashboard: Dashboard) -> None:
    page.goto(small_dashboard.url + "/")
    page.select_option("#tool", "flood")
    expect(page.locator("#arguments")).to_have_value('{\n  "count": 10000,\n  "timeout_every": 0\n}', timeout=TIMEOUT)
    start_from_form(page, small_dashboard, "flood", {"count": 100})
    expect(page.locator("#job-status [data-state]")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    expect(page.locator("#log > li").last).to_have_attribute("data-seq", "200", timeout=TIMEOUT)
    assert seqs_in_dom(page) == list(range(151, 201))
    expect(page.locator("#hidden-lines .count")).to_have_text("150")
    # A reload renders the same window from the store.
    page.reload()
    assert seqs_in_dom(page) == list(range(151, 201))
    expect(page.locator("#hidden-lines .count")).to_have_text("150")


def test_the_recent_jobs_list_follows_jobs_started_elsewhere(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/")
    with dashboard.client() as client:
        job_id = start_job(client, steps=3, delay=0)
    row = page.locator(f'#jobs tr[data-job-id="{job_id}"]')
    expect(row.locator("[data-state]")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    row.locator("a").click()
    expect(page.locator("#log > li")).to_have_count(6)
