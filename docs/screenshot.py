"""Regenerate the README's pictures in headless Chromium (`make screenshot`): a run_job job part-way through, with
lines of all eight levels, in the light theme (docs/screenshot.png), the dark one (docs/screenshot-dark.png) and at
a phone's width (docs/screenshot-phone.png); and a long_task running as an MCP task, its server asking the person at
the page a question (docs/screenshot-question.png)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from playwright.sync_api import Browser, expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import Dashboard

DOCS = Path(__file__).parent
# name: (width, height, theme)
SHOTS: dict[str, tuple[int, int, Literal["light", "dark"]]] = {
    "screenshot.png": (1280, 860, "light"),
    "screenshot-dark.png": (1280, 860, "dark"),
    "screenshot-phone.png": (390, 844, "light"),
}


def shoot(browser: Browser, url: str, out: Path, width: int, height: int, theme: Literal["light", "dark"]) -> None:
    """Start a job from the form and take the page once 50 of its 80 lines are in: the bar near two thirds."""
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=theme)
    page = context.new_page()
    page.goto(url + "/")
    page.fill("#arguments", '{"steps": 40, "delay": 0.12}')
    page.click("button.primary")
    expect(page.locator("#log > li[data-seq='50']")).to_be_attached(timeout=30_000)
    page.screenshot(path=str(out))
    context.close()
    print(f"wrote {out}")


def shoot_question(browser: Browser, url: str, out: Path) -> None:
    """A long_task as an MCP task that asks a question half-way: the page once the question is there."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, color_scheme="light")
    page = context.new_page()
    page.goto(url + "/")
    page.select_option("#tool", "long_task")
    expect(page.locator("[data-arg-name='ask']")).to_be_attached(timeout=30_000)
    page.fill("#arguments", '{"steps": 8, "delay": 0.3, "ask": "Which region should the report cover?"}')
    page.click("button.primary")
    expect(page.locator("#questions .question")).to_be_visible(timeout=30_000)
    page.locator("#questions input[name='arg.answer']").fill("Europe")
    page.screenshot(path=str(out))
    context.close()
    print(f"wrote {out}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = Dashboard(Path(tmp) / "jobs.sqlite3", mcp_url=None).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for name, (width, height, theme) in SHOTS.items():
                    shoot(browser, app.url, DOCS / name, width, height, theme)
                shoot_question(browser, app.url, DOCS / "screenshot-question.png")
                browser.close()
        finally:
            app.stop()


if __name__ == "__main__":
    main()
