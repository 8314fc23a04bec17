"""A job's connection to its server: open it, call the tool (plainly or as a task), speak to its task, and go back
to a task from a new connection after a restart. Also the probe that describes a server.

One connection per job: MCP log notifications carry no request id, so a connection of its own is what makes every
line attributable to its job. Its messages pass the tap first (see `tap`).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from mcp import Client, MCPDeprecationWarning, MCPError
from mcp.client.session import ClientSession
from mcp.types import (
    CONNECTION_CLOSED,
    CallToolResult,
    Implementation,
    InitializeResult,
    ServerCapabilities,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from webapp.events import LogLevel, clean_data, clean_text
from webapp.mcp_link import task_wire
from webapp.mcp_link.asking import Asker, Declines, elicitation_callback
from webapp.mcp_link.tap import NotificationSink, Tap, tapped
from webapp.mcp_link.targets import CLIENT_INFO, HttpSession, HttpTarget, SignInWatch, Target, ignore, scrub
from webapp.mcp_link.task_wire import TaskCreated, TaskProtocolError, TasksExtension, TaskSnapshot

log = logging.getLogger(__name__)
T = TypeVar("T")
PROBE_TIMEOUT = 5.0  # seconds for a status check: connect, handshake, list tools
# JSON-RPC codes a server answers about a task it no longer knows: not found (-32602), and on 2025 a session the
# server has forgotten (-32600 "Session not found" from Python servers; an id-less 400 that the SDK reports as
# -32603, or -32000, from others).
TASK_NOT_FOUND = -32602
SESSION_GONE = (-32600, -32603, -32000)


class LinkError(Exception):
    """The MCP server could not be reached, or the call failed at the protocol level. `code`: the JSON-RPC error
    code, when the server answered with one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SignInNeeded(LinkError):
    """The server refused the dashboard's token, or its lack of one (401, or 403 insufficient_scope): a person must
    sign in (again) before the dashboard can talk to it."""


def failure(message: str, ended: Callable[[], str | None], code: int | None = None) -> LinkError:
    """The error to raise for a failed connection: SignInNeeded when the server refused the token."""
    why = ended()
    if isinstance(ended, SignInWatch) and why is not None:
        return SignInNeeded(f"{why} ({message})", code)
    return LinkError(_and_why(message, why), code)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    task_support: str | None = None  # 2025-11-25's execution.taskSupport: required, optional or forbidden


@dataclass(frozen=True, slots=True)
class ServerDescription:
    name: str
    version: str
    protocol_version: str
    tools: tuple[ToolSpec, ...]
    capabilities: dict[str, Any] = field(default_factory=dict)  # as the server declared them

    @property
    def runs_tools_as_tasks(self) -> bool:
        """2025-11-25: the server takes tools/call as a task (`tasks.requests.tools.call`). On 2026-07-28 the server
        alone decides, call by call."""
        requests = (self.capabilities.get("tasks") or {}).get("requests") or {}
        return isinstance(requests, dict) and isinstance(requests.get("tools"), dict) and "call" in requests["tools"]


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    is_error: bool
    result: dict[str, Any]  # the CallToolResult as JSON (content, structuredContent, isError)
    text: str  # the text content blocks joined: the error message when is_error


def outcome_of(result: CallToolResult | dict[str, Any]) -> ToolOutcome:
    """A tool's outcome from its CallToolResult (or its JSON); TaskProtocolError when it is none."""
    if isinstance(result, dict):
        try:
            result = CallToolResult.model_validate(result, by_name=False)
        except ValueError as exc:
            raise TaskProtocolError(f"the task's result is not a tool's result: {describe_error(exc)}") from exc
    text = "\n".join(block.text for block in result.content if block.type == "text")
    as_json = result.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"result_type", "meta"})
    return ToolOutcome(is_error=result.is_error, result=clean_data(as_json), text=clean_text(text))


