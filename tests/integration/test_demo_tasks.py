"""The bundled server's MCP Tasks over real loopback HTTP, as the dashboard will meet them: streamable HTTP on both
revisions and the legacy SSE transport (2025-11-25), with the SDK's low-level task requests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError, types
from mcp.client import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.demo_tasks_client import (
    DetailedTask,
    Person,
    TasksClient,
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
)
from tests.helpers import server_stats
from webapp.bundled import ChildServer
from webapp.demo_tasks import RELATED_TASK

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
NOT_FOUND = "Failed to retrieve task: Task not found"


@pytest.fixture(scope="module")
def server() -> Iterator[ChildServer]:
    """A bundled server of this module's own: its /stats counts only these tests' tasks."""
    child = ChildServer().start()
    yield child
    child.stop()


@pytest.fixture(params=["streamable-http", "legacy-sse"])
def transport(request: pytest.FixtureRequest, server: ChildServer) -> Any:
    """A 2025-era connection on either transport: a fresh one each time it is called."""
    if request.param == "legacy-sse":
        return lambda: sse_client(f"http://{server.host}:{server.port}/sse")
    return lambda: server.url


def in_order(seen: list[Any], expected: list[Any]) -> list[Any]:
    """What of `expected` was seen, in the order seen. Notifications of one task may come on two streams (the
    standalone one, a tasks/result one), so only those the protocol pins to one stream are compared."""
    return [item for item in seen if item in expected]


# ---------------------------------------------------------------------------------------------- 2025-11-25


async def test_a_2025_task_gives_its_result_status_lines_and_progress(server: ChildServer, transport: Any) -> None:
    before = server_stats(server)
    person = Person(answer="blue")
    async with client(transport(), person, mode="legacy") as c:
        support = {t.name: t.execution.task_support for t in (await c.list_tools()).tools if t.execution}
        task = await call_as_task(c.session, "long_task", {"steps": 4, "delay": 0, "ask": "Colour?"}, ttl_ms=60_000)
        result = await task_result(c.session, task.task_id)
        # Everything after the answer comes on the tasks/result stream, which was open for the answer.
        await person.heard(
            "the last status", lambda: "completed 4 step(s); the answer: blue" in person.status_messages()
        )
        await person.heard("the last progress", lambda: any(p.progress == 4 for p in person.progress))
    assert support["long_task"] == "optional" and support["run_job"] == "forbidden"
    assert (task.status, task.ttl, task.poll_interval) == ("working", 60_000, 500)
    assert text_of(result) == "completed 4 step(s); the answer: blue"
    assert result.meta == {RELATED_TASK: {"taskId": task.task_id}}
    [question] = person.questions
    assert question.message == "Colour?" and dict(question.meta or {}) == {RELATED_TASK: {"taskId": task.task_id}}
    tail = ["answer received", "step 3/4", "step 4/4", "completed 4 step(s); the answer: blue"]
    assert in_order(person.status_messages(), tail) == tail
    late = [(p.progress_token, p.progress, p.message, p.meta) for p in person.progress if p.progress > 2]
    related = {RELATED_TASK: {"taskId": task.task_id}}
    assert late == [("progress-1", 3, "step 3/4", related), ("progress-1", 4, "step 4/4", related)]
    after = server_stats(server)
    assert after["tasks_started"] - before["tasks_started"] == 1
    assert after["tasks_finished"] - before["tasks_finished"] == 1


async def test_a_2025_task_is_found_again_by_a_new_session_after_the_first_one_ended(
    server: ChildServer, transport: Any
) -> None:
    before = server_stats(server)
    async with client(transport(), Person(), mode="legacy") as first:
        task = await call_as_task(first.session, "long_task", {"steps": 4, "delay": 0, "ask": "Still there?"})
        await status_becomes(first.session, task.task_id, "input_required")
    # The first session is gone (on streamable HTTP the SDK deleted it); the task belongs to the process.
    person = Person(answer="yes")
    async with client(transport(), person, mode="legacy") as second:
        listed = {t.task_id: t.status for t in await list_tasks(second.session)}
        got = await get_task(second.session, task.task_id)
        result = await task_result(second.session, task.task_id)
    assert listed[task.task_id] == got.status == "input_required"
    assert text_of(result) == "completed 4 step(s); the answer: yes"
    assert [q.message for q in person.questions] == ["Still there?"]
    assert server_stats(server)["tasks_started"] - before["tasks_started"] == 1  # it ran once


async def test_a_2025_task_re_attached_with_its_saved_session_and_no_initialize_talks_on_tasks_result(
    server: ChildServer,
) -> None:
    sessions: list[str] = []

    async def remember(response: Any) -> None:
        if (sid := response.headers.get("mcp-session-id")) and sid not in sessions:
            sessions.append(sid)

    http = create_mcp_http_client()
    http.event_hooks["response"].append(remember)
    # terminate_on_close=False: leave the session alive, as a dashboard that dies would.
    transport = streamable_http_client(server.url, http_client=http, terminate_on_close=False)
    async with http, Client(transport, mode="legacy", elicitation_callback=Person().elicit, cache=None) as first:
        task = await call_as_task(first.session, "long_task", {"steps": 4, "delay": 0, "ask": "Again?"})
        await status_becomes(first.session, task.task_id, "input_required")
        saved = first.session.initialize_result
    assert saved is not None and len(sessions) == 1
    person = Person(answer="again")
    async with create_mcp_http_client(headers={"mcp-session-id": sessions[0]}) as http:
        transport = streamable_http_client(server.url, http_client=http, terminate_on_close=False)
        async with transport as (read, write):
            session = ClientSession(
                read,
                write,
                elicitation_callback=person.elicit,
                message_handler=person.on_message,
                notification_bindings=TasksClient(person).notifications(),
            )
            async with session:
                session.adopt(saved)  # no initialize: no standalone stream either
                result = await task_result(session, task.task_id)
                await person.heard("the last progress", lambda: len(person.progress) == 2)
    assert text_of(result) == "completed 4 step(s); the answer: again"
    # With no standalone stream, all of it came on the tasks/result stream, with the first call's token.
    assert [(p.progress_token, p.progress) for p in person.progress] == [("progress-1", 3), ("progress-1", 4)]
    assert person.status_messages() == ["answer received", "step 3/4", "step 4/4", text_of(result)]
    assert [log.data["step"] for log in person.logs if isinstance(log.data, dict)] == [3, 4]


async def test_a_2025_question_is_asked_on_every_open_tasks_result_stream_and_the_first_answer_wins(
    server: ChildServer,
) -> None:
    silent, answering = Person(answer=None), Person(answer="second")
    results: list[str] = []
    async with (
        client(server.url, silent, mode="legacy") as first,
        client(server.url, answering, mode="legacy") as other,
    ):
        task = await call_as_task(first.session, "long_task", {"steps": 2, "delay": 0, "ask": "Who answers?"})

        async def wait_for_the_result(session: Any) -> None:
            results.append(text_of(await task_result(session, task.task_id)))

        async with anyio.create_task_group() as group:
            group.start_soon(wait_for_the_result, first.session)
            await silent.heard("the question on the first stream", lambda: len(silent.questions) == 1)
            group.start_soon(wait_for_the_result, other.session)
        await silent.heard("the first stream's question withdrawn", lambda: silent.withdrawn == 1)
    assert [q.message for q in answering.questions] == ["Who answers?"]
    assert results == ["completed 2 step(s); the answer: second"] * 2


async def test_cancelling_a_2025_task_reaches_the_server_and_ends_it_cancelled(
    server: ChildServer, transport: Any
) -> None:
    before = server_stats(server)
    async with client(transport(), Person(), mode="legacy") as c:
        task = await call_as_task(c.session, "long_task", {"steps": 10_000, "delay": 0.01})
        await status_becomes(c.session, task.task_id, "working")
        cancelled = await cancel_task(c.session, task.task_id)
        after = server_stats(server)
        got = await get_task(c.session, task.task_id)
        with pytest.raises(MCPError) as no_result:
            await task_result(c.session, task.task_id)
        with pytest.raises(MCPError) as again:
            await cancel_task(c.session, task.task_id)
    assert cancelled.status == got.status == "cancelled"
    assert after["tasks_cancelled"] - before["tasks_cancelled"] == 1
    assert after["tasks_finished"] == before["tasks_finished"]
    assert (no_result.value.code, no_result.value.message) == (-32603, f"Task {task.task_id} was cancelled")
    assert (again.value.code, again.value.message) == (-32602, "Cannot cancel task in terminal status: cancelled")


async def test_a_2025_task_past_the_ttl_its_client_asked_for_is_forgotten(server: ChildServer) -> None:
    before = server_stats(server)
    async with client(server.url, Person(answer=None), mode="legacy") as c:
        task = await call_as_task(c.session, "long_task", {"steps": 2, "delay": 0, "ask": "?"}, ttl_ms=1000)
        await status_becomes(c.session, task.task_id, "input_required")
        error = await eventually(lambda: refused(get_task(c.session, task.task_id)), what="the task to expire")
        assert task.task_id not in {t.task_id for t in await list_tasks(c.session)}
    assert (task.ttl, error.code, error.message) == (1000, -32602, NOT_FOUND)

    async def counted() -> int | None:
        return (server_stats(server)["tasks_expired"] - before["tasks_expired"]) or None

    assert await eventually(counted, what="the server to count the expired task") == 1


async def test_2025_task_requests_for_an_unknown_task_say_it_is_not_found(server: ChildServer) -> None:
    async with client(server.url, Person(), mode="legacy") as c:
        errors = [await refused(ask(c.session, "no-such-task")) for ask in (get_task, task_result, cancel_task)]
    assert [(e.code, e.message) if e else None for e in errors] == [(-32602, NOT_FOUND)] * 3


# ---------------------------------------------------------------------------------------------- 2026-07-28


async def test_a_2026_task_shows_its_steps_in_its_status_and_a_cancel_reaches_the_server(server: ChildServer) -> None:
    before = server_stats(server)
    async with client(server.url, Person(), mode=MODERN) as c:
        created = await start_task(c.session, "long_task", {"steps": 10_000, "delay": 0.01})
        steps: list[str] = []

        async def two_steps() -> DetailedTask | None:
            task = await get_task_2026(c.session, created.task_id)
            if task.status_message and task.status_message.startswith("step ") and task.status_message not in steps:
                steps.append(task.status_message)
            return task if len(steps) == 2 else None

        await eventually(two_steps, what="two steps in the task's status")
        await cancel_task_2026(c.session, created.task_id)
        after = server_stats(server)
        await cancel_task_2026(c.session, created.task_id)  # acknowledged again, though the task has ended
        ended = await get_task_2026(c.session, created.task_id)
    assert (created.status, created.ttl_ms, created.poll_interval_ms) == ("working", 600_000, 500)
    assert all(s.endswith("/10000") for s in steps)
    assert (ended.status, ended.result) == ("cancelled", None)
    assert after["tasks_cancelled"] - before["tasks_cancelled"] == 1


async def test_a_2026_question_is_answered_with_tasks_update_from_a_new_connection(server: ChildServer) -> None:
    before = server_stats(server)
    async with client(server.url, Person(), mode=MODERN) as first:
        created = await start_task(first.session, "long_task", {"steps": 4, "delay": 0, "ask": "Colour?"})
    person, polls = Person(answer="green"), list[DetailedTask]()
    async with client(server.url, person, mode=MODERN) as second:
        ended = await poll_to_end(second.session, created.task_id, polls)
    asking = next(p for p in polls if p.status == "input_required")
    assert asking.status_message == "waiting for an answer: Colour?" and asking.input_requests is not None
    assert asking.input_requests["q1"]["params"]["message"] == "Colour?"
    assert [q.message for q in person.questions] == ["Colour?"]
    assert (ended.status, text_of(ended.result)) == ("completed", "completed 4 step(s); the answer: green")
    assert ended.status_message == "completed 4 step(s); the answer: green"
    assert server_stats(server)["tasks_started"] - before["tasks_started"] == 1


async def test_a_2026_call_declaring_the_extension_resolves_through_the_sdk_client(server: ChildServer) -> None:
    async with client(server.url, Person(answer="yes"), mode=MODERN) as c:
        result = await c.call_tool("long_task", {"steps": 2, "delay": 0, "ask": "Sure?"})
    assert text_of(result) == "completed 2 step(s); the answer: yes"


async def test_2026_task_errors_carry_the_codes_clients_expect(server: ChildServer) -> None:
    async with client(server.url, Person(), mode=MODERN) as c:
        unknown = await refused(get_task_2026(c.session, "no-such-task"))
        no_result = await refused(task_result(c.session, "no-such-task"))
        created = await start_task(c.session, "long_task", {"steps": 1, "delay": 0})
        await status_becomes_2026(c.session, created.task_id, "completed")
    assert unknown is not None and (unknown.code, unknown.message) == (-32602, NOT_FOUND)
    assert no_result is not None and no_result.code == -32601  # tasks/result is a 2025 method


async def test_a_2026_task_past_the_servers_ttl_is_forgotten() -> None:
    short = ChildServer()
    command = [sys.executable, "-m", "webapp.demo_server", "--host", short.host, "--port", str(short.port)]
    short.launch([*command, "--task-ttl", "1"], what="the bundled server with --task-ttl 1", timeout=20)
    try:
        async with client(short.url, Person(answer=None), mode=MODERN) as c:
            created = await start_task(c.session, "long_task", {"steps": 2, "delay": 0, "ask": "?"})
            await status_becomes_2026(c.session, created.task_id, "input_required")
            error = await eventually(lambda: refused(get_task_2026(c.session, created.task_id)), what="expiry")

        async def counted() -> int | None:
            return server_stats(short)["tasks_expired"] or None

        assert await eventually(counted, what="the server to count the expired task") == 1
    finally:
        short.stop()
    assert (created.ttl_ms, error.code, error.message) == (1000, -32602, NOT_FOUND)


# ---------------------------------------------------------------------------------------------- confirm


async def test_confirm_asks_by_elicitation_on_2025(transport: Any) -> None:
    person = Person(answer="ship it")
    async with client(transport(), person, mode="legacy") as c:
        result = await c.call_tool("confirm", {"question": "Ship?"})
    assert text_of(result) == "you said: ship it" and [q.message for q in person.questions] == ["Ship?"]


async def test_confirm_asks_by_mrtr_on_2026(server: ChildServer) -> None:
    person = Person(answer="ship it")
    async with client(server.url, person, mode=MODERN) as c:
        first = await c.session.call_tool("confirm", {"question": "Ship?"}, allow_input_required=True)
        result = await c.call_tool("confirm", {"question": "Ship?"})
    assert isinstance(first, types.InputRequiredResult) and first.request_state
    assert text_of(result) == "you said: ship it" and [q.message for q in person.questions] == ["Ship?"]
