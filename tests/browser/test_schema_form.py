"""The start form's argument fields in Chromium: a field per property of the tool's input schema, in step with the
JSON view both ways, each error beside its field, a hostile server's schema shown as text only, and a page without
script whose fields the server still reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests import hostile_server as hostile
from tests.browser.test_page import TIMEOUT
from tests.helpers import Dashboard
from webapp.bundled import ChildServer


def field(page: Page, name: str) -> Locator:
    return page.locator(f'#arguments-field .arg[data-arg-name="{name}"] .arg-control')


def json_view(page: Page) -> Any:
    return json.loads(page.input_value("#arguments"))


def retype(page: Page, control: Locator, text: str) -> None:
    """What a person does: click into the control, select all it holds, type the new text."""
    control.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def press_start(page: Page) -> None:
    page.locator("button.primary").click()


def started_job(page: Page, dashboard: Dashboard) -> dict[str, Any]:
    page.wait_for_url("**/jobs/*", timeout=TIMEOUT)
    with dashboard.client() as client:
        job: dict[str, Any] = client.get("/api" + page.url.removeprefix(dashboard.url)).json()
    return job


def test_run_jobs_arguments_are_fields_and_what_is_typed_in_them_is_what_start_sends(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/")
    steps, delay, fail_at = field(page, "steps"), field(page, "delay"), field(page, "fail_at")
    expect(steps).to_have_value("40")
    expect(steps).to_have_attribute("type", "number")
    expect(steps).to_have_attribute("step", "1")
    expect(delay).to_have_value("0.1")
    expect(delay).to_have_attribute("step", "any")
    expect(fail_at).to_have_value("")  # null: empty

    retype(page, steps, "3")
    assert json_view(page) == {"steps": 3, "delay": 0.1, "fail_at": None}
    retype(page, delay, "0.01")
    retype(page, fail_at, "2")
    assert json_view(page) == {"steps": 3, "delay": 0.01, "fail_at": 2}

    press_start(page)
    assert started_job(page, dashboard)["arguments"] == {"steps": 3, "delay": 0.01, "fail_at": 2}
    expect(page.locator("#job-status .error")).to_contain_text("step 2 failed", timeout=TIMEOUT)


def test_json_typed_in_the_json_view_shows_in_the_fields_and_a_value_no_field_can_show_is_explained_beside_it(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/")
    view, steps = page.locator("#arguments"), field(page, "steps")
    retype(page, view, '{"steps": 5, "fail_at": 1}')
    expect(steps).to_have_value("5")
    expect(field(page, "delay")).to_have_value("")
    expect(field(page, "fail_at")).to_have_value("1")
    expect(page.locator("#arguments-sync")).to_have_text("")  # while it was typed, it said it was no object yet

    retype(page, view, '{"steps": "lots"}')
    expect(steps).to_be_disabled()
    expect(page.locator("#arg-0-json-only")).to_be_visible()
    expect(steps).to_have_attribute("aria-describedby", "arg-0-json-only")
    press_start(page)
    error = page.locator("#arg-0-error")
    expect(error).to_have_text('"lots" is not of type "integer"', timeout=TIMEOUT)
    expect(steps).to_have_attribute("aria-invalid", "true")
    expect(steps).to_have_attribute("aria-describedby", "arg-0-json-only arg-0-error")
    expect(page.locator("form.start .error[role=alert]")).to_contain_text('steps: "lots" is not of type "integer"')

    retype(page, page.locator("#arguments"), '{"steps": 2, "delay": 0}')
    expect(steps).to_be_enabled()
    expect(steps).to_have_value("2")
    press_start(page)
    assert started_job(page, dashboard)["arguments"] == {"steps": 2, "delay": 0}


def test_a_json_field_is_marked_required_and_its_errors_come_back_beside_it_with_what_was_typed(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/")
    page.select_option("#tool", "process_items")
    items = field(page, "items")
    expect(items).to_have_attribute("required", "")
    expect(page.locator('label[for="arg-0"]')).to_contain_text("items *")
    assert json.loads(items.input_value()) == ["report.pdf", "notes.md", "data.csv", "photo.jpg"]

    retype(page, items, '["a.txt"]')
    assert json_view(page) == {"items": ["a.txt"], "delay": 0.2}
    retype(page, items, '["a.txt",')  # not JSON yet: the JSON view keeps the last value
    assert json_view(page) == {"items": ["a.txt"], "delay": 0.2}
    press_start(page)
    expect(page.locator("#arg-0-error")).to_contain_text("Not valid JSON", timeout=TIMEOUT)
    expect(items).to_have_value('["a.txt",')
    expect(items).to_have_attribute("aria-invalid", "true")
    expect(items).to_have_attribute("aria-describedby", "arg-0-error")

    retype(page, items, '"a.txt"')
    press_start(page)
    expect(page.locator("#arg-0-error")).to_have_text('"a.txt" is not of type "array"', timeout=TIMEOUT)

    retype(page, items, '["a.txt", "b.txt"]')
    retype(page, field(page, "delay"), "0")
    press_start(page)
    assert started_job(page, dashboard)["arguments"] == {"items": ["a.txt", "b.txt"], "delay": 0}


def test_a_boolean_is_a_checkbox_that_the_mouse_and_the_space_bar_turn_in_the_json_view_too(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "/")
    page.select_option("#tool", "announce_changes")
    ask = field(page, "ask")
    expect(ask).to_be_checked()  # its default
    ask.click()
    assert json_view(page) == {"ask": False}
    page.keyboard.press("Space")
    assert json_view(page) == {"ask": True}
    retype(page, page.locator("#arguments"), '{"ask": false}')
    expect(ask).not_to_be_checked()


def test_without_script_the_server_reads_the_fields_over_the_json_view(browser: Browser, dashboard: Dashboard) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(dashboard.url + "/")
        retype(page, field(page, "steps"), "2")
        retype(page, field(page, "delay"), "0")
        assert json_view(page) == {"steps": 40, "delay": 0.1, "fail_at": None}  # nothing copies them across
        press_start(page)
        assert started_job(page, dashboard)["arguments"] == {"steps": 2, "delay": 0}
    finally:
        context.close()


# ---- A hostile server's schemas ----


@pytest.fixture(scope="module")
def hostile_form(hostile_mcp: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    db = tmp_path_factory.mktemp("hostile-form") / "jobs.sqlite3"
    app = Dashboard(db, mcp_url=hostile_mcp.url).start()
    yield app
    app.stop()


def pick_tool(page: Page, tool: str) -> None:
    page.evaluate("() => { document.getElementById('arguments').dataset.before = 'yes'; }")
    page.select_option("#tool", value=tool)
    expect(page.locator("#arguments:not([data-before])")).to_be_attached(timeout=TIMEOUT)


def pwned(page: Page) -> list[str]:
    found: list[str] = page.evaluate("() => Object.keys(window).filter((key) => key.includes('pwned'))")
    return found


def test_a_hostile_schemas_names_descriptions_and_defaults_are_fields_of_plain_text(
    page: Page, hostile_form: Dashboard
) -> None:
    page.goto(hostile_form.url + "/")
    pick_tool(page, hostile.EVERYTHING)
    labels = page.locator("#arguments-field .arg label code")
    expect(labels).to_have_text(["note", "fail", "delay", hostile.PARAMETER])
    expect(page.locator("#arg-3-hint")).to_have_text(hostile.PARAMETER_DESCRIPTION)
    expect(page.locator("#arg-0")).to_have_value(hostile.PARAMETER_DEFAULT)
    expect(page.locator("#arg-3")).to_have_value(hostile.PARAMETER_DEFAULT)
    retype(page, page.locator("#arg-3"), "hello")
    assert json_view(page)[hostile.PARAMETER] == "hello"
    assert pwned(page) == []


def test_a_backtracking_pattern_is_checked_at_once_and_explained_beside_its_field(
    page: Page, hostile_form: Dashboard
) -> None:
    page.goto(hostile_form.url + "/")
    pick_tool(page, hostile.REDOS)
    word = field(page, "word")
    expect(word).to_have_value(hostile.REDOS_DEFAULT)
    expect(word).not_to_have_attribute("pattern", hostile.REDOS_PATTERN)  # the browser runs no server regex either
    press_start(page)
    expect(page.locator("#arg-0-error")).to_contain_text("does not match", timeout=TIMEOUT)
    retype(page, word, "aaaa")
    press_start(page)
    assert started_job(page, hostile_form)["arguments"] == {"word": "aaaa"}


def test_an_enum_is_a_choice_the_keyboard_changes(page: Page, hostile_form: Dashboard) -> None:
    page.goto(hostile_form.url + "/")
    pick_tool(page, hostile.INVALID_UNICODE)
    how = field(page, "how")
    expect(how.locator("option")).to_have_text(["(leave out)", "escapes", "bytes"])
    expect(how).to_have_value('"escapes"')
    how.focus()
    page.keyboard.press("ArrowDown")
    expect(how).to_have_value('"bytes"')
    assert json_view(page) == {"how": "bytes"}
    assert pwned(page) == []
