"""The page under faults: dropped streams, reloads, cancel, and a server that goes away and comes back."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.browser.test_page import TIMEOUT, seqs_in_dom, start_from_form
from tests.helpers import Dashboard, server_stats, wait_until
from tests.proxy import CuttableProxy
from webapp.bundled import ChildServer


def state_badge(page: Page) -> Locator:
    return page.locator("#job-status [data-state]")


def test_streams_dropped_mid_job_resume_and_every_line_shows_once_in_order(page: Page, dashboard: Dashboard) -> None:
    with CuttableProxy(dashboard.port) as proxy:
        via_proxy = Dashboard(dashboard.db, mcp_url=None, port=proxy.port)  # only its URL is used
        start_from_form(page, via_proxy, arguments={"steps": 60, "delay": 0.05})
        for lines in (20, 60):
            expect(page.locator(f'#log > li[data-seq="{lines}"]')).to_be_attached(timeout=TIMEOUT)
            proxy.cut()
        expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
        assert proxy.cuts == 2
    assert seqs_in_dom(page) == list(range(1, 121))


def test_a_reload_mid_job_shows_the_whole_history_then_continues_live(page: Page, dashboard: Dashboard) -> None:
    start_from_form(page, dashboard, arguments={"steps": 50, "delay": 0.04})
    expect(page.locator('#log > li[data-seq="30"]')).to_be_attached(timeout=TIMEOUT)
    page.reload()
    expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    assert seqs_in_dom(page) == list(range(1, 101))


def test_the_cancel_button_cancels_the_job_on_the_server(page: Page, own_server: ChildServer, tmp_path: Path) -> None:
    server = own_server
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=server.url).start()
    try:
        start_from_form(page, app, arguments={"steps": 1000, "delay": 0.05})
        expect(page.locator('#log > li[data-seq="6"]')).to_be_attached(timeout=TIMEOUT)
        # Record every state the badge shows from now on, however briefly.
        page.evaluate(
            """() => {
                window.statesShown = [];
                const status = document.getElementById("job-status");
                new MutationObserver(() => {
                    const state = status.querySelector("[data-state]")?.dataset.state;
                    if (state && state !== window.statesShown.at(-1)) window.statesShown.push(state);
                }).observe(status, {childList: true, subtree: true, attributes: true, characterData: true});
            }"""
        )
        page.click("button.cancel")
        expect(state_badge(page)).to_have_attribute("data-state", "cancelled", timeout=TIMEOUT)
        shown = page.evaluate("window.statesShown")
        assert shown[-2:] == ["cancelling", "cancelled"], shown  # after "running", if a batch came first
        assert set(shown) <= {"running", "cancelling", "cancelled"}, shown
        expect(page.locator("#job-status .stopped")).to_have_text("cancelled by the user")
        expect(page.locator("#job-status .error")).to_have_count(0)  # a cancel by the user is no error
        expect(page.locator("button.cancel")).to_have_count(0)
        wait_until(lambda: server_stats(server)["cancelled"] == 1, what="the server to see the cancel")
        seqs = seqs_in_dom(page)
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        app.stop()


def test_the_server_status_follows_the_server_going_away_and_coming_back(
    page: Page, own_server: ChildServer, tmp_path: Path
) -> None:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=own_server.url, args=("--status-interval", "1")).start()
    back = ChildServer(port=own_server.port)
    try:
        page.goto(app.url + "/")
        status = page.locator("#server-status [data-server-state]")
        expect(status).to_have_attribute("data-server-state", "connected")
        own_server.kill()
        expect(status).to_have_attribute("data-server-state", "unreachable", timeout=TIMEOUT)
        expect(status).to_contain_text("MCP server unreachable")
        back.start()
        expect(status).to_have_attribute("data-server-state", "connected", timeout=TIMEOUT)
    finally:
        back.stop()
        app.stop()
