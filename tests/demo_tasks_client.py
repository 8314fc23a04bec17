"""The client side of MCP Tasks for the demo server's tests, from the SDK's low-level requests on both revisions
(as the research for issue 16 found them to work with mcp 2.3.0). The dashboard's own client is not this one.

2025-11-25: a task-augmented tools/call goes out raw (the SDK checks every tools/call result against the 2025
CallToolResult, which a CreateTaskResult is not); tasks/get, tasks/result, tasks/list and tasks/cancel go through
the public `send_request` with the SDK's 2025 types.
2026-07-28: the SDK has no task types: `CreatedTask` is the claim model of `resultType: "task"`, and the tasks/*
requests carry `name_param` so the SDK sends the `Mcp-Name` header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import anyio
from mcp import Client, MCPError, types
from mcp.client import (
    ClaimContext,
    ClientExtension,
    ClientRequestContext,
    ClientSession,
    NotificationBinding,
    ResultClaim,
)
from pydantic import BaseModel, ConfigDict, TypeAdapter

from webapp.demo_tasks import TASKS_EXTENSION, TERMINAL

T = TypeVar("T")

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
BOUND = 10.0  # seconds: how long a test waits for what must come


async def eventually(check: Callable[[], Awaitable[T | None]], *, what: str) -> T:
    """Ask the server (`check`) until it gives something; fail after BOUND seconds. A bounded wait."""
    try:
        with anyio.fail_after(BOUND):
            # Polling is the protocol here (nothing is pushed on 2026-07-28), faster than the server's pollInterval.
            while (found := await check()) is None:  # noqa: ASYNC110
                await anyio.sleep(0.02)  # the pause between polls, within the bound above
            return found
    except TimeoutError:
        raise AssertionError(f"gave up after {BOUND:g} s waiting for {what}") from None


def text_of(result: types.CallToolResult | dict[str, Any] | None) -> str:
    if isinstance(result, dict):
        result = types.CallToolResult.model_validate(result, by_name=False)
    assert result is not None and isinstance(result.content[0], types.TextContent)
    return result.content[0].text


async def refused(request: Awaitable[Any]) -> MCPError | None:
    """The error a request gets, or None if it gets an answer."""
    try:
        await request
    except MCPError as exc:
        return exc
    return None


@dataclass
class Person:
    """What a client hears (progress, logs, task statuses, questions) and the person who answers the questions.
    `answer=None`: the person never answers (until the server withdraws the question)."""

    answer: str | None = "blue"
    progress: list[types.ProgressNotificationParams] = field(default_factory=list)
    logs: list[types.LoggingMessageNotificationParams] = field(default_factory=list)
    statuses: list[types.TaskStatusNotificationParams] = field(default_factory=list)
    questions: list[types.ElicitRequestFormParams] = field(default_factory=list)
    withdrawn: int = 0  # questions the server took back (notifications/cancelled)
    _changed: anyio.Event = field(default_factory=anyio.Event)

    def _heard(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def on_message(self, message: Any) -> None:
        if isinstance(message, types.ProgressNotification):
            self.progress.append(message.params)
        elif isinstance(message, types.LoggingMessageNotification):
            self.logs.append(message.params)
        self._heard()

    async def on_status(self, params: types.TaskStatusNotificationParams) -> None:
        self.statuses.append(params)
        self._heard()

    async def elicit(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        self.questions.append(params)
        self._heard()
        if self.answer is None:
            try:
                await anyio.sleep_forever()
            finally:
                self.withdrawn += 1
                self._heard()
        return types.ElicitResult(action="accept", content={"answer": self.answer})

    def status_messages(self) -> list[str | None]:
        return [s.status_message for s in self.statuses]

    async def heard(self, what: str, condition: Callable[[], bool]) -> None:
        """Notifications are handled in tasks of their own: wait (bounded) until `condition` holds."""
        try:
            with anyio.fail_after(BOUND):
                while not condition():
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"gave up after {BOUND:g} s waiting for {what}") from None


def client(target: Any, person: Person, *, mode: str, elicit: bool = True, log_level: Any = None) -> Client:
    """A Client that declares the tasks extension (2026) and hears task statuses (2025)."""
    return Client(
        target,
        mode=mode,
        elicitation_callback=person.elicit if elicit else None,
        message_handler=person.on_message,
        log_level=log_level,
        extensions=[TasksClient(person)],
        cache=None,
    )


# ---------------------------------------------------------------------------------------------- 2025-11-25


async def call_as_task(
    session: ClientSession,
    name: str,
    arguments: dict[str, Any],
    *,
    ttl_ms: int | None = None,
    progress_token: str | int = "progress-1",
) -> types.Task:
    """tools/call with `params.task`, raw through the session's dispatcher (a private attribute, so these tests
    pin it): answered by a CreateTaskResult."""
    params = {
        "name": name,
        "arguments": arguments,
        "task": {} if ttl_ms is None else {"ttl": ttl_ms},
        "_meta": {"progressToken": progress_token},
    }
    raw = await session._dispatcher.send_raw_request("tools/call", params, {"timeout": 10})
    return types.CreateTaskResult.model_validate(raw, by_name=False).task


async def get_task(session: ClientSession, task_id: str) -> types.GetTaskResult:
    request = types.GetTaskRequest(params=types.GetTaskRequestParams(task_id=task_id))
    return await session.send_request(request, types.GetTaskResult)


async def task_result(session: ClientSession, task_id: str) -> types.CallToolResult:
    # As a CallToolResult: GetTaskPayloadResult keeps no payload.
    request = types.GetTaskPayloadRequest(params=types.GetTaskPayloadRequestParams(task_id=task_id))
    return await session.send_request(request, types.CallToolResult)


async def list_tasks(session: ClientSession) -> list[types.Task]:
    request = types.ListTasksRequest(params=types.PaginatedRequestParams())
    return (await session.send_request(request, types.ListTasksResult)).tasks


async def cancel_task(session: ClientSession, task_id: str) -> types.CancelTaskResult:
    request = types.CancelTaskRequest(params=types.CancelTaskRequestParams(task_id=task_id))
    return await session.send_request(request, types.CancelTaskResult)


async def status_becomes(session: ClientSession, task_id: str, status: TaskStatus) -> types.GetTaskResult:
    async def check() -> types.GetTaskResult | None:
        task = await get_task(session, task_id)
        return task if task.status == status else None

    return await eventually(check, what=f"task {task_id} to be {status}")


# ---------------------------------------------------------------------------------------------- 2026-07-28


class CreatedTask(types.Result):
    """`{"resultType": "task", "taskId", "status", ...}`: the fields flat, no "task" wrapper."""

    result_type: Literal["task"] = "task"
    task_id: str
    status: TaskStatus
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None


class DetailedTask(types.Result):
    """tasks/get: the task with its result, error or questions inline."""

    task_id: str
    status: TaskStatus
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    input_requests: dict[str, dict[str, Any]] | None = None


class TaskIdParams(types.RequestParams):
    task_id: str


class UpdateTaskParams(TaskIdParams):
    input_responses: dict[str, Any]


class GetTask(types.Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: TaskIdParams
    name_param = "taskId"  # the SDK mirrors params.taskId into the Mcp-Name header


class UpdateTask(types.Request[UpdateTaskParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"
    params: UpdateTaskParams
    name_param = "taskId"


class CancelTask(types.Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    params: TaskIdParams
    name_param = "taskId"


class ListTasks(types.Request[types.PaginatedRequestParams, Literal["tasks/list"]]):
    method: Literal["tasks/list"] = "tasks/list"
    params: types.PaginatedRequestParams


class Raw(BaseModel):
    """Any result, kept whole."""

    model_config = ConfigDict(extra="allow")


_input_request: TypeAdapter[types.InputRequest] = TypeAdapter(types.InputRequest)


async def start_task(session: ClientSession, name: str, arguments: dict[str, Any]) -> CreatedTask:
    created = await session.call_tool(name, arguments, allow_claimed=True)
    assert isinstance(created, CreatedTask), created
    return created


async def get_task_2026(session: ClientSession, task_id: str) -> DetailedTask:
    return await session.send_request(GetTask(params=TaskIdParams(task_id=task_id)), DetailedTask)


async def update_task(session: ClientSession, task_id: str, responses: dict[str, Any]) -> None:
    request = UpdateTask(params=UpdateTaskParams(task_id=task_id, input_responses=responses))
    await session.send_request(request, types.EmptyResult)


async def cancel_task_2026(session: ClientSession, task_id: str) -> Raw:
    return await session.send_request(CancelTask(params=TaskIdParams(task_id=task_id)), Raw)


async def answer_questions(session: ClientSession, task: DetailedTask, answered: set[str]) -> None:
    """Each new `inputRequests` entry goes to the client's own elicitation callback; the answers go back with
    tasks/update. A key already answered is skipped (a poll may show it again)."""
    responses: dict[str, Any] = {}
    for key, raw in (task.input_requests or {}).items():
        if key in answered:
            continue
        request = _input_request.validate_python(raw, by_name=False)
        meta = request.params.meta if request.params else None
        ctx = ClientRequestContext(session=session, request_id=key, meta=meta)
        outcome = await session.dispatch_input_request(ctx, request)
        assert not isinstance(outcome, types.ErrorData), outcome
        responses[key] = outcome.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"result_type"})
        answered.add(key)
    if responses:
        await update_task(session, task.task_id, responses)


async def poll_to_end(
    session: ClientSession, task_id: str, seen: list[DetailedTask] | None = None, *, answer: bool = True
) -> DetailedTask:
    """tasks/get until the task ends, answering its questions (with `answer`); every poll goes into `seen`."""
    answered: set[str] = set()

    async def check() -> DetailedTask | None:
        task = await get_task_2026(session, task_id)
        if seen is not None:
            seen.append(task)
        if task.status == "input_required" and answer:
            await answer_questions(session, task, answered)
        return task if task.status in TERMINAL else None

    return await eventually(check, what=f"task {task_id} to end")


async def status_becomes_2026(session: ClientSession, task_id: str, status: TaskStatus) -> DetailedTask:
    async def check() -> DetailedTask | None:
        task = await get_task_2026(session, task_id)
        return task if task.status == status else None

    return await eventually(check, what=f"task {task_id} to be {status}")


class TasksClient(ClientExtension):
    """Declares io.modelcontextprotocol/tasks (on 2026-07-28: its claim keeps it out of a 2025 initialize) and
    hears notifications/tasks/status (a binding works on 2025 sessions too)."""

    identifier = TASKS_EXTENSION

    def __init__(self, person: Person) -> None:
        self.person = person

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self._resolve)]

    def notifications(self) -> list[NotificationBinding[Any]]:
        binding = NotificationBinding(
            method="notifications/tasks/status",
            params_type=types.TaskStatusNotificationParams,
            handler=self.person.on_status,
        )
        return [binding]

    async def _resolve(self, created: CreatedTask, ctx: ClaimContext) -> types.CallToolResult:
        """`Client.call_tool` made transparent: poll to the end, answering the questions."""
        task = await poll_to_end(ctx.session, created.task_id)
        if task.status == "completed" and task.result is not None:
            return types.CallToolResult.model_validate(task.result, by_name=False)
        if task.error is not None:
            raise MCPError(code=task.error["code"], message=task.error["message"])
        raise MCPError(code=-32603, message=f"task {task.task_id} ended {task.status}")
