"""The job page in headless Chromium, its bar driven by the real npm server-everything (streamable HTTP):
progress with a total and no message, one step every half second."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_page import TIMEOUT, start_from_form
from tests.everything import EverythingServer
from tests.helpers import Dashboard, wait_until

# Installed on the page once it has loaded: every value the bar takes from then on, in order (the #progress
# wrapper stays; the stream swaps the bar inside it).
WATCH_THE_BAR = """() => {
  window.barValues = [];
  const record = () => {
    const value = document.querySelector("#progress [role=progressbar]")?.getAttribute("value");
    if (value != null && window.barValues.at(-1) !== value) window.barValues.push(value);
  };
  record();
  new MutationObserver(record).observe(document.querySelector("#progress"), {
    subtree: true, childList: true, attributes: true,
  });
}"""


@pytest.fixture(scope="module")
def everything_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    server = EverythingServer("streamableHttp").start()
    try:
        db: Path = tmp_path_factory.mktemp("everything-page") / "jobs.sqlite3"
        app = Dashboard(db, mcp_url=server.url).start()
        try:
            with app.client() as client:
                wait_until(
                    lambda: client.get("/api/server").json()["state"] == "connected",
                    what=f"the dashboard to reach server-everything\n{server.output()}",
                    timeout=20,
                )
            yield app
        finally:
            app.stop()
    finally:
        server.stop()


def test_the_bar_moves_step_by_step_to_the_total_of_a_long_running_operation(
    page: Page, everything_dashboard: Dashboard
) -> None:
    start_from_form(page, everything_dashboard, "trigger-long-running-operation", {"duration": 3, "steps": 6})
    page.evaluate(WATCH_THE_BAR)
    expect(page.locator("#job-status [data-state]")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    bar = page.locator("#progress [role=progressbar]")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#progress .pct")).to_have_text("100 %")
    expect(page.locator("#progress .progress-row")).to_have_attribute("data-total", "6.0")
    values = [float(v) for v in page.evaluate("() => window.barValues")]
    # Seen moving on the page, not only drawn full at the end: at least two steps up after it was watched.
    assert len(values) >= 3 and values == sorted(set(values)) and values[-1] == 100, values
