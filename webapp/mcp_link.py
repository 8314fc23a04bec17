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

    def progress(self, progress: float, total: float | None, message: str | None) -> None: ...

    def end_call(self) -> None:
        """The call has returned (or failed): any progress after this is late."""


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

    def __init__(self, client: Client, sink: NotificationSink) -> None:
        self._client = client
        self._sink = sink
        self.call_returned = False

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            self._sink.progress(progress, total, message)  # before any await

        try:
            # A progress callback makes the SDK send a progress token; without one the server sends no progress.
            result = await self._client.call_tool(name, arguments, progress_callback=on_progress)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                raise LinkError(f"lost the connection to the MCP server during the call ({exc.message})") from exc
            raise LinkError(f"the call failed: {describe_error(exc)}") from exc
        except Exception as exc:  # e.g. a result that does not parse: the server's fault too
            raise LinkError(f"the call failed: {describe_error(exc)}") from exc
        finally:
            # From here the SDK no longer routes this call's progress to on_progress: late progress
            # reaches only the message handler (see open_link).
            self.call_returned = True
            self._sink.end_call()
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

    link: Link | None = None

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        sink.log(params.level, params.logger, params.data)  # before any await: see the module docstring

    async def on_message(message: IncomingMessage) -> None:
        # Progress during the call arrives through the call's progress callback; this catches the late kind.
        if isinstance(message, ProgressNotification) and link is not None and link.call_returned:
            sink.progress(message.params.progress, message.params.total, message.params.message)

    # Without a log level, 2026-07-28 servers send no log notifications at all.
    client = target.client(log_level="debug", logging_callback=on_log, message_handler=on_message)
    connected = False
    call_error: LinkError | None = None
    try:
        async with client:
            connected = True
            link = Link(client, sink)
            try:
                yield link
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
