"""The real page in Chromium, under the dashboard's strict Content-Security-Policy, showing what a hostile MCP server
(tests/hostile_server.py) sends: each hostile tool is started from the start form and watched on its job page.
No payload runs, no element is injected, nothing violates the policy, and the page keeps answering."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests import hostile_server as hostile
from tests.browser.test_page import TIMEOUT
from tests.helpers import Dashboard
from webapp.bundled import ChildServer

MAX_EVENTS = 500

# Before any script of the page: record every CSP violation, and count the stream's messages.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
window.__sseMessages = 0;
document.addEventListener("htmx:sse:after:message", () => { window.__sseMessages++; });
"""

# Elements no server text may become, inside the parts of the page that show server data.
INJECTABLE = (
    "script, img, iframe, frame, svg, math, object, embed, base, style, template, b, i, audio, video, meta, link, "
    "hx-partial, input, textarea, select, [onerror], [onload], [onclick], [onfocus], [ontoggle], [style], [srcdoc], "
    '[data-pwned], [hx-get], [hx-trigger], [hx-on\\:click], [hx-on\\:htmx\\:before\\:request], a[href^="javascript:" i]'
)
SERVER_DATA = ("#log", "#job-status", "#progress", "#server-status")

INSPECT = """
([names, selector, parts]) => {
  const ran = names.filter((name) => name in window);
  ran.push(...Object.keys(window).filter((key) => key.includes("pwned") && !ran.includes(key)));
  const injected = [];
  for (const part of parts) {
    for (const el of document.querySelectorAll(`${part} :is(${selector})`)) {
      injected.push(`${part}: ${el.outerHTML.slice(0, 160)}`);
    }
  }
  const urls = ["href", "src", "action", "formaction", "data", "hx-get", "hx-post", "hx-sse:connect"];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const plain = attr.value.replace(/[\\x00-\\x20]/g, "").toLowerCase();
      if (attr.name.startsWith("on") || attr.name.includes("pwned") || attr.name === "srcdoc"
          || (urls.includes(attr.name) && (plain.startsWith("javascript:") || plain.includes("pwned")))) {
        injected.push(`<${el.localName} ${attr.name}="${attr.value.slice(0, 100)}">`);
      }
    }
  }
  return {ran, injected, violations: window.__csp, streamed: window.__sseMessages};
}
"""


