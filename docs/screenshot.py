"""Regenerate docs/screenshot.png: a job part-way through, in headless Chromium (`make screenshot`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import Dashboard

OUT = Path(__file__).parent / "screenshot.png"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = Dashboard(Path(tmp) / "jobs.sqlite3", mcp_url=None).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(app.url + "/")
                page.fill("#arguments", '{"steps": 40, "delay": 0.12}')
                page.click("button.primary")
                expect(page.locator("#log > li[data-seq='50']")).to_be_attached(timeout=30_000)
                page.screenshot(path=str(OUT))
                browser.close()
        finally:
            app.stop()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
