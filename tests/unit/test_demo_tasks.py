"""The bundled server's MCP Tasks (`long_task`) and questions (`confirm`), through the SDK's in-process
client/server pair, on both protocol revisions. Over real HTTP: tests/integration/test_demo_tasks.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError, types

from tests.demo_tasks_client import (
    DetailedTask,
    Person,
    call_as_task,
    cancel_task,
    cancel_task_2026,
    client,
    eventually,
    get_task,
    get_task_2026,
    list_tasks,
    poll_to_end,
    refused,
    start_task,
    status_becomes,
    status_becomes_2026,
    task_result,
    text_of,
    update_task,
)
from webapp.demo_server import CallStats, build_server
from webapp.demo_tasks import RELATED_TASK, TaskStore, clamp_ttl

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
NOT_FOUND = "Failed to retrieve task: Task not found"


@pytest.fixture
async def store() -> AsyncIterator[TaskStore]:
    """The process's tasks, running as the app's lifespan runs them: they outlive each in-process connection."""
    tasks = TaskStore()
    async with tasks.running():
        yield tasks


@pytest.fixture
def server(store: TaskStore) -> Any:
    return build_server(CallStats(), store)


# ---------------------------------------------------------------------------------------------- 2025-11-25


async def test_a_2025_server_advertises_tasks_and_only_long_task_may_run_as_one(server: Any) -> None:
    async with client(server, Person(), mode="legacy") as c:
        assert c.session.initialize_result is not None
        tasks = c.session.initialize_result.capabilities.tasks
        assert tasks is not None and tasks.list is not None and tasks.cancel is not None
        assert tasks.requests is not None and tasks.requests.tools is not None and tasks.requests.tools.call is not None
        support = {t.name: t.execution.task_support for t in (await c.list_tools()).tools if t.execution}
    assert support.pop("long_task") == "optional"
    assert set(support.values()) == {"forbidden"} and {"run_job", "confirm", "flood"} <= set(support)


async def test_each_step_of_a_2025_task_is_a_log_line_progress_with_the_calls_token_and_a_status(
    server: Any, store: TaskStore
) -> None:
    person = Person()
    async with client(server, person, mode="legacy") as c:
        task = await call_as_task(c.session, "long_task", {"steps": 3, "delay": 0}, progress_token="job-7")
        assert (task.status, task.ttl, task.poll_interval) == ("working", 600_000, 500)
        await status_becomes(c.session, task.task_id, "completed")
        # No tasks/result was open: everything went on the session's standalone channel.
        await person.heard("the last status", lambda: "completed 3 step(s)" in person.status_messages())
        result = await task_result(c.session, task.task_id)
    related = {RELATED_TASK: {"taskId": task.task_id}}
    assert [(p.progress_token, p.progress, p.total, p.message, p.meta) for p in person.progress] == [
        ("job-7", n, 3, f"step {n}/3", related) for n in (1, 2, 3)
    ]
    assert [(log.level, log.logger, log.meta) for log in person.logs] == [("info", "demo.task", related)] * 3
    assert person.status_messages() == ["step 1/3", "step 2/3", "step 3/3", "completed 3 step(s)"]
    assert {s.task_id for s in person.statuses} == {task.task_id}
    assert text_of(result) == "completed 3 step(s)" and result.meta == related
    assert (store.counts.started, store.counts.finished) == (1, 1)


async def test_a_2025_question_comes_on_the_tasks_result_stream_and_the_answer_shows_in_the_result(
    server: Any,
) -> None:
    person = Person(answer="blue")
    async with client(server, person, mode="legacy") as c:
        task = await call_as_task(c.session, "long_task", {"steps": 4, "delay": 0, "ask": "Favourite colour?"})
        result = await task_result(c.session, task.task_id)
        await person.heard("step 4", lambda: len(person.progress) == 4)
    assert text_of(result) == "completed 4 step(s); the answer: blue"
    [question] = person.questions
    assert question.message == "Favourite colour?"
    assert dict(question.meta or {}) == {RELATED_TASK: {"taskId": task.task_id}}
    assert question.requested_schema["required"] == ["answer"]
    assert question.requested_schema["properties"]["answer"]["type"] == "string"
    messages = person.status_messages()
    assert messages.index("waiting for an answer: Favourite colour?") < messages.index("answer received")
    assert messages.index("answer received") < messages.index("step 3/4")


async def test_a_2025_client_without_elicitation_gets_its_tasks_question_declined(server: Any) -> None:
    person = Person()
    async with client(server, person, mode="legacy", elicit=False) as c:
        task = await call_as_task(c.session, "long_task", {"steps": 2, "delay": 0, "ask": "Anyone there?"})
        result = await task_result(c.session, task.task_id)
        await person.heard("the warning", lambda: any(log.level == "warning" for log in person.logs))
    assert text_of(result) == "completed 2 step(s); no answer (decline)"
    assert person.questions == []


async def test_a_tool_error_ends_a_2025_task_failed_and_tasks_result_still_gives_the_result(server: Any) -> None:
    async with client(server, Person(), mode="legacy") as c:
        task = await call_as_task(c.session, "long_task", {"steps": 2, "delay": 0, "fail": True})
        ended = await status_becomes(c.session, task.task_id, "failed")
        result = await task_result(c.session, task.task_id)
    assert ended.status_message == "failed after 2 step(s)"
    assert result.is_error and text_of(result) == "failed after 2 step(s)"


async def test_cancelling_a_2025_task_stops_it_withdraws_its_question_and_fails_its_tasks_result(
    server: Any, store: TaskStore
) -> None:
    person = Person(answer=None)  # never answers
    outcome: list[MCPError] = []
    async with client(server, person, mode="legacy") as c:
        task = await call_as_task(c.session, "long_task", {"steps": 4, "delay": 0, "ask": "Wait for me?"})

        async def hold_the_result() -> None:
            with pytest.raises(MCPError) as failed:
                await task_result(c.session, task.task_id)
            outcome.append(failed.value)

        async with anyio.create_task_group() as group:
            group.start_soon(hold_the_result)
            await person.heard("the question", lambda: len(person.questions) == 1)
            cancelled = await cancel_task(c.session, task.task_id)
        await person.heard("the question withdrawn", lambda: person.withdrawn == 1)
        with pytest.raises(MCPError) as again:
            await cancel_task(c.session, task.task_id)
        assert (await get_task(c.session, task.task_id)).status == "cancelled"
    assert (cancelled.status, cancelled.status_message) == ("cancelled", "cancelled by the client")
    [error] = outcome
    assert error.code == -32603 and error.message == f"Task {task.task_id} was cancelled"
    assert error.error.data == {RELATED_TASK: {"taskId": task.task_id}}
    assert (again.value.code, again.value.message) == (-32602, "Cannot cancel task in terminal status: cancelled")
    assert (store.counts.cancelled, store.counts.finished) == (1, 0)


async def test_a_2025_task_is_found_again_from_a_new_session_that_answers_its_question(
    server: Any, store: TaskStore
) -> None:
    async with client(server, Person(), mode="legacy") as first:
        task = await call_as_task(first.session, "long_task", {"steps": 4, "delay": 0, "ask": "Still there?"})
        await status_becomes(first.session, task.task_id, "input_required")
    person = Person(answer="yes")
    async with client(server, person, mode="legacy") as second:
        listed = {t.task_id: t.status for t in await list_tasks(second.session)}
        result = await task_result(second.session, task.task_id)
        await person.heard("step 4", lambda: [p.progress for p in person.progress] == [3, 4])
    assert listed[task.task_id] == "input_required"
    assert text_of(result) == "completed 4 step(s); the answer: yes"
    assert {p.progress_token for p in person.progress} == {"progress-1"}  # the first call's token
    assert store.counts.started == 1


async def test_2025_task_errors_carry_the_codes_clients_expect(server: Any) -> None:
    async with client(server, Person(), mode="legacy") as c:
        for ask_for in (get_task, task_result, cancel_task):
            with pytest.raises(MCPError) as unknown:
                await ask_for(c.session, "no-such-task")
            assert (unknown.value.code, unknown.value.message) == (-32602, NOT_FOUND)
        with pytest.raises(MCPError) as forbidden:
            await call_as_task(c.session, "run_job", {"steps": 1})
        assert (forbidden.value.code, forbidden.value.message) == (
            -32601,
            "Tool run_job does not support task augmentation",
        )
        with pytest.raises(MCPError) as wrong:
            await call_as_task(c.session, "long_task", {"steps": 0})
        assert wrong.value.code == -32602 and "Invalid arguments for long_task: steps" in wrong.value.message
        task = await call_as_task(c.session, "long_task", {"steps": 1, "delay": 0})
        await status_becomes(c.session, task.task_id, "completed")
        with pytest.raises(MCPError) as ended:
            await cancel_task(c.session, task.task_id)
        assert (ended.value.code, ended.value.message) == (-32602, "Cannot cancel task in terminal status: completed")
        assert text_of(await task_result(c.session, task.task_id)) == "completed 1 step(s)"  # as often as asked
        with pytest.raises(MCPError) as update:
            await update_task(c.session, task.task_id, {})
        assert update.value.code == -32601


async def test_the_clients_ttl_is_kept_within_one_second_and_one_hour(server: Any) -> None:
    async with client(server, Person(), mode="legacy") as c:
        asked = [None, 10, 90_000, 10 * 3_600_000]
        given = [(await call_as_task(c.session, "long_task", {"steps": 1, "delay": 0}, ttl_ms=t)).ttl for t in asked]
    assert given == [600_000, 1_000, 90_000, 3_600_000]
    assert clamp_ttl(-5, 600_000) == 1_000


async def test_a_2025_task_past_its_ttl_is_forgotten_and_its_work_stopped(server: Any, store: TaskStore) -> None:
    async with client(server, Person(answer=None), mode="legacy") as c:
        task = await call_as_task(c.session, "long_task", {"steps": 2, "delay": 0, "ask": "?"}, ttl_ms=1000)
        await status_becomes(c.session, task.task_id, "input_required")

        error = await eventually(lambda: refused(get_task(c.session, task.task_id)), what="the task to be forgotten")
        assert task.task_id not in {t.task_id for t in await list_tasks(c.session)}

        async def counted() -> int | None:  # the store forgets a task a moment after lookups refuse it
            return store.counts.expired or None

        assert await eventually(counted, what="the expired task to be counted") == 1
    assert (error.code, error.message) == (-32602, NOT_FOUND)
    assert (store.counts.finished, store.counts.cancelled) == (0, 0)


# ---------------------------------------------------------------------------------------------- 2026-07-28


async def test_a_2026_tools_call_declaring_the_extension_is_answered_as_a_task_with_its_result_inline(
    server: Any, store: TaskStore
) -> None:
    async with client(server, Person(), mode=MODERN) as c:
        created = await start_task(c.session, "long_task", {"steps": 3, "delay": 0})
        ended = await poll_to_end(c.session, created.task_id)
    assert (created.status, created.ttl_ms, created.poll_interval_ms) == ("working", 600_000, 500)
    assert len(created.task_id) >= 32  # unguessable: 24 random bytes
    assert ended.status == "completed" and ended.status_message == "completed 3 step(s)"
    assert text_of(ended.result) == "completed 3 step(s)" and ended.error is None and ended.input_requests is None
    assert (store.counts.started, store.counts.finished) == (1, 1)


async def test_a_2026_task_tells_its_steps_in_its_status_message(server: Any, store: TaskStore) -> None:
    async with client(server, Person(), mode=MODERN) as c:
        created = await start_task(c.session, "long_task", {"steps": 10_000, "delay": 0.001})
        seen: list[str] = []

        async def a_few_steps() -> DetailedTask | None:
            task = await get_task_2026(c.session, created.task_id)
            if task.status_message and task.status_message.startswith("step "):
                seen.append(task.status_message)
            return task if len(seen) >= 3 else None

        await eventually(a_few_steps, what="three polls that show a step")
        await cancel_task_2026(c.session, created.task_id)
    steps = [int(m) for m in re.findall(r"step (\d+)/10000", " ".join(seen))]
    assert len(steps) == 3 and steps == sorted(steps)


async def test_a_2026_question_shows_in_input_requests_and_is_answered_with_tasks_update(server: Any) -> None:
    person = Person(answer="green")
    async with client(server, person, mode=MODERN) as c:
        created = await start_task(c.session, "long_task", {"steps": 4, "delay": 0, "ask": "Favourite colour?"})
        waiting = await status_becomes_2026(c.session, created.task_id, "input_required")
        ended = await poll_to_end(c.session, created.task_id)
    assert waiting.status_message == "waiting for an answer: Favourite colour?"
    assert waiting.input_requests is not None
    [(key, request)] = waiting.input_requests.items()
    assert key == "q1" and request["method"] == "elicitation/create"
    params = request["params"]
    assert (params["mode"], params["message"]) == ("form", "Favourite colour?")
    assert params["requestedSchema"]["required"] == ["answer"]
    assert [q.message for q in person.questions] == ["Favourite colour?"]
    assert text_of(ended.result) == "completed 4 step(s); the answer: green"


async def test_a_2026_answer_that_does_not_fit_the_schema_is_refused_and_the_question_stays(server: Any) -> None:
    async with client(server, Person(), mode=MODERN) as c:
        created = await start_task(c.session, "long_task", {"steps": 2, "delay": 0, "ask": "Name?"})
        await status_becomes_2026(c.session, created.task_id, "input_required")
        with pytest.raises(MCPError) as refused:
            await update_task(c.session, created.task_id, {"q1": {"action": "accept", "content": {"answer": 7}}})
        await update_task(c.session, created.task_id, {"q9": {"action": "accept", "content": {"answer": "x"}}})
        still = await get_task_2026(c.session, created.task_id)
        await update_task(c.session, created.task_id, {"q1": {"action": "decline"}})
        await update_task(c.session, created.task_id, {"q1": {"action": "accept", "content": {"answer": "late"}}})
        ended = await poll_to_end(c.session, created.task_id)
    assert refused.value.code == -32602 and "does not match the requested schema" in refused.value.message
    assert still.status == "input_required" and still.input_requests is not None and "q1" in still.input_requests
    assert text_of(ended.result) == "completed 2 step(s); no answer (decline)"  # the second answer is ignored


async def test_a_2026_client_without_elicitation_gets_its_tasks_question_declined(server: Any) -> None:
    async with client(server, Person(), mode=MODERN, elicit=False) as c:
        created = await start_task(c.session, "long_task", {"steps": 2, "delay": 0, "ask": "Anyone there?"})
        ended = await poll_to_end(c.session, created.task_id, answer=False)
    assert text_of(ended.result) == "completed 2 step(s); no answer (decline)"


async def test_a_tool_error_ends_a_2026_task_completed_with_the_error_result(server: Any) -> None:
    async with client(server, Person(), mode=MODERN) as c:
        created = await start_task(c.session, "long_task", {"steps": 1, "delay": 0, "fail": True})
        ended = await poll_to_end(c.session, created.task_id)
    assert ended.status == "completed" and ended.result is not None and ended.result["isError"] is True


async def test_cancelling_a_2026_task_stops_its_work_and_a_second_cancel_is_acknowledged_too(
    server: Any, store: TaskStore
) -> None:
    async with client(server, Person(answer=None), mode=MODERN) as c:
        created = await start_task(c.session, "long_task", {"steps": 2, "delay": 0, "ask": "Wait?"})
        await status_becomes_2026(c.session, created.task_id, "input_required")
        first = await cancel_task_2026(c.session, created.task_id)
        second = await cancel_task_2026(c.session, created.task_id)
        ended = await get_task_2026(c.session, created.task_id)
    stamps = {"resultType", "_meta"}  # the SDK's own, on every 2026 result
    assert [set(ack.model_extra or {}) - stamps for ack in (first, second)] == [set(), set()]  # acknowledgements
    assert (ended.status, ended.status_message, ended.result) == ("cancelled", "cancelled by the client", None)
    assert (store.counts.cancelled, store.counts.finished) == (1, 0)


async def test_a_2026_task_is_found_again_from_a_new_connection(server: Any, store: TaskStore) -> None:
    async with client(server, Person(), mode=MODERN) as first:
        created = await start_task(first.session, "long_task", {"steps": 3, "delay": 0, "ask": "Who?"})
    async with client(server, Person(answer="me"), mode=MODERN) as second:
        ended = await poll_to_end(second.session, created.task_id)
    assert text_of(ended.result) == "completed 3 step(s); the answer: me"
    assert store.counts.started == 1


async def test_2026_task_errors_carry_the_codes_clients_expect(server: Any) -> None:
    async with client(server, Person(), mode=MODERN) as c:
        with pytest.raises(MCPError) as unknown:
            await get_task_2026(c.session, "no-such-task")
        assert (unknown.value.code, unknown.value.message) == (-32602, NOT_FOUND)
        with pytest.raises(MCPError) as no_result:
            await task_result(c.session, "no-such-task")
        with pytest.raises(MCPError) as no_list:
            await list_tasks(c.session)
        assert no_result.value.code == no_list.value.code == -32601  # 2025 methods only
        created = await start_task(c.session, "long_task", {"steps": 1, "delay": 0})
    async with client(server, Person(), mode="legacy") as old:
        with pytest.raises(MCPError) as other_revision:
            await get_task(old.session, created.task_id)  # a task keeps the revision that made it
        assert (other_revision.value.code, other_revision.value.message) == (-32602, NOT_FOUND)
    async with Client(server, mode=MODERN, cache=None) as bare:  # declares no tasks extension
        with pytest.raises(MCPError) as undeclared:
            await get_task_2026(bare.session, created.task_id)
        assert undeclared.value.code == -32021


# ---------------------------------------------------------------------------------------------- plain calls


class Progress(list[tuple[float, float | None, str | None]]):
    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.append((progress, total, message))


async def test_long_task_called_without_a_task_on_2025_runs_as_a_plain_tool_that_asks_by_elicitation(
    server: Any, store: TaskStore
) -> None:
    person, progress = Person(answer="plain"), Progress()
    async with client(server, person, mode="legacy") as c:
        result = await c.call_tool("long_task", {"steps": 4, "delay": 0, "ask": "?"}, progress_callback=progress)
        await person.heard("the logs", lambda: len(person.logs) == 5)
    assert progress == [(n, 4, f"step {n}/4") for n in (1, 2, 3, 4)]
    assert text_of(result) == "completed 4 step(s); the answer: plain"
    assert person.questions[0].meta is None  # asked within the call, not for a task
    assert (store.counts.started, person.statuses) == (0, [])


async def test_long_task_called_on_2026_without_the_extension_runs_plainly_and_its_question_is_declined(
    server: Any, store: TaskStore
) -> None:
    person, progress = Person(), Progress()
    logs: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    plain = Client(
        server, mode=MODERN, log_level="debug", logging_callback=on_log, elicitation_callback=person.elicit, cache=None
    )
    async with plain:
        result = await plain.call_tool("long_task", {"steps": 4, "delay": 0, "ask": "?"}, progress_callback=progress)
    assert progress == [(n, 4, f"step {n}/4") for n in (1, 2, 3, 4)]
    assert text_of(result) == "completed 4 step(s); no answer (decline)"  # outside a task, 2026 asks only by MRTR
    assert [log.level for log in logs].count("info") == 4 and "warning" in {log.level for log in logs}
    assert store.counts.started == 0


@pytest.mark.parametrize("mode", ["legacy", MODERN])
async def test_confirm_asks_the_person_by_mrtr_on_2026_and_by_elicitation_on_2025(server: Any, mode: str) -> None:
    person = Person(answer="ship it")
    async with client(server, person, mode=mode) as c:
        result = await c.call_tool("confirm", {"question": "Ship?"})
    assert text_of(result) == "you said: ship it"
    assert [q.message for q in person.questions] == ["Ship?"]


async def test_confirm_on_2026_answers_input_required_with_the_question() -> None:
    async with Client(build_server(), mode=MODERN, elicitation_callback=Person().elicit, cache=None) as c:
        first = await c.session.call_tool("confirm", {"question": "Ship?"}, allow_input_required=True)
    assert isinstance(first, types.InputRequiredResult) and first.input_requests is not None
    [request] = first.input_requests.values()
    assert isinstance(request, types.ElicitRequest) and request.params.message == "Ship?"