@pytest.fixture(scope="module")
def hostile_dashboard(hostile_mcp: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    db = tmp_path_factory.mktemp("hostile-page") / "jobs.sqlite3"
    app = Dashboard(db, mcp_url=hostile_mcp.url, args=("--max-events", str(MAX_EVENTS))).start()
    yield app
    app.stop()


@pytest.fixture
def watched(page: Page) -> tuple[Page, list[str]]:
    """The page, with every CSP violation recorded from its first script on, and its console errors."""
    console: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if message.type == "error":
            console.append(message.text)

    page.add_init_script(WATCH)
    page.on("console", note)
    return page, console


def inspect(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(INSPECT, [hostile.ALL_GLOBALS, INJECTABLE, list(SERVER_DATA)])
    return found


def start_from_the_form(page: Page, dashboard: Dashboard, tool: str, arguments: dict[str, Any]) -> None:
    """What a person does: open the start page, pick the tool, write its arguments, press Start."""
    page.goto(dashboard.url + "/")
    page.evaluate("document.getElementById('arguments').dataset.before = 'yes'")
    page.select_option("#tool", value=tool)
    # The tool's own arguments field has replaced the first one: writing into the old one would be lost.
    expect(page.locator("#arguments:not([data-before])")).to_be_attached(timeout=TIMEOUT)
    page.fill("#arguments", json.dumps(arguments))
    page.click("button.primary")
    page.wait_for_url("**/jobs/*", timeout=TIMEOUT)


def wait_for_the_end(page: Page, state: str = "succeeded|failed") -> None:
    expect(page.locator("#job-status [data-state]")).to_have_attribute(
        "data-state", re.compile(f"^({state})$"), timeout=TIMEOUT
    )


def assert_nothing_ran_or_was_injected(page: Page, console: list[str]) -> dict[str, Any]:
    found = inspect(page)
    assert found["ran"] == [], f"hostile script ran: {found['ran']}"
    assert found["injected"] == [], f"elements injected: {found['injected']}"
    assert found["violations"] == [], f"Content-Security-Policy violations: {found['violations']}"
    assert console == [], f"console errors: {console}"
    return found


def assert_still_responsive(page: Page, dashboard: Dashboard) -> None:
    page.wait_for_function("() => document.readyState === 'complete'", timeout=2_000)
    page.get_by_role("link", name="← all jobs").click(timeout=5_000)
    page.wait_for_url(dashboard.url + "/", timeout=5_000)


def test_every_payload_streams_into_the_job_page_as_text_and_none_runs(
    watched: tuple[Page, list[str]], hostile_dashboard: Dashboard
) -> None:
    page, console = watched
    note = hostile.PAYLOADS[0] + hostile.PARAMETER_DEFAULT
    start_from_the_form(page, hostile_dashboard, hostile.EVERYTHING, {hostile.PARAMETER: note, "delay": 0.05})
    expect(page.locator("#log")).to_contain_text(hostile.PAYLOADS[1], timeout=TIMEOUT)  # live, as text
    wait_for_the_end(page, "succeeded")
    found = assert_nothing_ran_or_was_injected(page, console)
    assert found["streamed"] > 0, "the lines were not streamed: the test saw only the first render"
    for payload in (*hostile.PAYLOADS[:9], hostile.PAYLOADS[12]):
        expect(page.locator("#log")).to_contain_text(payload)
    expect(page.locator("#progress .progress-message")).to_have_text(hostile.PAYLOADS[-1])
    expect(page.locator("#job-status .result-text").first).to_have_text(hostile.PAYLOADS[0])
    expect(page.locator("h1 code")).to_have_text(hostile.EVERYTHING)
    expect(page.locator("#server-status")).to_contain_text(hostile.SERVER_NAME)
    assert_still_responsive(page, hostile_dashboard)


def test_a_failing_hostile_tool_shows_its_error_as_text_and_nothing_runs(
    watched: tuple[Page, list[str]], hostile_dashboard: Dashboard
) -> None:
    page, console = watched
    start_from_the_form(page, hostile_dashboard, hostile.EVERYTHING, {"fail": True, "delay": 0.01})
    wait_for_the_end(page, "failed")
    expect(page.locator("#job-status .error")).to_contain_text(hostile.PAYLOADS[0])
    expect(page.locator("#job-status .error")).to_contain_text(hostile.PAYLOADS[12])
    assert_nothing_ran_or_was_injected(page, console)
    assert_still_responsive(page, hostile_dashboard)


@pytest.mark.parametrize(
    ("tool", "arguments", "shown"),
    [
        (hostile.BIG_LINE, {}, "cut: 10.0 MiB were sent"),
        (hostile.DEEP_JSON, {}, "recursion limit exceeded"),
        (hostile.INVALID_UNICODE, {"how": "escapes"}, "Failed to parse SSE message"),
        (hostile.INVALID_UNICODE, {"how": "bytes"}, "after the invalid unicode"),
        (hostile.FLOOD, {"count": 5_000}, f"{5_000 - MAX_EVENTS} more event(s) came beyond the limit"),
    ],
    ids=["10 MB line", "JSON 10,000 deep", "lone surrogates", "bytes not UTF-8", "flood"],
)
def test_an_oversized_overdeep_invalid_or_flooding_job_ends_on_its_page_with_nothing_run_or_injected(
    watched: tuple[Page, list[str]], hostile_dashboard: Dashboard, tool: str, arguments: dict[str, Any], shown: str
) -> None:
    page, console = watched
    start_from_the_form(page, hostile_dashboard, tool, arguments)
    page.wait_for_function("() => true", timeout=2_000)  # the page answers while the job streams in
    wait_for_the_end(page)
    expect(page.locator("main")).to_contain_text(shown, timeout=TIMEOUT)
    assert_nothing_ran_or_was_injected(page, console)
    assert page.locator("#log > li").count() <= MAX_EVENTS
    assert_still_responsive(page, hostile_dashboard)


def test_the_start_form_shows_each_hostile_tools_name_description_and_defaults_as_text(
    watched: tuple[Page, list[str]], hostile_dashboard: Dashboard
) -> None:
    page, console = watched
    page.goto(hostile_dashboard.url + "/")
    options = page.eval_on_selector_all("#tool option", "options => options.map(o => o.value)")
    assert options == list(hostile.TOOLS)
    for tool in reversed(hostile.TOOLS):
        page.evaluate("document.getElementById('arguments').dataset.before = 'yes'")
        page.select_option("#tool", value=tool)
        expect(page.locator("#arguments:not([data-before])")).to_be_attached(timeout=TIMEOUT)
        expect(page.locator("#arguments-field .hint")).to_have_text(hostile.DESCRIPTION)
    assert (
        hostile.PARAMETER_DEFAULT in page.input_value("#arguments") or page.input_value("#tool") != hostile.EVERYTHING
    )
    found = inspect(page)
    assert found["ran"] == [] and found["violations"] == [] and console == [], (found, console)
    # Outside the parts that show server data, the form itself: its own inputs only, and no injected attribute.
    assert found["injected"] == [], found["injected"]
    page.select_option("#tool", value=hostile.EVERYTHING)
    expect(page.locator("#arguments")).to_have_value(re.compile(re.escape(json.dumps(hostile.PARAMETER_DEFAULT))))


def test_a_demo_job_runs_from_the_form_to_its_end_under_the_strict_csp_with_no_violation(
    watched: tuple[Page, list[str]], dashboard: Dashboard
) -> None:
    page, console = watched
    response = page.goto(dashboard.url + "/")
    assert response is not None
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "default-src 'self'" in policy, policy
    page.fill("#arguments", json.dumps({"steps": 20, "delay": 0.03}))
    page.click("button.primary")
    page.wait_for_url("**/jobs/*", timeout=TIMEOUT)
    wait_for_the_end(page, "succeeded")
    expect(page.locator("#log > li")).to_have_count(40)
    found = inspect(page)
    assert found["violations"] == [] and console == [], (found["violations"], console)
    assert found["streamed"] > 0
    assert_still_responsive(page, dashboard)