class Link:
    """An open connection to the server, for one job."""

    def __init__(self, session: ClientSession, tap: Tap, http: HttpSession, client: Client | None = None) -> None:
        self.session = session
        self._client = client  # None on a connection back to a 2025 session (re-attached): it makes no call
        self._tap = tap
        self._http = http

    @property
    def protocol_version(self) -> str:
        return self.session.protocol_version or ""

    @property
    def modern(self) -> bool:
        return self.protocol_version in MODERN_PROTOCOL_VERSIONS

    @property
    def session_id(self) -> str | None:
        """The 2025 streamable HTTP session this connection speaks in (what a task made in it belongs to)."""
        return None if self.modern else self._http.id

    @property
    def offers_a_channel_outside_calls(self) -> bool:
        """Whether the server may speak on this session between calls: 2025-era sessions have a stream for that
        (the standalone GET stream, or SSE's one stream); 2026-07-28 has none."""
        return not self.modern

    async def ping(self) -> None:
        """Raise LinkError when the server does not answer: the session is gone."""
        try:
            with anyio.fail_after(PROBE_TIMEOUT):
                await self.session.send_ping()
        except Exception as exc:
            raise LinkError(f"the server stopped answering: {describe_error(exc)}") from exc

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call the tool and wait for its outcome (a task made of it instead is the server's fault here)."""
        outcome = await self.start(name, arguments)
        if isinstance(outcome, TaskSnapshot):
            raise LinkError(f"the server made the call a task ({outcome.id}) where a plain answer was expected")
        return outcome

    async def start(
        self, name: str, arguments: dict[str, Any], *, as_task: bool = False, ttl_ms: int = 3_600_000
    ) -> ToolOutcome | TaskSnapshot:
        """Call the tool: its outcome, or the task it runs as. `as_task` asks for one on 2025-11-25; on 2026-07-28
        the server decides (the tasks extension is declared on every request of a connection with an asker)."""
        assert self._client is not None, "a re-attached connection makes no call"
        try:
            if as_task and not self.modern:
                answer = await self._tap.raw.call(
                    "tools/call", task_wire.task_call_params(name, arguments, ttl_ms, self._tap.token)
                )
                created = task_wire.created_2025(answer)
                return created if isinstance(created, TaskSnapshot) else outcome_of(created)
            # Our own progress token: the server sends progress only for a request that carries one.
            result = await self._client.call_tool(name, arguments, meta={"progress_token": self._tap.token})
        except TaskCreated as created:
            return created.task
        except TaskProtocolError as exc:
            raise LinkError(f"the call failed: {exc}") from exc
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                raise LinkError(f"lost the connection to the MCP server during the call ({exc.message})") from exc
            raise LinkError(f"the call failed: {describe_error(exc)}", exc.code) from exc
        except Exception as exc:  # e.g. a result that does not parse: the server's fault too
            raise LinkError(f"the call failed: {describe_error(exc)}") from exc
        return outcome_of(result)

    # -- The job's task -------------------------------------------------------------------------------------

    async def get_task(self, task_id: str) -> TaskSnapshot:
        get = task_wire.get_2026 if self.modern else task_wire.get_2025
        return await self._speak("tasks/get", get(self.session, task_id))

    async def task_result(self, task_id: str) -> ToolOutcome:
        """2025-11-25: the task's outcome, once it ends (questions arrive on this request's stream meanwhile)."""
        return outcome_of(await self._speak("tasks/result", task_wire.result_2025(self.session, task_id)))

    async def answer_input(self, key: str, request: Any) -> dict[str, Any] | None:
        """2026-07-28: one of the task's input requests, through our callbacks (a question goes to a person): the
        response for tasks/update, or None when it was refused."""
        return await task_wire.dispatch_input(self.session, key, request)

    async def update_task(self, task_id: str, responses: dict[str, Any]) -> None:
        await self._speak("tasks/update", task_wire.update_2026(self.session, task_id, responses))

    async def cancel_task(self, task_id: str) -> None:
        cancel = task_wire.cancel_2026 if self.modern else task_wire.cancel_2025
        await self._speak("tasks/cancel", cancel(self.session, task_id))

    async def list_tasks(self) -> list[TaskSnapshot]:
        """2025-11-25: the tasks this session may see (a server may keep them per session)."""
        return await self._speak("tasks/list", task_wire.list_2025(self.session))

    async def _speak(self, method: str, request: Awaitable[T]) -> T:
        """`request`'s answer; LinkError when the server or the connection failed. TaskProtocolError (what the
        server said is no task) goes through as it is: no new connection would mend it."""
        try:
            return await request
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                raise LinkError(f"lost the connection to the MCP server ({exc.message})", exc.code) from exc
            raise LinkError(f"{method} failed: {describe_error(exc)}", exc.code) from exc
        except (TimeoutError, OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise LinkError(f"{method} failed: {describe_error(exc)}") from exc


@contextlib.asynccontextmanager
async def open_link(
    target: Target,
    sink: NotificationSink,
    token: str,
    log_level: LogLevel = "debug",
    on_tools_changed: Callable[[], None] | None = None,
    asker: Asker | None = None,
    keep_session: bool = False,
) -> AsyncIterator[Link]:
    """Connect to the server and relay its notifications to `sink` until the block ends.

    `token` is the progress token of the job's call; `log_level` the least severe level asked for;
    `on_tools_changed` is told when the server says its tools changed. With `asker`, the connection takes
    questions for a person (the elicitation capability) and tasks (the tasks extension, on 2026-07-28); with
    `keep_session`, a 2025 session outlives the connection (no DELETE: its tasks stay reachable). Cancel a call
    with a cancel scope around `Link.call_tool`, inside this block: that is what tells the server
    (notifications/cancelled, or closing the request stream on 2026-07-28). A scope around the whole block would
    close the connection before the server hears of it.
    """
    tap = Tap(sink, token, on_tools_changed)
    http = HttpSession(keep=keep_session)
    transport, ended = target.connect(sink.stderr, http)
    client: Client | None = None
    options: dict[str, Any] = {}
    if asker is not None:
        options = _asking(asker, lambda: client is not None and client.protocol_version in MODERN_PROTOCOL_VERSIONS)
    client = target.client(
        tapped(transport, tap),
        # Without a log level, 2026-07-28 servers send no log notifications at all.
        log_level=log_level,
        # No response cache: one call per connection has nothing to reuse.
        cache=None,
        **options,
    )
    async with _explained(target, ended) as failures, client:
        failures.connected = True
        await ask_for_level(client, log_level)
        try:
            yield Link(client.session, tap, http, client)
        except LinkError as exc:
            raise failures.of_call(exc) from exc


def _asking(asker: Asker, modern: Callable[[], bool]) -> dict[str, Any]:
    """The client options of a connection that takes questions for a person and tasks."""
    return {"elicitation_callback": elicitation_callback(asker, modern), "extensions": [TasksExtension()]}


@contextlib.asynccontextmanager
async def open_session_link(
    target: HttpTarget,
    sink: NotificationSink,
    token: str,
    session_id: str,
    revision: str,
    asker: Asker | None = None,
) -> AsyncIterator[Link]:
    """A connection back to a 2025 streamable HTTP session the server made before (after a restart): no
    `initialize`, the saved `Mcp-Session-Id` on every request, and the session left open at the end. Its tasks are
    spoken to by polling: such a connection has no stream for notifications outside requests."""
    tap = Tap(sink, token, None)
    http = HttpSession(session_id, keep=True)
    transport, ended = target.connect(sink.stderr, http)
    callback = None if asker is None else elicitation_callback(asker, lambda: False)
    async with (
        _explained(target, ended) as failures,
        tapped(transport, tap) as (read, write),
        ClientSession(read, write, client_info=CLIENT_INFO, elicitation_callback=callback) as session,
    ):
        failures.connected = True
        session.adopt(
            InitializeResult(
                protocol_version=revision,
                capabilities=ServerCapabilities(),
                server_info=Implementation(name="(a session made before)", version=""),
            )
        )
        try:
            yield Link(session, tap, http)
        except LinkError as exc:
            raise failures.of_call(exc) from exc


class _Failures:
    """What went wrong with one connection, as a person can act on it."""

    def __init__(self, ended: Callable[[], str | None]) -> None:
        self.ended = ended
        self.connected = False
        self.call_error: LinkError | None = None

    def of_call(self, exc: LinkError) -> LinkError:
        """A request's failure, with what is known of how the server ended (a process's exit status)."""
        self.call_error = failure(str(exc), self.ended, exc.code)
        return self.call_error


@contextlib.asynccontextmanager
async def _explained(target: Target, ended: Callable[[], str | None]) -> AsyncIterator[_Failures]:
    failures = _Failures(ended)
    try:
        yield failures
    except Exception as exc:
        if failures.call_error is not None:
            # Leaving a client whose server died raises too; the request's own error says more.
            raise failures.call_error from None
        if isinstance(exc, LinkError):
            raise
        what = "lost the connection to" if failures.connected else "cannot reach"
        message = f"{what} the MCP server at {target.where}: {scrub(describe_error(exc), target.secrets)}"
        raise failure(message, ended) from exc


def _and_why(message: str, why: str | None) -> str:
    return f"{message}; {why}" if why else message


async def ask_for_level(client: Client, level: LogLevel) -> None:
    """On a 2025-era session, where requests carry no level, ask for it with `logging/setLevel`, if the server
    offers logging. A server that ignores it, or refuses, sends what it sends: every line is kept anyway."""
    if client.protocol_version in MODERN_PROTOCOL_VERSIONS or client.server_capabilities.logging is None:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)  # deprecated in 2026-07-28 only
            await client.set_logging_level(level)
    except MCPError as exc:
        log.info("the server refused logging/setLevel %s: %s", level, exc.message)


async def describe_server(target: Target) -> ServerDescription:
    """Connect, read the server's identity, capabilities and tools, and disconnect. The probe declares what a
    job's connection declares: servers offer some tools only to clients that can answer questions."""
    transport, ended = target.connect(ignore)  # a probe's stderr is no job's: it is quoted only on a failure
    try:
        with anyio.fail_after(PROBE_TIMEOUT):
            async with target.client(transport, **_asking(Declines(), lambda: False)) as client:
                tools: list[ToolSpec] = []
                cursor: str | None = None
                while True:
                    page = await client.list_tools(cursor=cursor)
                    tools += [
                        ToolSpec(
                            t.name,
                            t.description or "",
                            dict(t.input_schema),
                            t.execution.task_support if t.execution is not None else None,
                        )
                        for t in page.tools
                    ]
                    cursor = page.next_cursor
                    if not cursor:
                        break
                info = client.server_info
                return ServerDescription(
                    name=info.name if info else "(unnamed server)",
                    version=info.version if info else "",
                    protocol_version=client.protocol_version,
                    tools=tuple(tools),
                    capabilities=clean_data(
                        client.server_capabilities.model_dump(mode="json", by_alias=True, exclude_none=True)
                    ),
                )
    except Exception as exc:
        message = f"cannot reach the MCP server at {target.where}: {scrub(describe_error(exc), target.secrets)}"
        raise failure(message, ended) from exc


def describe_error(exc: BaseException) -> str:
    """A one-line reason a person can act on, from the innermost error of a (possibly grouped) failure."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, MCPError):
        return f"MCP error {exc.code}: {exc.message}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
