"""A page of another port of the same host, in a real browser, cannot make the dashboard act (issue 21, finding 1):
the shape of CVE-2025-49596, a drive-by from a web page to a local MCP client."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.helpers import Dashboard
from webapp.bundled import ChildServer, free_port

TOKEN = "cross-origin-token-0123"


def attack_page(dashboard: str) -> bytes:
    """A page that, once opened, sends the dashboard a start form and a cancel (as a local app with an XSS would)."""
    action = html.escape(f"{dashboard}/jobs")
    return f"""<!doctype html><html><body>
<form id="start" method="post" action="{action}" target="sink">
  <input name="tool" value="run_job"><input name="arguments" value='{{"steps": 1, "delay": 0}}'>
</form>
<iframe name="sink"></iframe>
<script>document.getElementById("start").submit();</script>
</body></html>""".encode()


@pytest.fixture
def attacker() -> Iterator[tuple[str, list[bytes]]]:
    """A plain web server on another loopback port; the page it serves is set by the test."""
    served: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(served[0])

        def log_message(self, format: str, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{port}", served
    server.shutdown()
    server.server_close()


def refused_start(page: Page, attacker: tuple[str, list[bytes]], dashboard: Dashboard, client: httpx.Client) -> None:
    url, served = attacker
    served.append(attack_page(dashboard.url.replace("127.0.0.1", "localhost")))
    before = len(client.get("/api/jobs").json())
    with page.expect_response(
        lambda response: response.url.endswith("/jobs") and response.request.method == "POST"
    ) as sent:
        page.goto(url + "/")
    assert sent.value.status == 403
    assert len(client.get("/api/jobs").json()) == before  # no job was started


def test_a_page_of_another_port_cannot_start_a_job_on_the_loopback_dashboard(
    page: Page, attacker: tuple[str, list[bytes]], dashboard: Dashboard
) -> None:
    with dashboard.client() as client:
        page.goto(dashboard.url.replace("127.0.0.1", "localhost") + "/")  # the person has the dashboard open too
        refused_start(page, attacker, dashboard, client)


def test_a_page_of_another_port_cannot_ride_a_signed_in_session(
    page: Page, attacker: tuple[str, list[bytes]], mcp_server: ChildServer, tmp_path: Path
) -> None:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=("--token", TOKEN)).start()
    try:
        page.goto(f"{app.url.replace('127.0.0.1', 'localhost')}/?token={TOKEN}")
        expect(page.locator("#log-out")).to_be_visible()  # signed in: the cookie is there to ride
        with app.client() as client:
            client.headers["Authorization"] = f"Bearer {TOKEN}"
            refused_start(page, attacker, app, client)
    finally:
        app.stop()


def test_the_dashboards_own_forms_and_buttons_carry_their_csrf_token(page: Page, dashboard: Dashboard) -> None:
    page.goto(dashboard.url + "/")
    page.fill("#arguments", '{"steps": 30, "delay": 0.05}')
    page.click("button.primary")
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "running", timeout=15_000)
    page.click("#cancel-job")  # an htmx POST: the token rides as a header
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "cancelled", timeout=15_000)
    job_url = page.url
    page.click("#rerun-job")  # a form rendered once for every viewer: the token is added as it is sent
    page.wait_for_url(lambda url: url != job_url)
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "succeeded", timeout=15_000)
