"""A log that stays live on a busy machine and with big jobs (issue 18): a permalink deep in a big job opens the
window around its line (never a walk through everything after it), and a page held busy during a flood jumps to
the tail, with a marker "N lines skipped" in the skipped lines' place that loads them when pressed."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.helpers import Dashboard, start_job, wait_until

TIMEOUT = 30_000

# The log as the page holds it, in order: a line's seq, or a marker's [from, to, count].
LAYOUT = """() => [...document.getElementById("log").children].map((item) => item.classList.contains("skipped")
    ? [Number(item.dataset.skippedFrom), Number(item.dataset.skippedTo), Number(item.dataset.skipped)]
    : Number(item.dataset.seq))"""

# Hold the page's main thread until the job has ended (a synchronous request in a loop: the browser's network
# side meanwhile buffers the stream, as it does on a busy machine), a minute at most.
HOLD_BUSY = """async (url) => {
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
        const request = new XMLHttpRequest();
        request.open("GET", url, false);
        request.send();
        const job = JSON.parse(request.responseText);
        if (job.finished_at && !job.lingering_until) return true;
    }
    return false;
}"""


def ended(client: httpx.Client, job_id: str) -> bool:
    job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
    return job["finished_at"] is not None and job["lingering_until"] is None


def layout(page: Page) -> list[Any]:
    items: list[Any] = page.evaluate(LAYOUT)
    return items


def assert_contiguous(items: list[Any], first: int) -> None:
    """Lines and markers cover the seqs from `first` on with no gap and nothing twice; a marker counts its lines."""
    expected = first
    for item in items:
        if isinstance(item, list):
            start, end, count = item
            assert start == expected and count == end - start + 1, (item, expected)
            expected = end + 1
        else:
            assert item == expected, (item, expected)
            expected += 1


def test_a_permalink_deep_in_a_big_job_opens_the_window_around_its_line(page: Page, dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        job_id = start_job(client, "flood", count=10_000)  # 20,000 events
        wait_until(lambda: ended(client, job_id), what="the flood to end", timeout=180)
    total = 20_000
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/lines?" in request.url else None)
    page.goto(f"{dashboard.url}/jobs/{job_id}#seq-7")
    line = page.locator("#seq-7")
    expect(line).to_have_class("line level-error permalinked", timeout=TIMEOUT)
    expect(line).to_be_in_viewport()
    window = int(page.locator("#log").get_attribute("data-max-lines") or 0)
    shown = layout(page)
    assert shown == list(range(1, len(shown) + 1)) and 7 < len(shown) <= window  # the window, from line 1
    assert len(asked) == 1 and "around=7" in asked[0]  # straight there: one load, not pages of the job's end
    expect(page.locator("#hidden-lines")).to_be_hidden()
    expect(page.locator("#newer-lines .count")).to_have_text(str(total - len(shown)))
    expect(page.locator("#view-counts .shown")).to_have_text(str(len(shown)))

    # Newer lines load below on demand, and the window keeps its bound.
    page.locator("#load-newer").click()
    expect(page.locator("#newer-lines .count")).to_have_text(str(total - 2 * len(shown)), timeout=TIMEOUT)
    assert layout(page) == list(range(1, 2 * len(shown) + 1))

    # End goes back to the tail: the newest lines, the earlier ones counted above them.
    line.click()
    page.keyboard.press("End")
    expect(page.locator("#log > li").last).to_have_attribute("data-seq", str(total), timeout=TIMEOUT)
    expect(page.locator("#newer-lines")).to_be_hidden()
    tail = layout(page)
    assert tail == list(range(total - len(tail) + 1, total + 1)) and len(tail) <= window
    expect(page.locator("#hidden-lines .count")).to_have_text(str(total - len(tail)))

    # A line the job does not have is said so.
    page.goto(f"{dashboard.url}/jobs/{job_id}#seq-99999")
    expect(page.locator("#announcer")).to_have_text("This job has no line 99999.", timeout=TIMEOUT)


def test_a_page_held_busy_in_a_flood_jumps_to_the_tail_and_loads_the_skipped_lines_on_a_press(
    page: Page, dashboard: Dashboard
) -> None:
    acks: list[int] = []  # the page says how far it got (flow control), with its CSRF header
    page.on("response", lambda response: acks.append(response.status) if "/ack?seq=" in response.url else None)
    with dashboard.client() as client:
        job_id = start_job(client, "flood", count=5_000)  # 10,000 events
        page.goto(f"{dashboard.url}/jobs/{job_id}")
        expect(page.locator("#log > li").first).to_be_attached(timeout=TIMEOUT)
        assert page.evaluate(HOLD_BUSY, f"/api/jobs/{job_id}"), "the job did not end while the page was held"
        total = int(client.get(f"/api/jobs/{job_id}").json()["events"])
    expect(page.locator("[data-state]").first).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    expect(page.locator("#log > li").last).to_have_attribute("data-seq", str(total), timeout=TIMEOUT)
    marker = page.locator("#log > li.skipped").last
    expect(marker).to_be_visible()
    expect(marker).to_contain_text(" lines skipped")
    hidden = int(page.locator("#hidden-lines").get_attribute("data-hidden") or 0)
    before = layout(page)
    assert_contiguous(before, hidden + 1)  # every seq, as a line or in a marker, once
    # The progress bar and the counts show the newest values, not a backlog.
    expect(page.locator("#progress .progress-row")).to_have_attribute("data-percent", "100")
    expect(page.locator("#events-count [data-events]")).to_have_attribute("data-events", str(total))

    assert 204 in acks and 403 not in acks

    # A click loads the skipped lines in the marker's place, in order (a page at a time: the rest stays marked).
    start, _end, count = next(item for item in reversed(before) if isinstance(item, list))
    marker.locator("button").click()
    wait_until(lambda: layout(page) != before, what="the skipped lines to load", timeout=30)
    after = layout(page)
    assert_contiguous(after, int(page.locator("#hidden-lines").get_attribute("data-hidden") or 0) + 1)
    assert start in after and (count <= 500 or start + 499 in after)
    expect(page.locator("#view-counts .matching")).to_have_text(str(total))

    # The marker is a button the keyboard presses too: Enter loads the next page of what it holds.
    markers = page.locator("#log > li.skipped")
    if markers.count():
        loaded = layout(page)
        markers.last.locator("button").focus()
        page.keyboard.press("Enter")
        wait_until(lambda: layout(page) != loaded, what="Enter to load skipped lines", timeout=30)
        assert_contiguous(layout(page), int(page.locator("#hidden-lines").get_attribute("data-hidden") or 0) + 1)
