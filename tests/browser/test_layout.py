"""A layout made for watching (issue 8, part 7), measured in Chromium at 1366x900 and at a phone's 390x844: the
job's header, progress and controls stay in view; the log fills the rest of the window and scrolls on its own, so
its newest line is in view while it follows; nothing scrolls sideways; at phone width a line's fields stack."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import open_page
from tests.helpers import Dashboard, start_job

TIMEOUT = 30_000  # ms: the bound of every wait below
SIZES = {"1366x900": (1366, 900), "390x844": (390, 844)}

# The newest line lies inside the log's visible box and inside the window, and the log overflows (it scrolls).
NEWEST_IN_VIEW = """(least) => {
  const log = document.getElementById("log");
  const newest = log && log.lastElementChild;
  if (!newest || log.children.length < least || log.scrollHeight <= log.clientHeight) return false;
  const line = newest.getBoundingClientRect();
  const box = log.getBoundingClientRect();
  return line.top >= box.top - 1 && line.bottom <= box.bottom + 1 && line.top >= 0 && line.bottom <= innerHeight;
}"""

MEASURE = """() => {
  const rect = (sel) => {
    const el = document.querySelector(sel);
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height };
  };
  const log = document.getElementById("log");
  return {
    width: innerWidth, height: innerHeight,
    scrollWidth: document.documentElement.scrollWidth, scrollHeight: document.documentElement.scrollHeight,
    logOverflow: getComputedStyle(log).overflowY, logScrolls: log.scrollHeight > log.clientHeight,
    log: rect("#log"), header: rect("header.topbar"), bar: rect("#progress progress"), badge: rect("#state-badge"),
    control: rect("#cancel-job") || rect("#rerun-job"),
  };
}"""


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    width, height = SIZES[request.param]
    with open_page(browser, width, height) as page:
        yield page


def assert_made_for_watching(m: dict[str, Any]) -> None:
    """One measure of the job page: what must hold whatever the job is doing."""
    assert m["scrollWidth"] <= m["width"], f"the page scrolls sideways: {m['scrollWidth']} > {m['width']}"
    assert m["logOverflow"] in ("auto", "scroll") and m["logScrolls"], "the log is not its own scroll container"
    assert m["scrollHeight"] <= m["height"], f"the page scrolls: {m['scrollHeight']} > {m['height']}"
    for part in ("header", "bar", "badge", "control"):
        box = m[part]
        assert box is not None and box["top"] >= 0 and box["bottom"] <= m["height"], f"{part} out of view: {box}"
    # The log fills the rest of the window: it ends near its bottom (the card's padding and the page's margin).
    assert m["log"]["bottom"] >= m["height"] - 48, f"the log stops short of the window's bottom: {m['log']}"
    assert m["log"]["height"] >= 0.18 * m["height"], f"the log is too small to read: {m['log']}"


def test_while_following_the_newest_line_stays_in_view_and_the_page_stays_put(
    sized: Page, dashboard: Dashboard
) -> None:
    page = sized
    with dashboard.client() as client:
        job_id = start_job(client, steps=60, delay=0.08)
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    expect(page.locator("#live")).to_have_attribute("data-live", "live", timeout=TIMEOUT)
    # Each wait ends as soon as the newest line is in view, so it holds whenever the log has settled after a
    # message; were the log not following (or out of the window), the wait would run out.
    for lines in (20, 40, 60, 80):
        page.wait_for_function(NEWEST_IN_VIEW, arg=lines, timeout=TIMEOUT)
        assert_made_for_watching(page.evaluate(MEASURE))

    # Ended: the result appears above the log, and the newest line is still in view.
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    expect(page.locator("#job-status .result")).to_be_visible()
    page.wait_for_function(NEWEST_IN_VIEW, arg=120, timeout=TIMEOUT)
    assert_made_for_watching(page.evaluate(MEASURE))

    # Scrolled up, the log moves and the page does not: the header, progress and controls stay where they were.
    before = page.evaluate(MEASURE)
    page.locator("#log").evaluate("log => { log.scrollTop = 0; }")
    page.wait_for_function("() => document.getElementById('log').scrollTop === 0", timeout=TIMEOUT)
    after = page.evaluate(MEASURE)
    assert (after["header"], after["bar"], after["control"]) == (before["header"], before["bar"], before["control"])
    assert page.evaluate("() => [scrollX, scrollY]") == [0, 0]


def test_a_finished_job_opens_with_its_newest_line_in_view(sized: Page, dashboard: Dashboard) -> None:
    page = sized
    with dashboard.client() as client:
        job_id = start_job(client, steps=40, delay=0)  # 80 lines, and a result block
        page.goto(f"{dashboard.url}/jobs/{job_id}")
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    page.reload()  # drawn whole by the server, as a reader coming back to it sees it
    page.wait_for_function(NEWEST_IN_VIEW, arg=80, timeout=TIMEOUT)
    assert_made_for_watching(page.evaluate(MEASURE))


LINE_PARTS = """(li) => Object.fromEntries(["seq", "time", "level", "data"].map((part) => {
  const el = part === "time" ? li.querySelector("time") : li.querySelector("." + part);
  const r = el.getBoundingClientRect();
  return [part, { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width }];
}).concat([["line", (() => { const r = li.getBoundingClientRect(); return { left: r.left, width: r.width }; })()]]))"""


def test_at_phone_width_a_lines_fields_stack_and_its_data_takes_the_full_width(
    browser: Browser, dashboard: Dashboard
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    with dashboard.client() as client:
        job_id = start_job(client, steps=8, delay=0)
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    line = page.locator('#log > li[data-level="warning"]').first
    line.scroll_into_view_if_needed()
    parts = line.evaluate(LINE_PARTS)
    seq, time, level, data, whole = parts["seq"], parts["time"], parts["level"], parts["data"], parts["line"]
    assert abs(seq["top"] - time["top"]) < 4 and abs(time["top"] - level["top"]) < 4, "seq, time, level not on a row"
    assert data["top"] >= level["bottom"] - 1, "the data is not below the level"
    assert data["left"] - whole["left"] < 16 and data["width"] >= 0.85 * whole["width"], f"data squeezed: {parts}"
    # The JSON of a run_job line, about 70 characters, takes two or three rows, not one or two words a row.
    assert data["bottom"] - data["top"] < 4 * (level["bottom"] - level["top"]), parts
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


def test_at_desktop_width_a_line_keeps_its_columns(browser: Browser, dashboard: Dashboard) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    with dashboard.client() as client:
        job_id = start_job(client, steps=8, delay=0)
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    parts = page.locator("#log > li[data-level]").first.evaluate(LINE_PARTS)
    assert parts["data"]["left"] > parts["level"]["right"] and abs(parts["data"]["top"] - parts["level"]["top"]) < 4
    context.close()


def test_the_home_page_does_not_scroll_sideways(sized: Page, dashboard: Dashboard) -> None:
    page = sized
    with dashboard.client() as client:
        start_job(client, steps=2, delay=0)  # the recent-jobs list has a row (a card, on a phone)
    page.goto(dashboard.url + "/")
    expect(page.locator("#jobs [data-job-id]").first).to_be_visible(timeout=TIMEOUT)
    width = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], f"the home page scrolls sideways: {width}"
    form = page.locator("form.start").bounding_box()
    assert form is not None and form["x"] >= 0 and form["x"] + form["width"] <= width[1], form
