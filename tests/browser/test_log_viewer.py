"""The log viewer as a person uses it: filters and their counts (on the whole job, not the DOM), a filtered live
stream, following and "N new lines", older lines on demand, permalinks, copy, indented JSON, and the keyboard."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.helpers import Dashboard, follow, start_job
from webapp.events import LEVELS

TIMEOUT = 30_000
# How far the log is scrolled from its bottom, in pixels (a JavaScript expression).
FROM_BOTTOM = "(l => l.scrollHeight - l.scrollTop - l.clientHeight)(document.getElementById('log'))"


def seqs(page: Page) -> list[int]:
    values: list[str] = page.eval_on_selector_all("#log > li", "lines => lines.map(l => l.dataset.seq)")
    return [int(v) for v in values]


def finished_job(dashboard: Dashboard, tool: str = "run_job", **arguments: object) -> str:
    with dashboard.client() as client:
        job_id = start_job(client, tool, **arguments)
        follow(client, job_id)
    return job_id


def press(page: Page, selector: str) -> None:
    """A real mouse press at the middle of the element."""
    target = page.locator(selector)
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_level_toggles_count_the_whole_job_and_filter_it_as_a_link(page: Page, dashboard: Dashboard) -> None:
    job_id = finished_job(dashboard, steps=16, delay=0)  # two lines at each level, and 16 progress lines
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    for level in LEVELS:
        expect(page.locator(f"[data-filter-level={level}]")).to_have_attribute("data-count", "2")
    expect(page.locator("[data-filter-kind=progress]")).to_have_attribute("data-count", "16")
    expect(page.locator("#view-counts")).to_contain_text("Showing 32 of 32 line(s)")

    press(page, "[data-filter-level=error] input")
    page.wait_for_url("**levels=error", timeout=TIMEOUT)
    expect(page.locator("#log > li")).to_have_count(2)
    assert {page.locator("#log > li").nth(i).get_attribute("data-level") for i in range(2)} == {"error"}
    expect(page.locator("#view-counts")).to_contain_text("Showing 2 of 2 matching line(s) (32 in all)")

    press(page, "[data-filter-level=critical] input")  # a second level: both, as one link
    page.wait_for_url("**levels=error%2Ccritical", timeout=TIMEOUT)
    expect(page.locator("#log > li")).to_have_count(4)
    # The download links take the view with them.
    href = page.locator(".exports a").first.get_attribute("href")
    assert href is not None and parse_qs(urlsplit(href).query)["levels"] == ["error,critical"]


def test_filters_count_and_page_beyond_the_dom_window(page: Page, small_dashboard: Dashboard) -> None:
    job_id = finished_job(small_dashboard, "flood", count=400)  # 800 events; the page keeps 50 lines
    page.goto(f"{small_dashboard.url}/jobs/{job_id}?levels=error")
    expect(page.locator("#log > li")).to_have_count(50)
    expect(page.locator("#view-counts")).to_contain_text("Showing 50 of 50 matching line(s) (800 in all)")
    expect(page.locator("[data-filter-level=error]")).to_have_attribute("data-count", "50")
    assert {page.locator("#log > li").nth(i).get_attribute("data-level") for i in (0, 49)} == {"error"}

    page.goto(f"{small_dashboard.url}/jobs/{job_id}?kinds=log&q=%22n%22%3A+1")  # '"n": 1' in the data
    matching = [n for n in range(1, 401) if f'"n": {n}'.startswith('"n": 1')]  # 1, 10-19, 100-199
    expect(page.locator("#view-counts")).to_contain_text(f"of {len(matching)} matching")
    expect(page.locator("#hidden-lines .count")).to_have_text(str(len(matching) - 50))

    # Older lines, from the store, above the first one shown, in order, until there are none.
    shown = seqs(page)
    press(page, "#load-older")
    expect(page.locator("#log > li")).to_have_count(len(matching), timeout=TIMEOUT)
    everything = seqs(page)
    assert everything[-50:] == shown and everything == sorted(everything)
    expect(page.locator("#hidden-lines")).to_be_hidden()


def test_a_filtered_live_stream_brings_only_matching_lines_and_keeps_every_count(
    page: Page, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=48, delay=0.05)
        page.goto(f"{dashboard.url}/jobs/{job_id}?levels=warning")
        expect(page.locator("[data-state]").first).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
        follow(client, job_id)
    expect(page.locator("#log > li")).to_have_count(6, timeout=TIMEOUT)
    levels = page.eval_on_selector_all("#log > li", "lines => lines.map(l => l.dataset.level)")
    assert levels == ["warning"] * 6
    # The counts of what is not shown went on too.
    expect(page.locator("[data-filter-level=debug]")).to_have_attribute("data-count", "6", timeout=TIMEOUT)
    expect(page.locator("[data-filter-kind=progress]")).to_have_attribute("data-count", "48", timeout=TIMEOUT)
    expect(page.locator("#view-counts")).to_contain_text("Showing 6 of 6 matching line(s) (96 in all)")


def test_scrolled_up_the_log_stands_still_and_new_lines_bring_the_reader_back(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=400, delay=0.03)
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        log = page.locator("#log")
        expect(page.locator("#log > li")).not_to_have_count(0, timeout=TIMEOUT)
        page.wait_for_function("() => document.querySelectorAll('#log > li').length > 60", timeout=TIMEOUT)
        log.hover()
        page.mouse.wheel(0, -400)  # the reader scrolls up to read something
        page.wait_for_function(
            f"() => {FROM_BOTTOM} > 100",
            timeout=TIMEOUT,
        )
        reading = page.evaluate(
            """() => {
                const log = document.getElementById('log');
                const top = log.getBoundingClientRect().top;
                const line = [...log.children].find(li => li.getBoundingClientRect().bottom > top + 5);
                return { seq: line.dataset.seq, y: line.getBoundingClientRect().top };
            }"""
        )
        button = page.locator("#new-lines")
        expect(button).to_be_visible(timeout=TIMEOUT)
        page.wait_for_function(
            "() => Number(document.getElementById('new-lines').dataset.newLines) >= 20", timeout=TIMEOUT
        )
        # No line moved under the reader while twenty came in.
        y = page.evaluate(f"() => document.getElementById('seq-{reading['seq']}').getBoundingClientRect().top")
        assert abs(y - reading["y"]) < 2
        press(page, "#new-lines")
        expect(button).to_be_hidden()
        page.wait_for_function(
            f"() => {FROM_BOTTOM} < 40",
            timeout=TIMEOUT,
        )
        client.post(f"/api/jobs/{job_id}/cancel")
        follow(client, job_id)


def test_a_permalink_loads_scrolls_to_and_marks_its_line(page: Page, small_dashboard: Dashboard) -> None:
    job_id = finished_job(small_dashboard, "flood", count=300)  # 600 events; the page keeps the newest 50
    page.goto(f"{small_dashboard.url}/jobs/{job_id}#seq-7")
    line = page.locator("#seq-7")
    expect(line).to_have_class("line level-error permalinked", timeout=TIMEOUT)  # flood's log 4: at error
    expect(line).to_be_in_viewport()
    # The window around it (issue 18), not everything after it: in order, bounded by the page's 50 lines; the rest
    # is counted below it, and loads on demand.
    shown = seqs(page)
    assert shown == list(range(1, len(shown) + 1)) and len(shown) <= 50
    expect(page.locator("#newer-lines .count")).to_have_text(str(600 - len(shown)))
    # Each line's seq is its permalink.
    assert page.locator("#seq-30 a.seq").get_attribute("href") == "#seq-30"


@pytest.fixture
def clipboard_page(browser: Browser, dashboard: Dashboard) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dashboard.url)
    page = context.new_page()
    yield page
    context.close()


def test_copy_a_line_and_show_its_data_as_indented_json(clipboard_page: Page, dashboard: Dashboard) -> None:
    page = clipboard_page
    job_id = finished_job(dashboard, steps=2, delay=0)
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    line = page.locator("#seq-1")
    line.hover()
    press(page, "#seq-1 .copy")
    expect(page.locator("#seq-1 .copy")).to_have_text("copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith("#1 ") and "DEBUG demo.job.debug" in copied and '"msg": "step 1 at debug"' in copied

    data = page.locator("#seq-1 .data")
    assert "\n" not in data.inner_text()  # one line
    line.hover()
    press(page, "#seq-1 .expand")
    expect(page.locator("#seq-1 .expand")).to_have_attribute("aria-expanded", "true")
    assert data.inner_text().startswith('{\n  "step": 1,')
    page.keyboard.press("Enter")  # the button has the focus: Enter folds it again
    expect(page.locator("#seq-1 .expand")).to_have_attribute("aria-expanded", "false")
    assert "\n" not in data.inner_text()

    # By keyboard: the log is one tab stop; on a line, Enter opens its actions (permalink, JSON, copy), and Tab
    # goes through them.
    page.locator("#log").focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#seq-3")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#seq-3 a.seq")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#seq-3 .expand")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#seq-3 .copy")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#seq-3 .copy")).to_have_text("copied")
    assert page.evaluate("() => navigator.clipboard.readText()").startswith("#3 ")


def test_the_keyboard_searches_with_slash_and_goes_to_the_tail_with_end(page: Page, dashboard: Dashboard) -> None:
    job_id = finished_job(dashboard, steps=60, delay=0)
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    page.locator("#log").evaluate("log => { log.scrollTop = 0 }")
    page.locator("h1").click()  # focus on the page, not in a field
    page.keyboard.press("End")
    page.wait_for_function(
        f"() => {FROM_BOTTOM} < 40",
        timeout=TIMEOUT,
    )
    page.keyboard.press("/")
    expect(page.locator("#filter-q")).to_be_focused()
    page.keyboard.type("step 1[05] at")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # regex
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**regex=1", timeout=TIMEOUT)
    assert parse_qs(urlsplit(page.url).query)["q"] == ["step 1[05] at"]
    texts = page.eval_on_selector_all("#log > li .data", "cells => cells.map(c => c.textContent)")
    assert len(texts) == 2 and "step 10 at" in texts[0] and "step 15 at" in texts[1]
    # What matched is marked in each line, as text.
    marked = page.eval_on_selector_all("#log mark", "marks => marks.map(m => m.textContent)")
    assert marked == ["step 10 at", "step 15 at"]


def test_a_pattern_that_is_no_regular_expression_is_explained(dashboard: Dashboard) -> None:
    job_id = finished_job(dashboard, steps=2, delay=0)
    with httpx.Client(base_url=dashboard.url, timeout=10) as client:
        response = client.get(
            f"/jobs/{job_id}", params={"q": "(unclosed", "regex": "1"}, headers={"Accept": "text/html"}
        )
    assert response.status_code == 422
    assert "q is not a regular expression this dashboard can run: missing )" in response.text


def test_severe_lines_are_said_in_a_polite_live_region(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=40, delay=0.05)
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        announcer = page.locator("#announcer")
        expect(announcer).to_have_attribute("aria-live", "polite")
        expect(announcer).to_contain_text("at error", timeout=TIMEOUT)  # "error: {...} and N more at error or worse"
        follow(client, job_id)
    # The log landmark wraps the list (a list keeps its items' semantics: axe's `listitem`, issue 19); its lines are
    # not read as they come, only the severe ones, through the announcer.
    wrapper = page.locator(".log-wrap:has(> #log)")
    assert wrapper.get_attribute("role") == "log" and wrapper.get_attribute("aria-live") == "off"
    assert page.locator("#log").get_attribute("role") is None


def test_times_switch_between_the_utc_clock_and_the_time_since_the_start(page: Page, dashboard: Dashboard) -> None:
    job_id = finished_job(dashboard, steps=3, delay=0.05)
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    first = page.locator("#seq-1 time")
    clock = first.inner_text()
    assert (first.get_attribute("datetime") or "").endswith("Z")  # the zone, on hover and to machines
    press(page, "#time-mode")
    expect(page.locator("#time-mode")).to_have_attribute("aria-pressed", "true")
    expect(first).to_have_text(re.compile(r"^\+\d+\.\d{3} s$"))
    later = page.locator("#seq-5 time").inner_text()
    assert float(later[1:-2]) > float(first.inner_text()[1:-2])
    page.reload()  # the choice is remembered
    expect(page.locator("#seq-1 time")).to_have_text(re.compile(r"^\+"))
    page.locator("#time-mode").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#seq-1 time")).to_have_text(clock)


def test_following_keeps_the_newest_line_in_view_when_long_lines_wrap(page: Page, dashboard: Dashboard) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    script = [{"log": {"level": "info", "logger": "long", "data": f"{i} " + "x" * 750}} for i in range(60)]
    with dashboard.client() as client:
        response = client.post("/api/jobs", json={"tool": "scripted", "arguments": {"script": script, "delay": 0.05}})
        job_id = response.json()["id"]
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        follow(client, job_id)
    expect(page.locator("#log > li")).to_have_count(60, timeout=TIMEOUT)
    page.wait_for_function(
        """() => {
            const log = document.getElementById('log');
            const newest = log.lastElementChild.getBoundingClientRect();
            return newest.bottom <= log.getBoundingClientRect().bottom + 1 && newest.bottom <= innerHeight;
        }""",
        timeout=TIMEOUT,
    )


def test_on_a_phone_the_filters_fold_away_until_wanted(page: Page, dashboard: Dashboard) -> None:
    job_id = finished_job(dashboard, steps=8, delay=0)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    expect(page.locator(".filters-box > summary")).to_be_visible()
    expect(page.locator("#filter-q")).to_be_hidden()
    page.locator("h1").click()
    page.keyboard.press("/")
    expect(page.locator("#filter-q")).to_be_focused()
    page.goto(f"{dashboard.url}/jobs/{job_id}?levels=error")  # a filter on: shown unfolded
    expect(page.locator("[data-filter-level=error] input")).to_be_visible()
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{dashboard.url}/jobs/{job_id}")  # wide: simply there
    expect(page.locator(".filters-box > summary")).to_be_hidden()
    expect(page.locator("#filter-q")).to_be_visible()
