"""The live page as a person uses it: every load goes live, controls work under a streaming job, nothing steals
focus, and the page says so when it is not live."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from playwright.sync_api import Dialog, Locator, Page, Route, expect

from tests.browser.test_page import TIMEOUT, seqs_in_dom
from tests.helpers import Dashboard, server_stats, start_job, wait_until
from webapp.bundled import ChildServer, free_port


def state_badge(page: Page) -> Locator:
    return page.locator("#job-status [data-state]")


def hold_back(page: Page, pattern: str) -> list[Route]:
    """Hold every request matching `pattern` until the test continues it."""
    held: list[Route] = []
    page.route(pattern, lambda route: held.append(route))
    return held


def wait_for_route(page: Page, held: list[Route], timeout: float = 10) -> Route:
    deadline = time.monotonic() + timeout
    while not held:
        assert time.monotonic() < deadline, "the held request was never made"
        page.evaluate("0")  # a round trip lets Playwright hand us the request
    return held[0]


def test_a_job_page_goes_live_even_when_the_sse_extension_arrives_after_htmx_could_start(
    page: Page, dashboard: Dashboard
) -> None:
    held = hold_back(page, "**/hx-sse-*.js")
    with dashboard.client() as client:
        job_id = start_job(client, steps=10, delay=0.05)
    page.goto(f"{dashboard.url}/jobs/{job_id}", wait_until="commit")
    extension = wait_for_route(page, held)
    # htmx has run, the document is parsed, and every timer htmx set has fired: had htmx been free to start
    # without the extension, it would have done so by now.
    page.wait_for_function("() => window.htmx !== undefined && document.readyState !== 'loading'")
    page.evaluate("new Promise(resolve => setTimeout(resolve, 0))")
    extension.continue_()
    expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    assert seqs_in_dom(page) == list(range(1, 21))


def test_job_pages_opened_right_after_their_jobs_start_each_show_every_line_and_the_end(
    page: Page, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        for _ in range(12):
            job_id = start_job(client, steps=8, delay=0.02)
            page.goto(f"{dashboard.url}/jobs/{job_id}")
            expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
            expect(page.locator("#log > li")).to_have_count(16)
            assert seqs_in_dom(page) == list(range(1, 17))
            expect(page.locator("#live")).to_have_attribute("data-live", "ended")


def press_like_a_person(page: Page, target: Locator) -> None:
    """Mouse down on the middle of `target`, hold for 100 ms as a finger does, mouse up: no retry, no waiting
    for the element to be still, unlike Playwright's own click()."""
    box = target.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, delay=100)


def test_a_real_mouse_press_on_cancel_cancels_a_streaming_job_every_time(
    page: Page, dashboard: Dashboard, mcp_server: ChildServer
) -> None:
    cancelled_before = server_stats(mcp_server)["cancelled"]
    with dashboard.client() as client:
        for n in range(1, 4):
            job_id = start_job(client, steps=1000, delay=0.05)
            page.goto(f"{dashboard.url}/jobs/{job_id}")
            expect(page.locator('#log > li[data-seq="10"]')).to_be_attached(timeout=TIMEOUT)
            press_like_a_person(page, page.locator("#cancel-job"))
            expect(state_badge(page)).to_have_attribute("data-state", "cancelled", timeout=TIMEOUT)
            assert client.get(f"/api/jobs/{job_id}").json()["error"] == "cancelled by the user"
            wait_until(
                lambda n=n: server_stats(mcp_server)["cancelled"] == cancelled_before + n,  # type: ignore[misc]
                what="the server to see the cancel",
            )


def test_enter_on_cancel_reached_with_tab_cancels_a_streaming_job(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=1000, delay=0.05)
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    expect(page.locator('#log > li[data-seq="4"]')).to_be_attached(timeout=TIMEOUT)
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "cancel-job":
            break
    assert page.evaluate("document.activeElement.id") == "cancel-job", "Tab never reached Cancel"
    # Lines keep streaming in; focus stays where the keyboard put it.
    seen = len(seqs_in_dom(page))
    expect(page.locator(f'#log > li[data-seq="{seen + 10}"]')).to_be_attached(timeout=TIMEOUT)
    assert page.evaluate("document.activeElement.id") == "cancel-job"
    page.keyboard.press("Enter")
    expect(state_badge(page)).to_have_attribute("data-state", "cancelled", timeout=TIMEOUT)
    # Cancel is gone with the job: focus went to the job's status, not to <body>.
    assert page.evaluate("document.activeElement.id") == "job-status"


