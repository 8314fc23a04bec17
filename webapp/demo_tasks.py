"""MCP Tasks in the bundled demo server, on both protocol revisions (issue 16).

A tool named in `TaskTools` runs as a task when the client asks for one:
- 2025-11-25 (tasks in the core protocol): `LegacyTasksMiddleware` adds `capabilities.tasks` and
  `execution.taskSupport`, and answers a `tools/call` with `params.task` by a CreateTaskResult. MCPServer has no
  hook for the first two, and a tools/call handler's result is sieved through the 2025 CallToolResult surface,
  which has no `task`: only a middleware that stops the chain can answer with one.
- 2026-07-28 (the `io.modelcontextprotocol/tasks` extension): `TasksExtension.intercept_tool_call` answers
  `resultType: "task"` when the request declares the extension.
`TasksExtension` also serves the tasks/* methods of both revisions. The server's handler table is keyed by method
alone, so each handler branches on the request's revision; a task keeps the shapes of the revision that made it.

Tasks belong to the process (`TaskStore`, run by whoever serves: the app's lifespan), not to a session: a task's
work runs in the store's task group, not in the request that started it, and any new connection can re-attach by
id. The wire shapes and error codes follow what the research for issue 16 saw (see the project's notes on MCP
Tasks).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, cast

import anyio
import anyio.abc
from mcp import MCPError, types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    Context,
    DeclinedElicitation,
    ElicitationResult,
    Extension,
    MethodBinding,
    require_client_extension,
)
from mcp.server.session import ServerSession
from mcp.shared.message import ServerMessageMetadata
from mcp.types import CONNECTION_CLOSED, INTERNAL_ERROR, INVALID_PARAMS, METHOD_NOT_FOUND, LoggingLevel
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field, ValidationError

log = logging.getLogger(__name__)

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
RELATED_TASK = "io.modelcontextprotocol/related-task"
TASKS_CAPABILITY: dict[str, Any] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
LEGACY = frozenset(HANDSHAKE_PROTOCOL_VERSIONS)
MODERN = frozenset(MODERN_PROTOCOL_VERSIONS)
TERMINAL = frozenset({"completed", "failed", "cancelled"})
DEFAULT_TTL_MS = 10 * 60 * 1000
MIN_TTL_MS = 1000
MAX_TTL_MS = 60 * 60 * 1000
POLL_INTERVAL_MS = 500
NOT_FOUND = "Failed to retrieve task: Task not found"

Model = TypeVar("Model", bound=BaseModel)


class Reporter(Protocol):
    """What a tool's work may do while it runs, whether it runs as a plain call or as a task."""

    async def log(self, level: LoggingLevel, data: Any) -> None: ...

    async def progress(self, done: float, total: float, message: str) -> None: ...

    async def ask(self, message: str, schema: type[Model]) -> ElicitationResult[Model]: ...


Work = Callable[[Reporter], Awaitable[types.CallToolResult]]
TaskTools = Mapping[str, Callable[[dict[str, Any] | None], Work]]
"""The tools that may run as a task: each name gives the work for a call's arguments (MCPError -32602 if they are
wrong). Every other tool is `taskSupport: "forbidden"`."""


def parse_arguments(model: type[Model], tool: str, arguments: dict[str, Any] | None) -> Model:
    """A task call's arguments, checked as MCPServer checks a plain call's, but as a JSON-RPC error: a task that
    cannot start is not a task that failed."""
    try:
        return model.model_validate(arguments or {})
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "arguments"
        raise MCPError(
            code=INVALID_PARAMS, message=f"Invalid arguments for {tool}: {where}: {problem['msg']}"
        ) from None


