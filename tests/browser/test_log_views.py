"""The log for phone users and for people who filter (issue 19): every level and kind toggle on screen at 390 and
360 px, every server's state in the header (a down one too, a long name ellipsised); "warning and above" in one
choice, in the URL and in the downloads; a bad pattern shown beside the search box with the job and log kept;
the tail kept while switching the time display; an opt-in desktop notice when a job ends in a hidden tab."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import open_page
from tests.conftest import SHARED
from tests.helpers import Dashboard, follow, start_job
from webapp.bundled import ChildServer
from webapp.events import KINDS, LEVELS

TIMEOUT = 30_000
FROM_BOTTOM = "(l => l.scrollHeight - l.scrollTop - l.clientHeight)(document.getElementById('log'))"
LONG_NAME = "a-server-whose-name-goes-on-and-on-and-on"


def finished_job(dashboard: Dashboard, **arguments: Any) -> str:
    with dashboard.client() as client:
        job_id = start_job(client, **arguments)
        follow(client, job_id)
    return job_id


def on_screen(page: Page, selector: str) -> list[str]:
    """The elements matching `selector` that are not wholly inside the window (sideways), by their text."""
    outside: list[str] = page.eval_on_selector_all(
        selector,
        """els => els.filter(el => {
            const r = el.getBoundingClientRect();
            return !(r.width > 0 && r.left >= 0 && r.right <= innerWidth);
        }).map(el => el.textContent.trim())""",
    )
    return outside


@pytest.mark.parametrize(("width", "height"), [(390, 844), (360, 740)])
def test_on_a_phone_every_toggle_is_on_screen(browser: Browser, dashboard: Dashboard, width: int, height: int) -> None:
    job_id = finished_job(dashboard, steps=8, delay=0)
    with open_page(browser, width, height) as page:
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        page.locator(".filters-box > summary").click()
        toggles = page.locator("[data-filter-level], [data-filter-kind]")
        expect(toggles).to_have_count(len(LEVELS) + len(KINDS))
        for index in range(toggles.count()):
            expect(toggles.nth(index)).to_be_visible()
        assert on_screen(page, "[data-filter-level], [data-filter-kind], #filter-min-level") == []
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        # A tap on the last kind applies it.
        page.locator(f"[data-filter-kind={KINDS[-1]}]").click()
        page.wait_for_url(f"**kinds={KINDS[-1]}", timeout=TIMEOUT)


@pytest.fixture(scope="module")
def four_servers(mcp_server: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """Four servers, one of them down and one with a long name."""
    folder = tmp_path_factory.mktemp("four-servers")
    base = mcp_server.url.removesuffix("/mcp")
    servers = {
        "demo": {"url": f"{base}/mcp"},
        "old": {"url": f"{base}/sse"},
        LONG_NAME: {"url": f"{base}/mcp"},
        "down": {"url": "http://127.0.0.1:9/mcp"},  # nothing listens on the discard port
    }
    config = folder / "servers.json"
    config.write_text(json.dumps({"mcpServers": servers}))
    app = Dashboard(folder / "jobs.sqlite3", mcp_url=None, args=("--config", str(config), *SHARED)).start()
    yield app
    app.stop()


@pytest.mark.parametrize("width", [360, 390])
def test_on_a_phone_the_header_shows_every_servers_state(browser: Browser, four_servers: Dashboard, width: int) -> None:
    with open_page(browser, width, 800) as page:
        page.goto(four_servers.url)
        down = page.locator("#server-status [data-server=down]")
        expect(down).to_have_attribute("data-server-state", "unreachable", timeout=TIMEOUT)
        servers = page.locator("#server-status [data-server]")
        expect(servers).to_have_count(4)
        for index in range(4):
            expect(servers.nth(index)).to_be_in_viewport()
            expect(servers.nth(index).locator(".dot")).to_be_visible()
        assert on_screen(page, "#server-status [data-server]") == []
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        # The long name is cut with an ellipsis, whole for a screen reader and on its page.
        name = page.locator(f"[data-server='{LONG_NAME}'] .server-name")
        assert name.evaluate("n => n.scrollWidth > n.clientWidth && getComputedStyle(n).textOverflow === 'ellipsis'")
        expect(name).to_have_text(LONG_NAME)
        expect(page.locator(".jobs-link")).to_be_in_viewport()


def test_warning_and_above_in_one_choice_kept_in_the_url_and_the_downloads(page: Page, dashboard: Dashboard) -> None:
    job_id = finished_job(dashboard, steps=16, delay=0)  # two lines at each level, and 16 progress lines
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    page.locator(".quick-level").click()  # one click: warnings and worse
    page.wait_for_url("**min_level=warning", timeout=TIMEOUT)
    levels = page.eval_on_selector_all("#log > li", "lines => lines.map(l => l.dataset.level)")
    assert sorted(set(levels)) == sorted(LEVELS[LEVELS.index("warning") :]) and len(levels) == 10
    expect(page.locator("#filter-min-level")).to_have_value("warning")
    expect(page.locator("#view-counts")).to_contain_text("Showing 10 of 10 matching line(s) (32 in all)")
    # With an exact level too (AND), then another minimum chosen from the list.
    page.locator("[data-filter-level=error] input").check()
    page.wait_for_url("**levels=error*", timeout=TIMEOUT)
    assert parse_qs(urlsplit(page.url).query)["min_level"] == ["warning"]
    expect(page.locator("#log > li")).to_have_count(2)
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    page.locator("#filter-min-level").select_option("critical")
    page.wait_for_url("**min_level=critical", timeout=TIMEOUT)
    expect(page.locator("#log > li")).to_have_count(6)
    href = page.locator(".exports a").first.get_attribute("href")
    assert href is not None and parse_qs(urlsplit(href).query)["min_level"] == ["critical"]
    with httpx.Client(base_url=dashboard.url, timeout=10) as client:
        text = client.get(href).text
        assert len(text.splitlines()) == 6 and "WARNING" not in text
        events = client.get(f"/api/jobs/{job_id}/events", params={"min_level": "error", "logger": "demo.job"}).json()
        assert {e["level"] for e in events["events"]} == {"error", "critical", "alert", "emergency"}
        refused = client.get(f"/api/jobs/{job_id}/events", params={"min_level": "loud"})
        assert refused.status_code == 422 and "min_level: 'loud' is not one of debug" in refused.text


def test_a_bad_pattern_is_explained_beside_the_search_box_and_the_page_stays(page: Page, dashboard: Dashboard) -> None:
    job_id = finished_job(dashboard, steps=8, delay=0)
    page.goto(f"{dashboard.url}/jobs/{job_id}?levels=error")
    page.locator("#filter-q").fill("(unclosed")
    page.locator("#filters input[name=regex]").check()
    page.locator("#filter-q").press("Enter")
    page.wait_for_url("**regex=1", timeout=TIMEOUT)
    error = page.locator("#filter-error")
    expect(error).to_contain_text("q is not a regular expression this dashboard can run: missing )")
    # Beside the box, tied to it; what was typed, the other filters, the job and its log are all kept.
    expect(page.locator("#filter-q")).to_have_value("(unclosed")
    expect(page.locator("#filter-q")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#filter-q")).to_have_attribute("aria-describedby", "filter-error")
    expect(page.locator("#filters input[name=regex]")).to_be_checked()
    expect(page.locator("[data-filter-level=error] input")).to_be_checked()
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "succeeded")
    expect(page.locator("#log > li")).to_have_count(1)  # the level filter still applies: one error line
    assert page.locator("#filters .search #filter-error, #filters .search ~ #filter-error").count() == 1
    with httpx.Client(base_url=dashboard.url, timeout=10) as client:
        api = client.get(f"/api/jobs/{job_id}/events", params={"q": "(unclosed", "regex": "1"})
    assert api.status_code == 422 and "missing )" in api.json()["detail"]


def test_switching_the_time_display_keeps_a_following_log_on_its_tail(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=400, delay=0.03)
        try:
            page.goto(f"{dashboard.url}/jobs/{job_id}")
            page.wait_for_function("() => document.querySelectorAll('#log > li').length > 80", timeout=TIMEOUT)
            page.wait_for_function(f"() => {FROM_BOTTOM} < 40", timeout=TIMEOUT)
            for _ in range(2):  # to the time since the start, and back
                before = page.evaluate("() => Number(document.getElementById('log').lastElementChild.dataset.seq)")
                page.locator("#time-mode").click()
                page.wait_for_function(
                    "(n) => Number(document.getElementById('log').lastElementChild.dataset.seq) > n + 30",
                    arg=before,
                    timeout=TIMEOUT,
                )
                page.wait_for_function(f"() => {FROM_BOTTOM} < 40", timeout=TIMEOUT)
                expect(page.locator("#new-lines")).to_be_hidden()
        finally:
            client.post(f"/api/jobs/{job_id}/cancel")
            follow(client, job_id)


# A fake Notification and a tab that can be hidden, put in before the page's own scripts (an init script is the
# browser's, not the page's: the page's CSP does not govern it).
FAKE_NOTICES = """
window.__notices = []; window.__asked = 0; window.__hidden = false;
Object.defineProperty(document, "visibilityState", { get: () => (window.__hidden ? "hidden" : "visible") });
window.Notification = class {
  static permission = "default";
  static async requestPermission() { window.__asked += 1; Notification.permission = "granted"; return "granted"; }
  constructor(title, options) { window.__notices.push({ title, body: options.body }); }
};
"""


def test_a_job_that_ends_in_a_hidden_tab_notifies_when_asked_to(page: Page, dashboard: Dashboard) -> None:
    page.add_init_script(FAKE_NOTICES)
    with dashboard.client() as client:
        job_id = start_job(client, steps=400, delay=0.03)
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        button = page.locator("#notify-end")
        expect(button).to_be_visible()
        assert page.evaluate("() => window.__asked") == 0  # never asked on load
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        assert page.evaluate("() => window.__asked") == 1
        page.evaluate("() => { window.__hidden = true }")  # the person looks away
        client.post(f"/api/jobs/{job_id}/cancel")
        follow(client, job_id)
    page.wait_for_function("() => window.__notices.length === 1", timeout=TIMEOUT)
    notice = page.evaluate("() => window.__notices[0]")
    assert notice["title"] == f"MCP Live: job {job_id} ended" and "The job was cancelled." in notice["body"]
    expect(page).to_have_title("cancelled · run_job · MCP Live")


def test_a_job_that_ends_in_a_visible_tab_or_unasked_sends_no_notice(page: Page, dashboard: Dashboard) -> None:
    page.add_init_script(FAKE_NOTICES)
    with dashboard.client() as client:
        job_id = start_job(client, steps=400, delay=0.03)
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        expect(page.locator("#live")).to_have_attribute("data-live", "live", timeout=TIMEOUT)
        page.evaluate("() => { window.__hidden = true }")  # hidden, but the person never asked
        client.post(f"/api/jobs/{job_id}/cancel")
        follow(client, job_id)
    expect(page.locator("#job-announcer")).to_have_text("The job was cancelled.", timeout=TIMEOUT)
    assert page.evaluate("() => [window.__asked, window.__notices.length]") == [0, 0]


def test_a_servers_lines_outside_jobs_take_the_filters_search_and_download(page: Page, four_servers: Dashboard) -> None:
    page.goto(f"{four_servers.url}/servers/demo")
    expect(page.locator("[data-outside-jobs]")).to_have_attribute("data-outside-jobs", "listening", timeout=TIMEOUT)
    page.locator("#filter-min-level").select_option("alert")  # applies at once, as the page's link
    page.wait_for_url("**/servers/demo?min_level=alert", timeout=TIMEOUT)
    expect(page.locator("[data-outside-jobs]")).to_have_attribute("data-outside-jobs", "listening", timeout=TIMEOUT)
    with httpx.Client(base_url=four_servers.url, timeout=10) as client:
        for level, message in (("info", "quiet news"), ("alert", "loud news")):
            arguments = {"message": message, "level": level}
            job = client.post("/api/jobs", json={"server": "old", "tool": "broadcast", "arguments": arguments}).json()
            follow(client, job["id"])
        expect(page.locator("#log li", has_text="loud news")).to_have_count(1, timeout=TIMEOUT)
        assert page.locator("#log li", has_text="quiet news").count() == 0
        assert set(page.eval_on_selector_all("#log > li", "ls => ls.map(l => l.dataset.level)")) <= {
            "alert",
            "emergency",
        }
        href = page.locator(".exports a").get_attribute("href")
        assert href is not None and parse_qs(urlsplit(href).query)["min_level"] == ["alert"]
        assert {e["level"] for e in client.get(href).json()["events"]} <= {"alert", "emergency"}
    # A search, by `/` and Enter: the page's lines and its stream take it.
    page.locator("h1").click()
    page.keyboard.press("/")
    page.keyboard.type("quiet news")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=quiet+news*", timeout=TIMEOUT)
    expect(page.locator("#log > li")).to_have_count(0)  # quiet news is at info: below the minimum
    page.goto(f"{four_servers.url}/servers/demo?q=quiet+news")
    expect(page.locator("#log li", has_text="quiet news")).to_have_count(1)
    expect(page.locator("#log li", has_text="loud news")).to_have_count(0)


def test_the_new_lines_button_covers_no_line(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=400, delay=0.03)
        try:
            page.goto(f"{dashboard.url}/jobs/{job_id}")
            page.wait_for_function("() => document.querySelectorAll('#log > li').length > 60", timeout=TIMEOUT)
            page.locator("#log").hover()
            page.mouse.wheel(0, -300)  # the reader scrolls up a little: new lines wait below
            button = page.locator("#new-lines")
            expect(button).to_be_visible(timeout=TIMEOUT)
            log_box, button_box = page.locator("#log").bounding_box(), button.bounding_box()
            assert log_box is not None and button_box is not None
            assert button_box["y"] >= log_box["y"] + log_box["height"], (button_box, log_box)
        finally:
            client.post(f"/api/jobs/{job_id}/cancel")
            follow(client, job_id)