def test_a_jobs_list_link_keeps_focus_and_is_never_replaced_across_refreshes(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=60, delay=0.05)
    page.goto(dashboard.url + "/")
    link = page.locator(f'#jobs a[href="/jobs/{job_id}"]')
    link.focus()
    page.evaluate(
        """() => {
            window.listRefreshes = 0;
            window.focusedLink = document.activeElement;
            document.getElementById("jobs").addEventListener("htmx:after:swap", () => window.listRefreshes++);
        }"""
    )
    page.wait_for_function("() => window.listRefreshes >= 2", timeout=TIMEOUT)
    # The very same element: a press under the pointer or a keyboard focus on it survives the refreshes.
    assert page.evaluate("window.focusedLink.isConnected && document.activeElement === window.focusedLink")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/jobs/{job_id}", timeout=TIMEOUT)


def test_the_start_form_appears_by_itself_once_the_server_comes_up(page: Page, tmp_path: Path) -> None:
    port = free_port()
    app = Dashboard(
        tmp_path / "jobs.sqlite3", mcp_url=f"http://127.0.0.1:{port}/mcp", args=("--status-interval", "1")
    ).start()
    server = ChildServer(port=port)
    try:
        page.goto(app.url + "/")
        waiting = page.locator("#start-form.waiting")
        expect(waiting).to_contain_text("cannot be reached", timeout=TIMEOUT)
        expect(waiting).to_contain_text("--mcp-url")
        expect(page.locator("#jobs")).to_have_text("No jobs yet.")  # not "start one above": nothing can start
        server.start()
        expect(page.locator("#tool")).to_have_value("run_job", timeout=TIMEOUT)  # no reload
        page.fill("#arguments", '{"steps": 3, "delay": 0}')
        page.click("button.primary")
        expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    finally:
        server.stop()
        app.stop()


def test_a_job_page_whose_stream_cannot_open_says_so_and_reconnects_on_request(
    page: Page, dashboard: Dashboard
) -> None:
    page.route("**/jobs/*/events*", lambda route: route.abort())
    with dashboard.client() as client:
        job_id = start_job(client, steps=40, delay=0.05)
    page.goto(f"{dashboard.url}/jobs/{job_id}")
    live = page.locator("#live")
    expect(live).to_have_attribute("data-live", "lost", timeout=TIMEOUT)
    expect(live).to_contain_text("not live")
    page.unroute("**/jobs/*/events*")
    live.get_by_role("button", name="Reconnect").click()
    expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    assert seqs_in_dom(page) == list(range(1, 81))


def test_an_unknown_job_or_page_shows_a_page_with_a_way_back(page: Page, dashboard: Dashboard) -> None:
    for path, says in [("/jobs/nosuchjob", "No job with id 'nosuchjob'"), ("/no/such/page", "no page at this")]:
        response = page.goto(dashboard.url + path)
        assert response is not None and response.status == 404
        expect(page.locator("h1")).to_have_text("Not found")
        expect(page.locator("main")).to_contain_text(says)
        page.get_by_role("link", name="← all jobs").click()
        page.wait_for_url(dashboard.url + "/")


