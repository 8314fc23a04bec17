"""The job page by keyboard alone, and what a screen reader hears (issue 19): the log is one tab stop (a 1,000-line
log is passed in at most 3 Tabs), arrows move between its lines, Enter opens a line's actions, `/` searches, `?`
shows the keys, Escape closes and leaves; the job's end reaches a polite live region."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from tests.helpers import Dashboard, follow, start_job

TIMEOUT = 30_000
FOCUSED_ID = "() => document.activeElement && (document.activeElement.id || document.activeElement.tagName)"
AT_BOTTOM = "(l => l.scrollHeight - l.scrollTop - l.clientHeight < 40)(document.getElementById('log'))"
IN_LOG = "() => !!document.activeElement.closest('#log')"


def tab_to(page: Page, selector: str, most: int = 80, back: bool = False) -> int:
    """Tab (or Shift+Tab) as a person does, until `selector` has the focus; how many presses it took."""
    for presses in range(1, most + 1):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return presses
    raise AssertionError(f"{most} Tabs never reached {selector}; the focus is on {page.evaluate(FOCUSED_ID)}")


def focused_seq(page: Page) -> int:
    return int(page.evaluate("() => document.activeElement.dataset.seq"))


def test_a_job_page_walked_by_keyboard_alone(page: Page, dashboard: Dashboard) -> None:
    # Start: the form by keyboard.
    page.goto(dashboard.url)
    tab_to(page, "#arguments")
    page.keyboard.press("Control+a")
    page.keyboard.type(json.dumps({"steps": 20000, "delay": 0.015}))  # a log and a progress line a step: it runs on
    tab_to(page, "#start-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/jobs/*", timeout=TIMEOUT)
    job_id = page.url.rsplit("/", 1)[1]
    try:
        page.wait_for_function("() => document.querySelectorAll('#log > li').length >= 1000", timeout=TIMEOUT)

        # The log is one tab stop: from the skip link, in and out in at most 3 Tabs, however many lines came.
        tab_to(page, ".skip-link")
        expect(page.locator(".skip-link")).to_be_visible()  # seen once it has the focus
        presses = 0
        entered = False
        while presses < 10:
            page.keyboard.press("Tab")
            presses += 1
            inside = page.evaluate(IN_LOG)
            entered = entered or inside
            if entered and not inside:
                break
        assert entered and presses <= 3, f"{presses} Tabs to pass the log"
        assert page.evaluate("() => document.querySelectorAll('#log > li').length") >= 1000
        # The skip link itself jumps past it at once.
        tab_to(page, ".skip-link", back=True)
        page.keyboard.press("Enter")
        expect(page.locator("#after-log")).to_be_focused()

        # Following, then arrows between lines: the reader stops following; End follows again.
        tab_to(page, "#log > li", back=True)
        newest = focused_seq(page)
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowUp")
        assert focused_seq(page) == newest - 2
        assert page.locator("#log > li[tabindex='0']").count() == 1  # one stop, wherever it is
        page.keyboard.press("Home")
        first = int(page.locator("#log > li").first.get_attribute("data-seq") or 0)
        assert focused_seq(page) == first
        page.keyboard.press("PageDown")
        assert focused_seq(page) > first + 1
        page.keyboard.press("End")
        page.wait_for_function(f"() => {AT_BOTTOM}", timeout=TIMEOUT)
        assert focused_seq(page) >= newest

        # The keys, on the page: `?` shows them, Escape closes them and gives the focus back.
        page.keyboard.press("?")
        expect(page.locator("#log-keys")).to_be_visible()
        expect(page.locator("#log-keys")).to_be_focused()
        expect(page.locator("#log-keys")).to_contain_text("PageDown")
        page.keyboard.press("Escape")
        expect(page.locator("#log-keys")).to_be_hidden()
        assert page.evaluate(IN_LOG)
        # Escape on a line leaves the log.
        page.keyboard.press("Escape")
        expect(page.locator("#after-log")).to_be_focused()

        # Cancel, by keyboard.
        expect(page.locator("#state-badge")).to_have_attribute("data-state", "running")
        tab_to(page, "#cancel-job", back=True)
        page.keyboard.press("Enter")
        expect(page.locator("#state-badge")).to_have_attribute("data-state", "cancelled", timeout=TIMEOUT)
    finally:
        with dashboard.client() as client:
            client.post(f"/api/jobs/{job_id}/cancel")
            follow(client, job_id)

    # Search with `/`, Escape back to the log; a level by Space.
    page.locator("h1").click()
    page.keyboard.press("/")
    expect(page.locator("#filter-q")).to_be_focused()
    page.keyboard.type("step 1")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=step+1*", timeout=TIMEOUT)
    page.keyboard.press("/")
    page.keyboard.press("Escape")
    assert page.evaluate(IN_LOG)
    tab_to(page, "[data-filter-level=error] input", back=True)
    page.keyboard.press("Space")
    page.wait_for_url("**levels=error*", timeout=TIMEOUT)
    query = parse_qs(urlsplit(page.url).query)
    assert query["levels"] == ["error"] and query["q"] == ["step 1"]
    expect(page.locator("#log > li").first).to_have_attribute("data-level", "error")

    # A permalink: on a line, Enter opens its actions; Enter on the permalink goes to it.
    tab_to(page, "#log, #log > li")
    page.keyboard.press("Home")
    seq = focused_seq(page)
    page.keyboard.press("Enter")
    expect(page.locator(f"#seq-{seq} a.seq")).to_be_focused()
    page.keyboard.press("Tab")  # the line's actions, in turn
    expect(page.locator(f"#seq-{seq} .expand")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**#seq-{seq}", timeout=TIMEOUT)
    expect(page.locator(f"#seq-{seq}")).to_have_class(re.compile(r"\bpermalinked\b"))
    page.keyboard.press("Escape")  # closes the actions: the focus back on the line
    expect(page.locator(f"#seq-{seq}")).to_be_focused()
    assert page.locator(f"#seq-{seq} a.seq").get_attribute("tabindex") == "-1"

    # Rerun, by keyboard: a new job's page.
    tab_to(page, "#rerun-job", back=True)
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => !location.pathname.endsWith('/{job_id}')", timeout=TIMEOUT)
    rerun = urlsplit(page.url).path.rsplit("/", 1)[1]
    with dashboard.client() as client:
        client.post(f"/api/jobs/{rerun}/cancel")
        follow(client, rerun)


def test_the_end_of_a_job_reaches_a_polite_live_region(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=30, delay=0.05, fail_at=20)
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        expect(page.locator("#live")).to_have_attribute("data-live", "live", timeout=TIMEOUT)
        follow(client, job_id)
    region = page.locator("#job-announcer")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region).to_contain_text("The job failed", timeout=TIMEOUT)
    # What the accessibility tree holds: a status whose name is the words said.
    tree = page.locator("main").aria_snapshot()
    assert re.search(r'- status: "?The job failed: Error executing tool run_job: step 20 failed', tree), tree
    # A page opened on a job that has already ended says nothing of it: only a change is news.
    page.reload()
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "failed")
    expect(region).to_have_text("")


def test_a_job_that_succeeds_says_so(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=20, delay=0.05)
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        follow(client, job_id)
    expect(page.get_by_role("status").filter(has_text="The job succeeded.")).to_have_count(1, timeout=TIMEOUT)
