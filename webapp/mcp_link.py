"""The dashboard's MCP client side: the only module that imports `mcp`.

One `Client` connection per job: MCP log notifications carry no request id, so a connection of its
own is what makes every line attributable to its job. Notifications are handed to a synchronous
sink the moment the SDK surfaces them: the SDK runs each callback in a task of its own, and an
await before recording would let later notifications overtake earlier ones.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anyio
from mcp import Client, MCPError
from mcp.client.session import IncomingMessage
from mcp.client.sse import sse_client
from mcp.types import CONNECTION_CLOSED, Implementation, LoggingMessageNotificationParams, ProgressNotification

from webapp import __version__

_CLIENT_INFO = Implementation(name="mcp-live", version=__version__)
PROBE_TIMEOUT = 5.0  # seconds for a status check: connect, handshake, list tools


ProtocolMode = Literal["auto", "legacy"]


@dataclass(frozen=True, slots=True)
class Target:
    """Where the server is, and how to greet it.

    `auto` tries the 2026-07-28 protocol first and falls back to the 2025 `initialize` handshake;
    `legacy` always uses the handshake (2025-era sessions), for servers that mishandle discovery.
    """

    url: str
    protocol: ProtocolMode = "auto"

    def client(self, **options: Any) -> Client:
        # A URL ending in /sse is the legacy HTTP+SSE transport; anything else is streamable HTTP.
        transport = sse_client(self.url) if self.url.rstrip("/").endswith("/sse") else self.url
        return Client(transport, mode=self.protocol, client_info=_CLIENT_INFO, **options)


class LinkError(Exception):
    """The MCP server could not be reached, or the call failed at the protocol level."""


class NotificationSink(Protocol):
    """Receives a job's notifications in arrival order. Both calls must not block or await."""

    def log(self, level: str, logger: str | None, data: Any) -> None: ...

    def progress(self, progress: float, total: float | None, message: str | None, *, late: bool = False) -> None:
        """`late`: it came after the server had answered the call."""


class _Relay:
    """Hands the SDK's callbacks to the sink, each before any await (see the module docstring).

    In-flight progress comes through the call's progress callback. Once the response is in, the SDK
    drops the call's callback and progress reaches only the message handler, which sees every
    progress notification. The SDK starts, for each one, the callback task (if any) before the
    handler task, and tasks start in order: so when the handler has seen more notifications than
    the callback, this one had no callback: it is late.
    """

    def __init__(self, sink: NotificationSink) -> None:
        self.sink = sink
        self._by_callback = 0
        self._by_handler = 0

    async def on_log(self, params: LoggingMessageNotificationParams) -> None:
        self.sink.log(params.level, params.logger, params.data)

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self._by_callback += 1
        self.sink.progress(progress, total, message)

    async def on_message(self, message: IncomingMessage) -> None:
        if isinstance(message, ProgressNotification):
            self._by_handler += 1
            if self._by_handler > self._by_callback:
                p = message.params
                self.sink.progress(p.progress, p.total, p.message, late=True)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ServerDescription:
    name: str
    version: str
    protocol_version: str
    tools: tuple[ToolSpec, ...]


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    is_error: bool
    result: dict[str, Any]  # the CallToolResult as JSON (content, structuredContent, isError)
    text: str  # the text content blocks joined: the error message when is_error


class Link:
    """An open connection to the server, for one job."""

    def __init__(self, client: Client, relay: _Relay) -> None:
        self._client = client
        self._relay = relay

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        try:
            # A progress callback makes the SDK send a progress token; without one the server sends no progress.
            result = await self._client.call_tool(name, arguments, progress_callback=self._relay.on_progress)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                raise LinkError(f"lost the connection to the MCP server during the call ({exc.message})") from exc
            raise LinkError(f"the call failed: {describe_error(exc)}") from exc
        except Exception as exc:  # e.g. a result that does not parse: the server's fault too
            raise LinkError(f"the call failed: {describe_error(exc)}") from exc
        text = "\n".join(block.text for block in result.content if block.type == "text")
        as_json = result.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"result_type", "meta"})
        return ToolOutcome(is_error=result.is_error, result=as_json, text=text)


@contextlib.asynccontextmanager
async def open_link(target: Target, sink: NotificationSink) -> AsyncIterator[Link]:
    """Connect to the server and relay its notifications to `sink` until the block ends.

    Cancel a call with a cancel scope around `Link.call_tool`, inside this block: that is what
    tells the server (notifications/cancelled, or closing the request stream on 2026-07-28).
    A scope around the whole block would close the connection before the server hears of it.
    """

    relay = _Relay(sink)
    client = target.client(
        # Without a log level, 2026-07-28 servers send no log notifications at all.
        log_level="debug",
        logging_callback=relay.on_log,
        message_handler=relay.on_message,
        # No response cache: one call per connection has nothing to reuse, and its eviction hook
        # would await before our message handler runs.
        cache=None,
    )
    connected = False
    call_error: LinkError | None = None
    try:
        async with client:
            connected = True
            try:
                yield Link(client, relay)
            except LinkError as exc:
                call_error = exc
                raise
    except Exception as exc:
        if call_error is not None:
            # Leaving a client whose server died raises too; the call's own error says more.
            raise call_error from None
        if isinstance(exc, LinkError):
            raise
        what = "lost the connection to" if connected else "cannot reach"
        raise LinkError(f"{what} the MCP server at {target.url}: {describe_error(exc)}") from exc


async def describe_server(target: Target) -> ServerDescription:
    """Connect, read the server's identity and tools, and disconnect."""
    try:
        with anyio.fail_after(PROBE_TIMEOUT):
            async with target.client() as client:
                tools: list[ToolSpec] = []
                cursor: str | None = None
                while True:
                    page = await client.list_tools(cursor=cursor)
                    tools += [ToolSpec(t.name, t.description or "", dict(t.input_schema)) for t in page.tools]
                    cursor = page.next_cursor
                    if not cursor:
                        break
                info = client.server_info
                return ServerDescription(
                    name=info.name if info else "(unnamed server)",
                    version=info.version if info else "",
                    protocol_version=client.protocol_version,
                    tools=tuple(tools),
                )
    except Exception as exc:
        raise LinkError(f"cannot reach the MCP server at {target.url}: {describe_error(exc)}") from exc


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