def set_tab_hidden(page: Page, hidden: bool) -> None:
    """What the browser does when the user switches tabs: htmx pauses the stream, and resumes it on return."""
    page.evaluate(
        """hidden => {
            Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def test_a_tab_back_from_the_background_jumps_to_the_newest_lines_and_counts_the_ones_it_skipped(
    page: Page, small_dashboard: Dashboard
) -> None:
    total = 400
    with small_dashboard.client() as client:
        job_id = start_job(client, steps=total // 2, delay=0.02)
        page.goto(f"{small_dashboard.url}/jobs/{job_id}")
        expect(page.locator('#log > li[data-seq="10"]')).to_be_attached(timeout=TIMEOUT)
        set_tab_hidden(page, True)
        paused_at = max(seqs_in_dom(page))
        wait_until(
            lambda: client.get(f"/api/jobs/{job_id}").json()["events"] > paused_at + 150,
            what="the job to move well past the page's 50 lines",
        )
        page.evaluate(
            """() => {
                window.linesAdded = 0;
                new MutationObserver(records => {
                    for (const record of records) {
                        for (const node of record.addedNodes) if (node.nodeName === "LI") window.linesAdded++;
                    }
                }).observe(document.getElementById("log"), {childList: true});
            }"""
        )
        events_at_return = client.get(f"/api/jobs/{job_id}").json()["events"]
        set_tab_hidden(page, False)
        expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    # Only what the page keeps: the newest 50 at the jump, then what came live. Without the jump it would
    # have been sent everything it missed (at least 150 more), only to trim it again.
    assert page.evaluate("window.linesAdded") <= 50 + (total - events_at_return)
    expect(page.locator("#log > li").last).to_have_attribute("data-seq", str(total), timeout=TIMEOUT)
    seqs = seqs_in_dom(page)
    assert 0 < len(seqs) <= 50
    assert seqs == list(range(total - len(seqs) + 1, total + 1))  # the newest, each once, in order
    expect(page.locator("#hidden-lines .count")).to_have_text(str(total - len(seqs)))


def test_a_person_logs_in_with_the_printed_url_and_the_page_then_works_live(
    page: Page, mcp_server: ChildServer, tmp_path: Path
) -> None:
    token = "browser-test-token"
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=("--token", token)).start()
    try:
        page.goto(app.url + "/")
        expect(page.locator("h1")).to_have_text("This dashboard needs its token")
        page.goto(f"{app.url}/?token={token}")
        assert page.url == app.url + "/"  # the token left the address bar
        page.fill("#arguments", '{"steps": 3, "delay": 0.02}')
        page.click("button.primary")
        expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
        assert seqs_in_dom(page) == list(range(1, 7))
    finally:
        app.stop()


def test_an_ended_job_is_deleted_from_its_page_after_saying_yes(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=2, delay=0)
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
        questions: list[str] = []

        def say_no(dialog: Dialog) -> None:
            questions.append(dialog.message)
            dialog.dismiss()

        page.once("dialog", say_no)
        page.click("#delete-job")
        assert questions == [f"Delete job {job_id} and all its events, for good?"]
        assert client.get(f"/api/jobs/{job_id}").status_code == 200  # "no": still there
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#delete-job")
        page.wait_for_url(dashboard.url + "/", timeout=TIMEOUT)
        assert client.get(f"/api/jobs/{job_id}").status_code == 404
        expect(page.locator(f'#jobs a[href="/jobs/{job_id}"]')).to_have_count(0)


def test_rerun_on_an_ended_jobs_page_starts_the_same_job_again_and_shows_it(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, steps=3, delay=0)
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
        press_like_a_person(page, page.locator("#rerun-job"))
        page.wait_for_url(re.compile(r"/jobs/(?!" + job_id + r")[0-9a-f]+$"), timeout=TIMEOUT)
        again = page.url.rsplit("/", 1)[1]
        expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
        assert seqs_in_dom(page) == list(range(1, 7))
        first, second = (client.get(f"/api/jobs/{j}").json() for j in (job_id, again))
        assert (second["tool"], second["arguments"]) == (first["tool"], first["arguments"])


def test_edit_and_run_fills_the_form_with_the_jobs_settings_and_starts_the_edited_job(
    page: Page, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        body = {"tool": "run_job", "arguments": {"steps": 3, "delay": 0}, "log_level": "warning", "linger": 0.2}
        job_id = client.post("/api/jobs", json=body).json()["id"]
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        expect(state_badge(page)).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
        page.click("#edit-job")
        page.wait_for_url(f"{dashboard.url}/?from={job_id}", timeout=TIMEOUT)
        expect(page.locator("#tool")).to_have_value("run_job")
        expect(page.locator("#log_level")).to_have_value("warning")
        expect(page.locator("#linger")).to_have_value("0.2")
        assert json.loads(page.locator("#arguments").input_value()) == {"steps": 3, "delay": 0}
        page.fill("#arguments", '{"steps": 5, "delay": 0}')
        page.click("button.primary")
        page.wait_for_url(re.compile(r"/jobs/(?!" + job_id + r")[0-9a-f]+$"), timeout=TIMEOUT)
        again = client.get("/api" + page.url.removeprefix(dashboard.url)).json()
        assert (again["arguments"], again["log_level"], again["linger"]) == ({"steps": 5, "delay": 0}, "warning", 0.2)


def test_the_jobs_list_is_filtered_from_its_own_form_and_stays_filtered_across_refreshes(
    page: Page, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        failed = client.post("/api/jobs", json={"tool": "run_job", "arguments": {"steps": 1, "fail_at": 1}}).json()
        follow_job = start_job(client, steps=1, delay=0)
        wait_until(lambda: client.get(f"/api/jobs/{failed['id']}").json()["state"] == "failed", what="the failure")
    page.goto(dashboard.url + "/")
    page.select_option("#filter-state", "failed")
    page.click(".jobs-filter button")
    page.wait_for_url(re.compile(r"/\?state=failed"), timeout=TIMEOUT)
    expect(page.locator(f"#job-row-{failed['id']}")).to_be_visible()
    expect(page.locator(f"#job-row-{follow_job}")).to_have_count(0)
    # The live list keeps the filter: a job that fails now shows up by itself, one that succeeds does not.
    with dashboard.client() as client:
        succeeded = start_job(client, steps=1, delay=0)
        failed_now = client.post("/api/jobs", json={"tool": "run_job", "arguments": {"steps": 1, "fail_at": 1}}).json()
    expect(page.locator(f"#job-row-{failed_now['id']}")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(f"#job-row-{follow_job}")).to_have_count(0)
    expect(page.locator(f"#job-row-{succeeded}")).to_have_count(0)
    assert set(page.locator("#jobs [data-state]").evaluate_all("els => els.map(e => e.dataset.state)")) == {"failed"}
