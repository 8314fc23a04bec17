"""Several servers in the browser: pick a server, then one of its tools, and run a job on each of an HTTP, an
SSE and a stdio server; each server's page shows its lines outside jobs live."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import SHARED
from tests.helpers import Dashboard, follow
from webapp.bundled import ChildServer

TIMEOUT = 20_000


@pytest.fixture(scope="module")
def dashboard(mcp_server: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    folder = tmp_path_factory.mktemp("servers-page")
    base = mcp_server.url.removesuffix("/mcp")
    servers = {
        "demo": {"url": f"{base}/mcp"},
        "old": {"url": f"{base}/sse"},
        "local": {"command": sys.executable, "args": ["-m", "webapp.demo_server", "--transport", "stdio"]},
    }
    config = folder / "servers.json"
    config.write_text(json.dumps({"mcpServers": servers}))
    app = Dashboard(folder / "jobs.sqlite3", mcp_url=None, args=("--config", str(config), *SHARED)).start()
    yield app
    app.stop()


@pytest.mark.parametrize("server", ["old", "local", "demo"])
def test_a_job_runs_on_the_server_picked_in_the_form(page: Page, dashboard: Dashboard, server: str) -> None:
    page.goto(dashboard.url)
    picker = page.locator("#server")
    expect(picker).to_have_value("demo")
    if server != "demo":
        # The keyboard, as a person would: focus the picker, choose, and the form is drawn again for that server.
        page.evaluate("() => { document.querySelector('#start-form').dataset.before = 'yes' }")
        picker.focus()
        picker.select_option(server)
        page.wait_for_function("() => !document.querySelector('#start-form').dataset.before", timeout=TIMEOUT)
        expect(page.locator("#server")).to_have_value(server)
        expect(page.locator("#server")).to_be_focused()
    # run_job is the form's default tool: choosing it again would draw its arguments anew, after the fill below.
    expect(page.locator("#tool")).to_have_value("run_job")
    page.fill("#arguments", json.dumps({"steps": 4, "delay": 0.05}))
    start = page.locator("#start-form button[type=submit]")
    start.scroll_into_view_if_needed()
    box = start.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url("**/jobs/*", timeout=TIMEOUT)
    expect(page.locator(".job-server [data-server]")).to_have_text(server)
    expect(page.locator("#job-status [data-state]")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    expect(page.locator("#log li[data-kind=log]")).to_have_count(4, timeout=TIMEOUT)


def test_a_servers_page_shows_its_lines_outside_jobs_as_they_come(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url)
    page.locator(".servers a[data-server=demo]").click()
    page.wait_for_url("**/servers/demo", timeout=TIMEOUT)
    expect(page.locator("[data-outside-jobs]")).to_have_attribute("data-outside-jobs", "listening", timeout=TIMEOUT)
    before = page.locator("#log li").count()
    with httpx.Client(base_url=dashboard.url, timeout=10) as client:
        arguments = {"message": "<img src=x onerror=alert(1)> heard", "level": "alert"}
        job = client.post("/api/jobs", json={"server": "old", "tool": "broadcast", "arguments": arguments}).json()
        follow(client, job["id"])
    line = page.locator("#log li[data-level=alert]").last
    expect(line).to_contain_text("<img src=x onerror=alert(1)> heard", timeout=TIMEOUT)
    expect(page.locator("#log li")).to_have_count(before + 1)
    assert page.locator("#log img").count() == 0
