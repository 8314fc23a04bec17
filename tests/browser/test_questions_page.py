"""A server's question answered by a person on the job's page, in headless Chromium: the bundled server's
`long_task` runs as an MCP task and asks half-way; the question appears live (no reload), as a form from its schema,
the tab's title says the job waits, and a real mouse press on Accept sends the answer the task goes on with. Also:
a wrong answer comes back beside its field, and Decline by keyboard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_live_page import press_like_a_person
from tests.browser.test_page import TIMEOUT, start_from_form
from tests.conftest import SHARED
from tests.helpers import Dashboard
from tests.odd_tasks_server import HOSTILE
from webapp.bundled import ChildServer


@pytest.fixture(scope="module", params=["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
def task_dashboard(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    server = ChildServer().start()
    db: Path = tmp_path_factory.mktemp("questions") / "jobs.sqlite3"
    app = Dashboard(db, mcp_url=server.url, args=("--protocol", request.param, *SHARED)).start()
    yield app
    app.stop()
    server.stop()


def ask_on_the_page(page: Page, dashboard: Dashboard) -> None:
    start_from_form(page, dashboard, "long_task", {"steps": 4, "delay": 0.2, "ask": "Which colour?"})
    question = page.locator("#questions .question")
    expect(question).to_be_visible(timeout=TIMEOUT)  # live, from the job's stream
    expect(question.locator(".question-message")).to_have_text("Which colour?")
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "input_required")
    expect(page).to_have_title("waiting for you · long_task · MCP Live", timeout=TIMEOUT)


def test_a_person_answers_the_servers_question_with_a_real_mouse_press(page: Page, task_dashboard: Dashboard) -> None:
    ask_on_the_page(page, task_dashboard)
    page.locator("#questions input[name='arg.answer']").fill("teal")
    accept = page.locator("#answer-accept")
    accept.scroll_into_view_if_needed()
    press_like_a_person(page, accept)
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    expect(page.locator("#questions .question")).to_have_count(0)
    expect(page.locator(".result-text")).to_contain_text("teal")
    expect(page.locator('#log li[data-kind="answer"]')).to_have_count(1)
    expect(page.locator("#job-status .task")).to_contain_text("completed")


def test_a_wrong_answer_comes_back_beside_its_field_and_decline_works_by_keyboard(
    page: Page, task_dashboard: Dashboard
) -> None:
    ask_on_the_page(page, task_dashboard)
    page.locator("#questions .json-view summary").click()  # the JSON view is folded under the fields
    page.locator("#questions textarea#arguments").fill('{"answer": 7}')  # wrong on purpose
    expect(page.locator("#questions input[name='arg.answer']")).to_be_disabled()  # the JSON view decides now
    page.click("#answer-accept")
    expect(page.locator("#questions .error")).to_contain_text("answer", timeout=TIMEOUT)
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "input_required")  # nothing was sent
    page.locator("#answer-decline").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    expect(page.locator(".result-text")).to_contain_text("decline")


@pytest.fixture(scope="module")
def odd_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    server = ChildServer(module="tests.odd_tasks_server").start()
    db: Path = tmp_path_factory.mktemp("odd-questions") / "jobs.sqlite3"
    app = Dashboard(db, mcp_url=server.url, args=SHARED).start()
    yield app
    app.stop()
    server.stop()


def test_a_hostile_question_is_only_text_on_the_page_and_can_be_declined(page: Page, odd_dashboard: Dashboard) -> None:
    with odd_dashboard.client() as client:
        job_id = client.post("/api/jobs", json={"tool": "asks_hostile", "arguments": {}}).json()["id"]
    page.goto(f"{odd_dashboard.url}/jobs/{job_id}")
    question = page.locator("#questions .question")
    expect(question).to_be_visible(timeout=TIMEOUT)
    expect(question.locator(".question-message")).to_have_text(HOSTILE)  # the attack, as text
    expect(page.locator("#questions script, #questions img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    page.click("#answer-decline")
    expect(page.locator("#state-badge")).to_have_attribute("data-state", "succeeded", timeout=TIMEOUT)
    assert page.evaluate("window.pwned") is None
