"""Signing in from the page (issue 20), in Chromium: the server page says the server needs a sign-in, the Sign in
button takes the browser to the authorization server and back, the server is connected, a job runs, and Sign out
forgets the tokens."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import Dashboard
from webapp.bundled import ChildServer

TIMEOUT = 20_000


@pytest.fixture
def remote() -> Iterator[ChildServer]:
    server = ChildServer(module="tests.oauth_server")
    server.launch(
        [sys.executable, "-m", "tests.oauth_server", "--port", str(server.port)],
        what="the OAuth test server",
        timeout=20,
    )
    yield server
    server.stop()


@pytest.fixture
def dashboard(remote: ChildServer, tmp_path: Path) -> Iterator[Dashboard]:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=remote.url, args=("--secret-key", "browser test")).start()
    yield app
    app.stop()


def test_sign_in_by_the_button_then_a_job_then_sign_out(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url)
    # The start form says why no job can start, and where to sign in.
    expect(page.locator("[data-needs-sign-in]")).to_be_visible(timeout=TIMEOUT)
    page.click("[data-needs-sign-in] a")
    page.wait_for_url(f"{dashboard.url}/servers/default", timeout=TIMEOUT)
    state = page.locator(".server-page [data-server-state]")
    expect(state).to_have_attribute("data-server-state", "needs_sign_in", timeout=TIMEOUT)
    expect(page.locator("#server-status")).to_contain_text("needs a sign-in", timeout=TIMEOUT)

    page.click("#sign-in")
    # Through the authorization server (which approves at once) and back to the server's page, signed in.
    page.wait_for_url(f"{dashboard.url}/servers/default", timeout=TIMEOUT)
    expect(state).to_have_attribute("data-server-state", "connected", timeout=TIMEOUT)
    expect(page.locator(".sign-in")).to_have_attribute("data-signed-in", "yes")
    expect(page.locator("#sign-out")).to_be_visible()
    expect(page.locator("[data-tokens-in-the-clear]")).to_have_count(0)  # --secret-key seals them

    page.goto(f"{dashboard.url}/?server=default")
    expect(page.locator("#tool")).to_have_value("add", timeout=TIMEOUT)
    page.fill("#arguments", json.dumps({"a": 40, "b": 2}))
    page.click("#start-form button[type=submit]")
    page.wait_for_url("**/jobs/*", timeout=TIMEOUT)
    expect(page.locator("#job-status [data-state]")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)

    page.goto(f"{dashboard.url}/servers/default")
    page.click("#sign-out")
    page.wait_for_url(f"{dashboard.url}/servers/default", timeout=TIMEOUT)
    expect(state).to_have_attribute("data-server-state", "needs_sign_in", timeout=TIMEOUT)
    expect(page.locator("#sign-in")).to_have_text("Sign in")
