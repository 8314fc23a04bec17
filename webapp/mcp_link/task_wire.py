"""MCP Tasks on the wire, both revisions: start a call as a task, read its status, its outcome, answer its input
requests, cancel it, list them. What the job does with a task is `webapp.tasks`' business; this module only speaks.

- 2025-11-25 (core tasks): a `tools/call` with `params.task` is answered `{"task": {...}}`. The SDK checks every
  tools/call result against the 2025 CallToolResult, so the task call goes out as a raw request of ours (see
  `tap.RawCalls`); tasks/get, tasks/result (the outcome, as a CallToolResult or a JSON-RPC error), tasks/list and
  tasks/cancel go through the session with the SDK's own types.
- 2026-07-28 (the `io.modelcontextprotocol/tasks` extension): declared on every request by `TasksExtension`; a
  tools/call may be answered `resultType: "task"`, which the extension's claim turns into `TaskCreated` (raised
  out of `Client.call_tool`, which has driven any input rounds before). tasks/get carries the outcome or the input
  requests inline; tasks/update answers them; every tasks/* request names its task in the `Mcp-Name` header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from mcp import MCPError
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.session import ClientRequestContext, ClientSession
from mcp.types import (
    CallToolResult,
    CancelTaskRequest,
    CancelTaskRequestParams,
    CancelTaskResult,
    EmptyResult,
    ErrorData,
    GetTaskPayloadRequest,
    GetTaskPayloadRequestParams,
    GetTaskRequest,
    GetTaskRequestParams,
    GetTaskResult,
    InputRequest,
    JSONRPCError,
    ListTasksRequest,
    ListTasksResult,
    PaginatedRequestParams,
    Request,
    RequestParams,
    Result,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ConfigDict, TypeAdapter, ValidationError

from webapp.events import TASK_STATUSES, clean_data, clean_text

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
RELATED_TASK = "io.modelcontextprotocol/related-task"
MAX_TASK_ID = 256  # characters: a longer id is no handle this dashboard keeps


class TaskProtocolError(Exception):
    """What the server said of a task cannot be a task: the job fails, saying why."""


ENDED_STATUSES = ("completed", "failed", "cancelled")  # final: a task never leaves them


@dataclass(frozen=True, slots=True)
class TaskSnapshot:
    """A task as the server last described it, in either revision's shape."""

    id: str
    status: str
    status_message: str | None = None
    created_at: float | None = None
    updated_at: float | None = None  # the server's lastUpdatedAt: orders what comes by different streams
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None
    # 2026-07-28: what tasks/get carries inline.
    input_requests: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    @property
    def ended(self) -> bool:
        return self.status in ENDED_STATUSES


def is_modern(revision: str) -> bool:
    return revision in MODERN_PROTOCOL_VERSIONS


