"""The home page's recent-jobs list in Chromium: live over one stream, its columns, rerun from a row with a real
mouse press and with the keyboard while the list updates, and cards at a phone's width."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_page import TIMEOUT
from tests.helpers import Dashboard, start_job, wait_until

APPEARS = 5_000  # ms: a job started elsewhere is in the list within this


def finished_job(client: httpx.Client, **arguments: Any) -> str:
    job_id = start_job(client, **arguments)
    wait_until(lambda: client.get(f"/api/jobs/{job_id}").json()["state"] == "succeeded", what="the job's end")
    return job_id


def count_updates(page: Page) -> None:
    """window.updates: how many updates of the list the page has taken in since now."""
    page.evaluate(
        """() => {
            window.updates = 0;
            document.getElementById("jobs").addEventListener("htmx:after:swap", () => window.updates++);
        }"""
    )


@pytest.fixture
def busy(dashboard: Dashboard) -> Iterator[str]:
    """A job that keeps the list changing (its progress) while a test presses things in it; cancelled after."""
    with dashboard.client() as client:
        job_id = start_job(client, steps=1000, delay=0.02)
        yield job_id
        client.post(f"/api/jobs/{job_id}/cancel")


def test_the_list_follows_jobs_over_one_stream_without_polling(page: Page, dashboard: Dashboard) -> None:
    paths: list[str] = []
    page.on("request", lambda request: paths.append(urlsplit(request.url).path))
    page.goto(dashboard.url + "/")
    with dashboard.client() as client:
        job_id = start_job(client, steps=40, delay=0.08)  # runs longer than the 3 s the list used to poll at
    row = page.locator(f"#job-row-{job_id}")
    expect(row).to_be_attached(timeout=APPEARS)
    expect(row.locator("[data-state]")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    expect(row.locator("[data-warnings]")).to_have_text("25")  # 40 steps: five rounds of the eight levels
    assert "/fragments/jobs" not in paths
    assert paths.count("/fragments/jobs/events") == 1


def test_each_row_shows_tool_server_state_progress_duration_warnings_and_start(
    page: Page, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        job_id = finished_job(client, steps=16, delay=0)
        job = client.get(f"/api/jobs/{job_id}").json()
    page.goto(dashboard.url + "/")
    row = page.locator(f"#job-row-{job_id}")
    labels = row.locator("td[data-label]").evaluate_all("tds => tds.map(td => td.dataset.label)")
    texts = dict(zip(labels, [text.strip() for text in row.locator("td[data-label]").all_inner_texts()], strict=True))
    assert labels == ["Job", "Tool", "Server", "State", "Progress", "Duration", "Warnings", "Started"]
    assert (texts["Job"], texts["Tool"], texts["Server"]) == (job_id, "run_job", job["server"])
    expect(row.locator("[data-state]")).to_have_attribute("data-state", "succeeded")
    assert texts["Progress"] == "100 %"
    # 16 steps through the eight levels: warning, error, critical, alert and emergency twice.
    assert texts["Warnings"] == "10" == str(job["warnings"])
    took = re.fullmatch(r"(\d+\.\d) s", texts["Duration"])
    assert took is not None, texts["Duration"]
    started = row.locator("time")
    assert started.get_attribute("datetime") == job["created_at"]
    assert started.get_attribute("title") == job["created_at"][:19].replace("T", " ") + " UTC"
    assert re.fullmatch(r"just now|\d+ s ago", texts["Started"]), texts["Started"]


def test_start_times_and_running_durations_move_on_by_themselves(page: Page, dashboard: Dashboard, busy: str) -> None:
    with dashboard.client() as client:
        ended = finished_job(client, steps=1, delay=0)
    page.clock.install()  # the page's own clock, to move on by minutes without waiting them
    page.goto(dashboard.url + "/")
    running = page.locator(f"#job-row-{busy} [data-since]")
    expect(running).to_be_attached(timeout=TIMEOUT)
    page.clock.fast_forward("03:00")
    started = page.locator(f"#job-row-{ended} time")
    expect(started).to_have_text("3 min ago", timeout=TIMEOUT)
    expect(running).to_have_text(re.compile(r"^3:\d\d$"), timeout=TIMEOUT)
    # Updates of the list (the busy job's progress) leave a start time that is still the same one alone: its text
    # is not put back to the server's for the page to correct it again.
    started.evaluate(
        """time => {
            window.touched = 0;
            const everything = {childList: true, characterData: true, subtree: true, attributes: true};
            new MutationObserver(() => window.touched++).observe(time, everything);
        }"""
    )
    count_updates(page)
    page.wait_for_function("() => window.updates >= 2", timeout=TIMEOUT)
    assert page.evaluate("window.touched") == 0
    expect(started).to_have_text("3 min ago")
    ended_duration = page.locator(f"#job-row-{ended} .duration").inner_text()
    assert re.fullmatch(r"\d+\.\d s", ended_duration), ended_duration  # an ended job's duration stays


def test_rerun_from_the_list_with_a_real_mouse_press_while_the_list_updates(
    page: Page, dashboard: Dashboard, busy: str
) -> None:
    with dashboard.client() as client:
        job_id = finished_job(client, steps=3, delay=0)
        page.goto(dashboard.url + "/")
        count_updates(page)
        button = page.locator(f"#rerun-{job_id}")
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        # The list changes under the pressed button (the busy job's progress): the press survives it.
        page.wait_for_function("() => window.updates >= 2", timeout=TIMEOUT)
        page.mouse.up()
        page.wait_for_url(re.compile(rf"/jobs/(?!{job_id}|{busy})[0-9a-f]+$"), timeout=TIMEOUT)
        again = client.get("/api" + urlsplit(page.url).path).json()
        first = client.get(f"/api/jobs/{job_id}").json()
    assert (again["tool"], again["arguments"], again["server"]) == (first["tool"], first["arguments"], first["server"])


def test_rerun_from_the_list_with_the_keyboard_while_the_list_updates(
    page: Page, dashboard: Dashboard, busy: str
) -> None:
    with dashboard.client() as client:
        job_id = finished_job(client, steps=3, delay=0)
        page.goto(dashboard.url + "/")
        page.locator(f"#job-link-{job_id}").focus()
        page.keyboard.press("Tab")  # from the job's link to its Rerun
        assert page.evaluate("document.activeElement.id") == f"rerun-{job_id}"
        page.evaluate("() => { window.focused = document.activeElement; }")
        count_updates(page)
        page.wait_for_function("() => window.updates >= 2", timeout=TIMEOUT)
        # The very same button, still focused, and visibly so.
        assert page.evaluate("document.activeElement === window.focused && window.focused.isConnected")
        assert page.evaluate("document.activeElement.matches(':focus-visible')")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(rf"/jobs/(?!{job_id}|{busy})[0-9a-f]+$"), timeout=TIMEOUT)
        again = client.get("/api" + urlsplit(page.url).path).json()
    assert (again["tool"], again["arguments"]) == ("run_job", {"steps": 3, "delay": 0})


def test_at_a_phones_width_the_list_is_cards_and_the_page_does_not_widen(
    browser: Browser, dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        job_id = finished_job(client, steps=16, delay=0)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(dashboard.url + "/")
        row = page.locator(f"#job-row-{job_id}")
        expect(row).to_be_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert row.evaluate("tr => getComputedStyle(tr).display") == "block"  # a card, not a table row
        cells = row.locator("td[data-label]")
        shown = cells.evaluate_all("tds => tds.map(td => getComputedStyle(td, '::before').content)")
        assert shown == [
            '"Job"',
            '"Tool"',
            '"Server"',
            '"State"',
            '"Progress"',
            '"Duration"',
            '"Warnings"',
            '"Started"',
        ]
        tops = [box["y"] for box in (cells.nth(i).bounding_box() for i in range(8)) if box is not None]
        assert tops == sorted(tops) and len(set(tops)) == 8  # the fields stacked, one under the other
        for element in (
            row,
            page.locator(f"#rerun-{job_id}"),
            page.locator("#start-form"),
            page.locator(".jobs-filter"),
        ):
            box = element.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        assert errors == []
    finally:
        context.close()