def clamp_ttl(requested_ms: int | None, default_ms: int) -> int:
    """The client's ttl within 1 s .. 1 h; none asked: the server's default."""
    if requested_ms is None:
        return default_ms
    return max(MIN_TTL_MS, min(requested_ms, MAX_TTL_MS))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def can_elicit(ctx: ServerRequestContext[Any, Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.elicitation is not None)


def declares_tasks_extension(ctx: ServerRequestContext[Any, Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.extensions and TASKS_EXTENSION in capabilities.extensions)


# ---------------------------------------------------------------------------------------------- one task


@dataclass(eq=False)
class Question(Generic[Model]):
    """A question a task's work waits on, until someone answers it (the first answer wins)."""

    key: str  # unique for the task's life: a client never answers one twice
    message: str
    schema: type[Model]
    answered: anyio.Event = field(default_factory=anyio.Event)
    outcome: ElicitationResult[Model] | None = None

    def params(self, task_id: str | None = None) -> types.ElicitRequestFormParams:
        meta = {RELATED_TASK: {"taskId": task_id}} if task_id else None
        return types.ElicitRequestFormParams(
            message=self.message, requested_schema=render_elicitation_schema(self.schema), _meta=meta
        )

    def as_input_request(self) -> dict[str, Any]:
        """2026: an `inputRequests` entry."""
        params = self.params().model_dump(by_alias=True, mode="json", exclude_none=True)
        return {"method": "elicitation/create", "params": params}

    def check(self, answer: types.ElicitResult) -> ElicitationResult[Model]:
        """The answer as the work sees it; MCPError -32602 if an accepted answer does not match the schema."""
        if answer.action == "decline":
            return DeclinedElicitation()
        if answer.action == "cancel":
            return CancelledElicitation()
        try:
            return AcceptedElicitation(data=self.schema.model_validate(answer.content or {}))
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            raise MCPError(
                code=INVALID_PARAMS, message=f"The answer to {self.key} does not match the requested schema: {reason}"
            ) from None

    def settle(self, outcome: ElicitationResult[Model]) -> None:
        if not self.answered.is_set():
            self.outcome = outcome
            self.answered.set()


@dataclass(eq=False)
class Task:
    """One task: its state, its outcome, its questions, and (2025) where its notifications go."""

    id: str
    modern: bool  # made on 2026-07-28 (the extension's shapes) or on 2025-11-25 (the core shapes)
    ttl_ms: int
    deadline: float  # anyio clock: past it, the task is forgotten and its work stopped
    progress_token: str | int | None  # 2025: the tools/call's token, kept for the task's progress
    can_ask: bool  # the client that made it declared the elicitation capability
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: types.TaskStatus = "working"
    status_message: str | None = "started"
    last_updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    result: types.CallToolResult | None = None
    error: types.ErrorData | None = None
    questions: dict[str, Question[Any]] = field(default_factory=dict)
    gone: bool = False  # past its TTL: forgotten
    changed: anyio.Event = field(default_factory=anyio.Event)  # replaced on every change: wait on the one you read
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)  # its work's: tasks/cancel cancels it
    # 2025 only: a notification sent on a request's stream after the request was answered is dropped by the SDK
    # without a word, so a task's notifications go to an open tasks/result stream of the task (the latest), else to
    # the standalone stream of the last session that touched the task.
    listeners: list[tuple[ServerSession, types.RequestId]] = field(default_factory=list)
    last_session: ServerSession | None = None

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL or self.gone

    def open_questions(self) -> list[Question[Any]]:
        return [q for q in self.questions.values() if not q.answered.is_set()]

    def touch(self, status: types.TaskStatus | None = None, message: str | None = None) -> None:
        if status is not None:
            self.status = status
        if message is not None:
            self.status_message = message
        self.last_updated_at = datetime.now(UTC)
        self.changed.set()
        self.changed = anyio.Event()

    async def update(self, status: types.TaskStatus | None = None, message: str | None = None) -> None:
        """Change the task, then tell a 2025 client (notifications/tasks/status)."""
        self.touch(status, message)
        await self.notify(types.TaskStatusNotification(params=types.TaskStatusNotificationParams(**self._task())))

    async def notify(self, notification: types.ServerNotification | types.TaskStatusNotification) -> None:
        """2025 only: 2026 carries no notifications for tasks (statusMessage is their progress)."""
        if self.modern:
            return
        # TaskStatusNotification is a 2025 type the SDK keeps out of its unions; the session only serializes it.
        message = cast(types.ServerNotification, notification)
        try:
            if self.listeners:
                session, request_id = self.listeners[-1]
                await session.send_notification(message, related_request_id=request_id)
            elif self.last_session is not None:
                await self.last_session.send_notification(message)
        except Exception:  # the listener has gone: the task goes on, and tasks/get still tells
            log.debug("dropped %s of task %s", notification.method, self.id, exc_info=True)

    def related(self) -> dict[str, Any]:
        return {RELATED_TASK: {"taskId": self.id}}

    def _task(self) -> dict[str, Any]:
        return {
            "task_id": self.id,
            "status": self.status,
            "status_message": self.status_message,
            "created_at": iso(self.created_at),
            "last_updated_at": iso(self.last_updated_at),
            "ttl": self.ttl_ms,
            "poll_interval": POLL_INTERVAL_MS,
        }

    def as_2025(self) -> dict[str, Any]:
        return types.Task(**self._task()).model_dump(by_alias=True, mode="json", exclude_none=True)

    def as_2026(self, *, detailed: bool) -> dict[str, Any]:
        """The task as 2026 shows it: fields flat; with `detailed` (tasks/get), its result, error or questions."""
        shape: dict[str, Any] = {
            "taskId": self.id,
            "status": self.status,
            "createdAt": iso(self.created_at),
            "lastUpdatedAt": iso(self.last_updated_at),
            "ttlMs": self.ttl_ms,
            "pollIntervalMs": POLL_INTERVAL_MS,
        }
        if self.status_message is not None:
            shape["statusMessage"] = self.status_message
        if detailed:
            if self.status == "input_required":
                shape["inputRequests"] = {q.key: q.as_input_request() for q in self.open_questions()}
            elif self.status == "completed" and self.result is not None:
                shape["result"] = dump_result(self.result)
            elif self.status == "failed" and self.error is not None:
                shape["error"] = self.error.model_dump(mode="json", exclude_none=True)
        return shape


def dump_result(result: types.CallToolResult) -> dict[str, Any]:
    return result.model_dump(by_alias=True, mode="json", exclude_none=True, exclude={"result_type"})


class TaskReporter:
    """A task's work reports through its task: logs and progress as 2025 notifications, progress also as the
    task's statusMessage (the one thing a 2026 client sees), and questions kept for whoever asks."""

    def __init__(self, task: Task) -> None:
        self.task = task

    async def log(self, level: LoggingLevel, data: Any) -> None:
        params = types.LoggingMessageNotificationParams(
            level=level, logger="demo.task", data=data, _meta=self.task.related()
        )
        await self.task.notify(types.LoggingMessageNotification(params=params))

    async def progress(self, done: float, total: float, message: str) -> None:
        if self.task.progress_token is not None:
            params = types.ProgressNotificationParams(
                progress_token=self.task.progress_token,
                progress=done,
                total=total,
                message=message,
                _meta=self.task.related(),
            )
            await self.task.notify(types.ProgressNotification(params=params))
        await self.task.update(message=message)

    async def ask(self, message: str, schema: type[Model]) -> ElicitationResult[Model]:
        task = self.task
        if not task.can_ask:
            await self.log("warning", "the client cannot answer questions (no elicitation capability): declined")
            return DeclinedElicitation()
        question = Question(key=f"q{len(task.questions) + 1}", message=message, schema=schema)
        task.questions[question.key] = question
        await task.update("input_required", f"waiting for an answer: {message}")
        await question.answered.wait()  # no timeout: a person may take minutes (the TTL still applies)
        await task.update("working", "answer received")
        assert question.outcome is not None
        return question.outcome


class CallReporter:
    """The same reports for a plain call (no task): its progress token, its request's stream, `ctx.elicit`."""

    def __init__(self, ctx: Context, log: Callable[[LoggingLevel, Any], Awaitable[None]]) -> None:
        self.ctx = ctx
        self._log = log

    async def log(self, level: LoggingLevel, data: Any) -> None:
        await self._log(level, data)

    async def progress(self, done: float, total: float, message: str) -> None:
        await self.ctx.report_progress(done, total=total, message=message)

    async def ask(self, message: str, schema: type[Model]) -> ElicitationResult[Model]:
        if not can_elicit(self.ctx.request_context):
            await self.log("warning", "the client cannot answer questions (no elicitation capability): declined")
            return DeclinedElicitation()
        try:
            return await self.ctx.elicit(message, schema=schema)
        except (MCPError, ValueError) as exc:  # 2026: no back channel outside a task; or a refusal, a bad answer
            await self.log("warning", f"the question got no answer ({exc}): declined")
            return DeclinedElicitation()


# ---------------------------------------------------------------------------------------------- the process's tasks


@dataclass
class TaskCounts:
    """Served in GET /stats: lets a test see that a task ran once, and that a cancel reached the server."""

    started: int = 0
    finished: int = 0  # completed or failed
    cancelled: int = 0  # by tasks/cancel
    expired: int = 0  # past their TTL before they ended: their work was stopped


class TaskStore:
    """Every task of the process, by unguessable id. `running()` must be entered by whoever serves (the app's
    lifespan): the tasks' work runs in its task group, and ends with it."""

    def __init__(self, default_ttl_ms: int = DEFAULT_TTL_MS) -> None:
        self.default_ttl_ms = clamp_ttl(default_ttl_ms, DEFAULT_TTL_MS)
        self.counts = TaskCounts()
        self._tasks: dict[str, Task] = {}
        self._group: anyio.abc.TaskGroup | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                group.cancel_scope.cancel()

    def find(self, task_id: str) -> Task:
        task = self._tasks.get(task_id)
        if task is None or task.gone or anyio.current_time() >= task.deadline:
            raise MCPError(code=INVALID_PARAMS, message=NOT_FOUND)
        return task

    def legacy_tasks(self) -> list[Task]:
        """Every live 2025 task of the process. The demo has no auth context to scope them by."""
        now = anyio.current_time()
        return [t for t in self._tasks.values() if not t.modern and not t.gone and now < t.deadline]

    def start(
        self,
        work: Work,
        *,
        modern: bool,
        ttl_ms: int | None,
        can_ask: bool,
        progress_token: str | int | None = None,
        session: ServerSession | None = None,
    ) -> Task:
        if self._group is None:
            raise MCPError(code=INTERNAL_ERROR, message="This server process runs no tasks")
        ttl = clamp_ttl(ttl_ms, self.default_ttl_ms)
        task = Task(
            id=secrets.token_urlsafe(24),  # a bearer-like handle: whoever holds it may re-attach
            modern=modern,
            ttl_ms=ttl,
            deadline=anyio.current_time() + ttl / 1000,
            progress_token=progress_token,
            can_ask=can_ask,
            last_session=session,
        )
        self._tasks[task.id] = task  # findable before the CreateTaskResult goes out
        self.counts.started += 1
        self._group.start_soon(self._keep, task, work)
        return task

    async def cancel(self, task: Task) -> None:
        task.scope.cancel()
        self.counts.cancelled += 1
        await task.update("cancelled", "cancelled by the client")

    async def _keep(self, task: Task, work: Work) -> None:
        """Run the work, then keep its outcome until the TTL ends; past it, stop the work and forget the task."""
        with anyio.CancelScope(deadline=task.deadline):
            await self._run(task, work)
            await anyio.sleep_forever()
        if not task.ended:
            self.counts.expired += 1
        del self._tasks[task.id]
        task.gone = True
        task.touch()  # wakes a waiting tasks/result: the task is not found any more

    async def _run(self, task: Task, work: Work) -> None:
        with task.scope:
            try:
                result = await work(TaskReporter(task))
            except MCPError as exc:
                task.error = exc.error
                ending: types.TaskStatus = "failed"
                message = exc.error.message
            except Exception as exc:  # a bug in the work: the task fails with an internal error, the server goes on
                log.exception("task %s failed", task.id)
                task.error = types.ErrorData(code=INTERNAL_ERROR, message=f"The tool failed: {exc}")
                ending, message = "failed", task.error.message
            else:
                task.result = result
                # An isError result: `failed` on 2025 (the TypeScript SDK's habit), `completed` on 2026 (its spec).
                ending = "failed" if result.is_error and not task.modern else "completed"
                message = next((c.text for c in result.content if isinstance(c, types.TextContent)), ending)
            self.counts.finished += 1
            await task.update(ending, message)


# ---------------------------------------------------------------------------------------------- the wire


class TaskIdParams(types.RequestParams):
    task_id: str = Field(max_length=256)  # wire name taskId


class UpdateTaskParams(TaskIdParams):
    input_responses: dict[str, dict[str, Any]]


class TasksExtension(Extension):
    """2026-07-28: answer tools/call as a task, and tasks/get, tasks/update, tasks/cancel. Also the 2025 tasks/*
    methods: tasks/get, tasks/result, tasks/list, tasks/cancel."""

    identifier = TASKS_EXTENSION

    def __init__(self, store: TaskStore, tools: TaskTools) -> None:
        self.store = store
        self.task_tools = tools

    async def intercept_tool_call(
        self, params: types.CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.protocol_version in MODERN and params.name in self.task_tools and declares_tasks_extension(ctx):
            work = self.task_tools[params.name](params.arguments)
            task = self.store.start(work, modern=True, ttl_ms=None, can_ask=can_elicit(ctx))
            return {"resultType": "task", **task.as_2026(detailed=False)}
        return await call_next(ctx)

    def methods(self) -> list[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskIdParams, self.get),
            MethodBinding("tasks/cancel", TaskIdParams, self.cancel),
            MethodBinding("tasks/result", TaskIdParams, self.result, protocol_versions=LEGACY),
            MethodBinding("tasks/list", types.PaginatedRequestParams, self.list, protocol_versions=LEGACY),
            MethodBinding("tasks/update", UpdateTaskParams, self.update, protocol_versions=MODERN),
        ]

    def _find(self, ctx: ServerRequestContext[Any, Any], task_id: str) -> Task:
        modern = ctx.protocol_version in MODERN
        if modern:
            require_client_extension(ctx, TASKS_EXTENSION)
        task = self.store.find(task_id)
        if task.modern != modern:  # a task keeps the shapes of the revision that made it
            raise MCPError(code=INVALID_PARAMS, message=NOT_FOUND)
        if not modern:
            task.last_session = ctx.session  # re-attached: its notifications follow the latest requester
        return task

    async def get(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        task = self._find(ctx, params.task_id)
        return {"resultType": "complete", **task.as_2026(detailed=True)} if task.modern else task.as_2025()

    async def cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        task = self._find(ctx, params.task_id)
        if task.status in TERMINAL:
            if task.modern:
                return {}  # 2026: an acknowledgement, whatever the task's state
            raise MCPError(code=INVALID_PARAMS, message=f"Cannot cancel task in terminal status: {task.status}")
        await self.store.cancel(task)
        return {} if task.modern else task.as_2025()

    async def list(self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams) -> dict[str, Any]:
        return {"tasks": [task.as_2025() for task in self.store.legacy_tasks()]}

    async def update(self, ctx: ServerRequestContext[Any, Any], params: UpdateTaskParams) -> dict[str, Any]:
        """2026: answers to `inputRequests`. Unknown or already answered keys are ignored (answers are eventually
        consistent: a poll may show a question again); a malformed answer is refused and its question stays open."""
        task = self._find(ctx, params.task_id)
        checked: list[tuple[Question[Any], ElicitationResult[Any]]] = []
        for key, raw in params.input_responses.items():
            question = task.questions.get(key)
            if question is None or question.answered.is_set():
                continue
            try:
                answer = types.ElicitResult.model_validate(raw, by_name=False)
            except ValidationError:
                raise MCPError(
                    code=INVALID_PARAMS, message=f"The answer to {key} is not an elicitation result"
                ) from None
            checked.append((question, question.check(answer)))
        for question, outcome in checked:
            question.settle(outcome)
        return {}

    async def result(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        """2025: hold the request until the task ends, and carry its questions on this request's stream.

        Every open tasks/result stream of the task gets each open question (the first answer wins), so a client
        that died with a question on its stream cannot leave the question stuck there."""
        task = self._find(ctx, params.task_id)
        assert ctx.request_id is not None
        listener = (ctx.session, ctx.request_id)
        task.listeners.append(listener)
        try:
            async with anyio.create_task_group() as group:
                asked: set[str] = set()
                while not task.ended:
                    changed = task.changed
                    for question in task.open_questions():
                        if question.key not in asked:
                            asked.add(question.key)
                            group.start_soon(self._ask_here, ctx, task, question)
                    await changed.wait()
                group.cancel_scope.cancel()
        finally:
            task.listeners.remove(listener)
        if task.gone:
            raise MCPError(code=INVALID_PARAMS, message=NOT_FOUND)
        if task.status == "cancelled":
            raise MCPError(code=INTERNAL_ERROR, message=f"Task {task.id} was cancelled", data=task.related())
        if task.error is not None:  # failed with a protocol error: tasks/result answers with that error
            raise MCPError(code=task.error.code, message=task.error.message, data=task.error.data)
        assert task.result is not None
        return {**dump_result(task.result), "_meta": task.related()}

    async def _ask_here(self, ctx: ServerRequestContext[Any, Any], task: Task, question: Question[Any]) -> None:
        """Ask `question` on this tasks/result stream; withdraw it once it is settled elsewhere or the task ends
        (the SDK then sends notifications/cancelled, which cancels the client's own prompt)."""
        async with anyio.create_task_group() as group:

            async def withdraw_when_settled() -> None:
                while True:
                    changed = task.changed
                    if question.answered.is_set() or task.ended:
                        break
                    await changed.wait()
                group.cancel_scope.cancel()

            group.start_soon(withdraw_when_settled)
            try:
                answer = await ctx.session.send_request(
                    types.ElicitRequest(params=question.params(task.id)),
                    types.ElicitResult,
                    metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
                )
                outcome = question.check(answer)
            except MCPError as exc:
                if exc.code == CONNECTION_CLOSED:
                    return  # the stream died: the question waits for the next tasks/result
                log.info("question %s of task %s: %s: declined", question.key, task.id, exc.error.message)
                outcome = DeclinedElicitation()  # refused by the client, or a malformed answer
            except ValidationError:
                log.info("question %s of task %s: a malformed answer: declined", question.key, task.id)
                outcome = DeclinedElicitation()
            finally:
                group.cancel_scope.cancel()
            question.settle(outcome)
            task.touch()


class LegacyTasksMiddleware:
    """2025-11-25: what MCPServer has no hook for. The `tasks` capability on initialize, `execution.taskSupport`
    on tools/list, and a tools/call with `params.task` answered by a CreateTaskResult (without calling the rest of
    the chain: its result would be sieved through the 2025 CallToolResult surface)."""

    def __init__(self, store: TaskStore, tools: TaskTools) -> None:
        self.store = store
        self.task_tools = tools

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "initialize":
            result = await call_next(ctx)
            if isinstance(result, dict):
                result.setdefault("capabilities", {})["tasks"] = TASKS_CAPABILITY
            return result
        if ctx.protocol_version not in LEGACY:
            return await call_next(ctx)
        if ctx.method == "tools/list":
            result = await call_next(ctx)
            for tool in result.get("tools", []) if isinstance(result, dict) else []:
                tool["execution"] = {"taskSupport": "optional" if tool.get("name") in self.task_tools else "forbidden"}
            return result
        if ctx.method == "tools/call" and isinstance((ctx.params or {}).get("task"), dict):
            return self._start(ctx)
        return await call_next(ctx)

    def _start(self, ctx: ServerRequestContext[Any, Any]) -> dict[str, Any]:
        try:
            params = types.CallToolRequestParams.model_validate(ctx.params, by_name=False)
        except ValidationError as exc:
            raise MCPError(code=INVALID_PARAMS, message=f"Invalid tools/call: {exc.errors()[0]['msg']}") from None
        if params.name not in self.task_tools:
            raise MCPError(code=METHOD_NOT_FOUND, message=f"Tool {params.name} does not support task augmentation")
        work = self.task_tools[params.name](params.arguments)
        assert params.task is not None
        task = self.store.start(
            work,
            modern=False,
            ttl_ms=params.task.ttl,
            can_ask=can_elicit(ctx),
            progress_token=params.meta.get("progress_token") if params.meta else None,
            session=ctx.session,
        )
        return {"task": task.as_2025()}