def snapshot_of(raw: Any) -> TaskSnapshot:
    """A task from its wire JSON (2025's Task, or 2026's flat fields), checked: TaskProtocolError when it is none."""
    if not isinstance(raw, dict):
        raise TaskProtocolError("the server's answer about the task is not an object")
    task_id, status = raw.get("taskId"), raw.get("status")
    if not isinstance(task_id, str) or not task_id:
        raise TaskProtocolError("the server gave the task no id")
    if len(task_id) > MAX_TASK_ID:
        raise TaskProtocolError(
            f"the server gave the task an id of {len(task_id):,} characters (at most {MAX_TASK_ID})"
        )
    if status not in TASK_STATUSES:
        shown = clean_text(str(status))[:60]
        raise TaskProtocolError(f"the server gave the task an unknown status {shown!r} (not one of {TASK_STATUSES})")
    message = raw.get("statusMessage")
    requests = raw.get("inputRequests")
    return TaskSnapshot(
        id=task_id,
        status=status,
        status_message=clean_text(message) if isinstance(message, str) else None,
        created_at=_epoch(raw.get("createdAt")),
        updated_at=_epoch(raw.get("lastUpdatedAt")),
        ttl_ms=_whole(raw.get("ttlMs", raw.get("ttl"))),
        poll_interval_ms=_whole(raw.get("pollIntervalMs", raw.get("pollInterval"))),
        input_requests=clean_data(requests) if isinstance(requests, dict) else {},
        result=clean_data(raw["result"]) if isinstance(raw.get("result"), dict) else None,
        error=clean_data(raw["error"]) if isinstance(raw.get("error"), dict) else None,
    )


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _whole(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


# ---- 2025-11-25 -------------------------------------------------------------------------------------------------


def task_call_params(name: str, arguments: dict[str, Any], ttl_ms: int, token: str) -> dict[str, Any]:
    """A 2025 tools/call that asks to run as a task (the progress token stays valid for the task's life)."""
    return {"name": name, "arguments": arguments, "task": {"ttl": ttl_ms}, "_meta": {"progressToken": token}}


def created_2025(answer: dict[str, Any] | JSONRPCError) -> TaskSnapshot | dict[str, Any]:
    """The answer to a 2025 task call: the task, or (from a server that ran it plainly) the CallToolResult JSON."""
    if isinstance(answer, JSONRPCError):
        raise MCPError(answer.error.code, answer.error.message, answer.error.data)
    if "task" in answer:
        return snapshot_of(answer["task"])
    return answer


async def get_2025(session: ClientSession, task_id: str) -> TaskSnapshot:
    got = await session.send_request(GetTaskRequest(params=GetTaskRequestParams(task_id=task_id)), GetTaskResult)
    return snapshot_of(got.model_dump(mode="json", by_alias=True, exclude_none=True))


async def result_2025(session: ClientSession, task_id: str) -> CallToolResult:
    """tasks/result: held open by the server until the task ends (questions come on its stream meanwhile); then
    what tools/call would have answered. A CallToolResult model keeps the payload, which GetTaskPayloadResult drops."""
    return await session.send_request(
        GetTaskPayloadRequest(params=GetTaskPayloadRequestParams(task_id=task_id)), CallToolResult
    )


async def cancel_2025(session: ClientSession, task_id: str) -> None:
    await session.send_request(CancelTaskRequest(params=CancelTaskRequestParams(task_id=task_id)), CancelTaskResult)


async def list_2025(session: ClientSession, pages: int = 20) -> list[TaskSnapshot]:
    tasks: list[TaskSnapshot] = []
    cursor: str | None = None
    for _ in range(pages):
        page = await session.send_request(
            ListTasksRequest(params=PaginatedRequestParams(cursor=cursor)), ListTasksResult
        )
        for task in page.tasks:
            try:
                tasks.append(snapshot_of(task.model_dump(mode="json", by_alias=True, exclude_none=True)))
            except TaskProtocolError:
                continue  # one odd task does not hide the others
        cursor = page.next_cursor
        if not cursor:
            break
    return tasks


# ---- 2026-07-28 -------------------------------------------------------------------------------------------------


class _Loose(Result):
    model_config = ConfigDict(extra="allow")


class CreatedTask(_Loose):
    """`{"resultType": "task", "taskId", "status", ...}`: the claim on a tools/call answer (fields flat)."""

    result_type: Literal["task"] = "task"


class TaskIdParams(RequestParams):
    task_id: str


class UpdateTaskParams(TaskIdParams):
    input_responses: dict[str, Any]


class GetTask(Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: TaskIdParams
    name_param = "taskId"  # mirrored into the Mcp-Name header


class UpdateTask(Request[UpdateTaskParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"
    params: UpdateTaskParams
    name_param = "taskId"


class CancelTask(Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    params: TaskIdParams
    name_param = "taskId"


class TaskCreated(Exception):
    """Raised out of `Client.call_tool` when the server answers a call with a task (2026-07-28)."""

    def __init__(self, task: TaskSnapshot) -> None:
        super().__init__(task.id)
        self.task = task


class TasksExtension(ClientExtension):
    """Declares `io.modelcontextprotocol/tasks` on a 2026-07-28 connection, and takes a task answer out of
    `Client.call_tool` as `TaskCreated`: the job owns the task from there (polling, questions, cancel, re-attach)."""

    identifier = TASKS_EXTENSION

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=_hand_over)]


async def _hand_over(created: CreatedTask, ctx: ClaimContext) -> CallToolResult:
    raise TaskCreated(snapshot_of(created.model_dump(mode="json", by_alias=True, exclude_none=True)))


async def get_2026(session: ClientSession, task_id: str) -> TaskSnapshot:
    got = await session.send_request(GetTask(params=TaskIdParams(task_id=task_id)), _Loose)
    return snapshot_of(got.model_dump(mode="json", by_alias=True, exclude_none=True))


async def update_2026(session: ClientSession, task_id: str, responses: dict[str, Any]) -> None:
    params = UpdateTaskParams(task_id=task_id, input_responses=responses)
    await session.send_request(UpdateTask(params=params), EmptyResult)


async def cancel_2026(session: ClientSession, task_id: str) -> None:
    await session.send_request(CancelTask(params=TaskIdParams(task_id=task_id)), EmptyResult)


_INPUT_REQUEST: TypeAdapter[InputRequest] = TypeAdapter(InputRequest)


async def dispatch_input(session: ClientSession, key: str, raw: Any) -> dict[str, Any] | None:
    """One of a 2026 task's input requests, through the session's own callbacks (our elicitation callback asks a
    person; sampling and roots are refused): the response to send with tasks/update, or None when it was refused
    (nothing is sent for it)."""
    try:
        request = _INPUT_REQUEST.validate_python(raw, by_name=False)
    except ValidationError:
        return None
    ctx = ClientRequestContext(session=session, request_id=key, meta=request.params.meta if request.params else None)
    outcome = await session.dispatch_input_request(ctx, request)
    if isinstance(outcome, ErrorData):
        return None
    dumped: dict[str, Any] = outcome.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"result_type"})
    return dumped
