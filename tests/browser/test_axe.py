"""No serious or critical axe-core finding on any page (issue 19): start, a job running and ended, a server, the
jobs list; light and dark, desktop and phone. axe-core is vendored (tests/vendor/) and run in the real page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.axe import grave_findings
from tests.helpers import Dashboard, follow, start_job

TIMEOUT = 30_000
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture(params=[(theme, size) for theme in ("light", "dark") for size in SIZES])
def themed(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    theme, size = request.param
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=theme)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def assert_no_grave_findings(page: Page, what: str) -> None:
    found = grave_findings(page)
    assert found == [], f"axe-core on {what}: " + "\n".join(
        f"{f['impact']} {f['id']}: {f['help']} {f['nodes']}" for f in found
    )


def test_no_page_has_a_serious_or_critical_axe_finding(themed: Page, dashboard: Dashboard) -> None:
    page = themed
    with dashboard.client() as client:
        ended = start_job(client, steps=16, delay=0)
        follow(client, ended)
        running = start_job(client, steps=400, delay=0.05)
        try:
            page.goto(dashboard.url)  # start, with the jobs list
            expect(page.locator("#start-form")).to_be_visible(timeout=TIMEOUT)
            assert_no_grave_findings(page, "the start page")

            page.goto(f"{dashboard.url}/?state=succeeded")  # the jobs list, filtered
            expect(page.locator(f"#job-row-{ended}")).to_be_visible(timeout=TIMEOUT)
            assert_no_grave_findings(page, "the jobs list")

            page.goto(f"{dashboard.url}/jobs/{running}")
            expect(page.locator("#live")).to_have_attribute("data-live", "live", timeout=TIMEOUT)
            page.wait_for_function("() => document.querySelectorAll('#log > li').length > 10", timeout=TIMEOUT)
            assert_no_grave_findings(page, "a running job")
            # Its keys on the page, and a line's actions open: still none.
            page.locator("#keys-toggle").click()
            expect(page.locator("#log-keys")).to_be_visible()
            assert_no_grave_findings(page, "a running job with its keys shown")

            page.goto(f"{dashboard.url}/jobs/{ended}?min_level=warning&q=step")
            expect(page.locator("#state-badge")).to_have_attribute("data-state", "succeeded")
            assert_no_grave_findings(page, "an ended job, filtered")

            page.goto(f"{dashboard.url}/jobs/{ended}?q=%28unclosed&regex=1")  # the error in place
            expect(page.locator("#filter-error")).to_be_visible()
            assert_no_grave_findings(page, "a job with a bad pattern")

            server = page.locator("#server-status a[data-server]").first.get_attribute("data-server")
            page.goto(f"{dashboard.url}/servers/{server}")
            expect(page.locator("[data-outside-jobs]")).to_be_visible()
            assert_no_grave_findings(page, "the server page")
        finally:
            client.post(f"/api/jobs/{running}/cancel")
            follow(client, running)
