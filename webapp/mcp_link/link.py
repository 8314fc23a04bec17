"""The dashboard's MCP client side: the only module that imports `mcp`.

One `Client` connection per job: MCP log notifications carry no request id, so a connection of its
own is what makes every line attributable to its job.

Every notification and every request the server sends is recorded straight off the transport (`_Tap`),
in wire order, before the SDK's session sees it. That order is exact: the SDK runs each notification
callback in a task of its own, so callbacks can run out of order and after the call has returned.
On the wire, the call's own response has its place too, so progress that follows it is known to be
late. The call's log and progress are taken there and never reach the session: that skips its second
validation and its task per notification, which halves the cost of receiving them (measured: 18,000
against 9,100 notifications/s). Anything else goes on to the session as well, which answers requests.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import warnings
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Literal, Protocol, Self
from urllib.parse import urlsplit, urlunsplit

import anyio
from mcp import Client, MCPDeprecationWarning, MCPError
from mcp.client import Transport
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.message import SessionMessage
from mcp.types import (
    CONNECTION_CLOSED,
    Implementation,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from webapp import __version__
from webapp.events import LogLevel, ProgressNote, clean_data, clean_text
from webapp.stdio import StdioProcess, stdio_transport

log = logging.getLogger(__name__)
_CLIENT_INFO = Implementation(name="mcp-live", version=__version__)
PROBE_TIMEOUT = 5.0  # seconds for a status check: connect, handshake, list tools
# The SDK fails a whole call on an SSE event over 1 MiB; a bigger log line should rather arrive and be cut to
# --max-event-bytes, visibly. Above this, the call fails with the SDK's own clear error.
MAX_SERVER_EVENT_BYTES = 16 * 1024 * 1024


ProtocolMode = Literal["auto", "legacy"]
HttpTransport = Literal["streamable-http", "sse"]
TransportName = Literal["streamable-http", "sse", "stdio"]
OnStderr = Callable[[str], None]
Ended = Callable[[], str | None]  # after a connection failed: what is known of why (a process's exit), or None


@dataclass(frozen=True, slots=True)
class HttpTarget:
    """An MCP server at a URL, and how to greet it.

    `auto` tries the 2026-07-28 protocol first and falls back to the 2025 `initialize` handshake;
    `legacy` always uses the handshake (2025-era sessions), for servers that mishandle discovery.
    `transport`: unset, a URL ending in /sse is the legacy HTTP+SSE transport, anything else streamable HTTP.
    `secrets`: values taken from the environment into the URL or headers, kept out of every message.
    """

    url: str
    protocol: ProtocolMode = "auto"
    name: str = "default"
    transport: HttpTransport | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    shown: str | None = None  # the URL as written in the config (its ${VAR}s unexpanded)
    secrets: tuple[str, ...] = ()
    log_level: LogLevel = "debug"  # asked for on the session that listens outside jobs (see listener)

    per_job: ClassVar[bool] = False  # one server for every job (not started for each)

    @property
    def transport_name(self) -> TransportName:
        if self.transport is not None:
            return self.transport
        return "sse" if urlsplit(self.url).path.rstrip("/").endswith("/sse") else "streamable-http"

    @property
    def where(self) -> str:
        """The server's address as people may see it: with no password or secret in it."""
        return scrub(without_password(self.shown or self.url), self.secrets)

    def connect(self, on_stderr: OnStderr) -> tuple[Transport, Ended]:
        headers = dict(self.headers)
        if self.transport_name == "sse":
            return sse_client(self.url, headers=headers or None), _nothing_known
        return _streamable_http(self.url, headers), _nothing_known

    def client(self, transport: Transport, **options: Any) -> Client:
        return Client(transport, mode=self.protocol, client_info=_CLIENT_INFO, **options)


@dataclass(frozen=True, slots=True)
class StdioTarget:
    """An MCP server run as a child process, started anew for each connection (so for each job)."""

    command: str
    args: tuple[str, ...] = ()
    protocol: ProtocolMode = "auto"
    name: str = "default"
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    shown: str | None = None  # the command line as written in the config
    secrets: tuple[str, ...] = ()
    log_level: LogLevel = "debug"

    per_job: ClassVar[bool] = True
    transport_name: ClassVar[TransportName] = "stdio"

    @property
    def where(self) -> str:
        return scrub(self.shown or shlex.join([self.command, *self.args]), self.secrets)

    def connect(self, on_stderr: OnStderr) -> tuple[Transport, Ended]:
        process = StdioProcess(self.where)
        transport = stdio_transport(
            self.command,
            self.args,
            env=self.env,
            cwd=self.cwd,
            on_stderr=lambda line: on_stderr(scrub(line, self.secrets)),
            process_info=process,
        )
        return transport, lambda: scrub(process.describe_end(), self.secrets)

    def client(self, transport: Transport, **options: Any) -> Client:
        return Client(transport, mode=self.protocol, client_info=_CLIENT_INFO, **options)


Target = HttpTarget | StdioTarget


def _nothing_known() -> str | None:
    return None


def _ignore(line: str) -> None:
    pass


@contextlib.asynccontextmanager
async def _streamable_http(url: str, headers: dict[str, str]) -> AsyncIterator[tuple[Any, Any]]:
    async with (
        create_mcp_http_client(headers=headers or None) as http,
        streamable_http_client(url, http_client=http, max_sse_event_size=MAX_SERVER_EVENT_BYTES) as streams,
    ):
        yield streams


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret in it replaced by ***."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


class LinkError(Exception):
    """The MCP server could not be reached, or the call failed at the protocol level."""


class NotificationSink(Protocol):
    """Receives a job's notifications in arrival order. Both calls must not block or await."""

    def log(self, level: str, logger: str | None, data: Any) -> None: ...

    def progress(
        self, progress: float, total: float | None, message: str | None, *, note: ProgressNote | None = None
    ) -> None:
        """`note`: why this progress must not move the bar, when the wire already says so."""

    def notification(self, method: str, params: Any) -> None:
        """Any other notification, a malformed log or progress included."""

    def request(self, method: str, params: Any) -> None:
        """A request from the server; the SDK answers it (with a refusal, as we offer no callbacks)."""

    def stderr(self, line: str) -> None:
        """A line a stdio server wrote to its stderr."""


class _Tap:
    """Watches one connection's messages in wire order and hands the job's notifications to the sink.

    It sees our `tools/call` go out (its id) and its answer come in, so a progress notification of
    ours that follows the answer is `after_end`, and one with another token is `other_token`:
    recorded once each, never applied to the bar.
    """

    def __init__(self, sink: NotificationSink, token: str, on_tools_changed: Callable[[], None] | None) -> None:
        self.sink = sink
        self.token = token
        self.on_tools_changed = on_tools_changed
        self._call_id: RequestId | None = None
        self._answered = False

    def outgoing(self, item: SessionMessage) -> None:
        message = item.message
        if isinstance(message, JSONRPCRequest) and message.method == "tools/call":
            # A retried call (after input was required, or a header mismatch) is answered anew.
            self._call_id, self._answered = message.id, False

    def incoming(self, item: SessionMessage | Exception) -> bool:
        """Handle `item`; True when it is the job's notification and the session need not see it."""
        if isinstance(item, Exception):
            return False
        message = item.message
        if isinstance(message, JSONRPCNotification):
            params = message.params or {}
            if message.method == "notifications/message" and self._log(params):
                return True
            if message.method == "notifications/progress" and self._progress(params):
                return True
            # Anything else is a line too. The session sees it as well: it may act on it, or log it as malformed.
            self.sink.notification(clean_text(message.method), clean_data(params))
            if message.method == "notifications/tools/list_changed" and self.on_tools_changed is not None:
                self.on_tools_changed()
        elif isinstance(message, JSONRPCRequest) and message.method != "ping":
            # The session answers it: with no callback of ours, "... not supported".
            self.sink.request(clean_text(message.method), clean_data(message.params or {}))
        elif isinstance(message, JSONRPCResponse | JSONRPCError) and message.id == self._call_id:
            self._answered = True
        return False

    def _log(self, params: dict[str, Any]) -> bool:
        level, logger = params.get("level"), params.get("logger")
        if not isinstance(level, str) or not (logger is None or isinstance(logger, str)):
            return False  # malformed: kept as a notification
        self.sink.log(clean_text(level), None if logger is None else clean_text(logger), clean_data(params.get("data")))
        return True

    def _progress(self, params: dict[str, Any]) -> bool:
        progress, total, message = params.get("progress"), params.get("total"), params.get("message")
        if not isinstance(progress, int | float) or isinstance(progress, bool):
            return False  # malformed: kept as a notification
        if not (total is None or _is_number(total)):
            return False
        if message is not None:
            message = clean_text(message if isinstance(message, str) else str(message))
        note = None
        if params.get("progressToken") != self.token:
            note = ProgressNote.OTHER_TOKEN
        elif self._answered:
            note = ProgressNote.AFTER_END
        self.sink.progress(float(progress), None if total is None else float(total), message, note=note)
        return True


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Wrapped:
    """A stream of the transport's, handed on: closing and entering go to the stream itself."""

    def __init__(self, inner: Any, tap: _Tap) -> None:
        self._inner = inner
        self._tap = tap

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        result: bool | None = await self._inner.__aexit__(exc_type, exc, tb)
        return result


class _TapReader(_Wrapped):
    """The transport's read stream, with the tap in front: what it consumes, the session never sees."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)  # e.g. `last_context`, which the SDK reads when present

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item: SessionMessage | Exception = await self._inner.receive()
            if not self._tap.incoming(item):
                return item

    def __aiter__(self) -> _TapReader:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class _TapWriter(_Wrapped):
    async def send(self, item: SessionMessage, /) -> None:
        self._tap.outgoing(item)
        await self._inner.send(item)


@contextlib.asynccontextmanager
async def _tapped(transport: Transport, tap: _Tap) -> AsyncIterator[tuple[Any, Any]]:
    async with transport as (read_stream, write_stream):
        yield _TapReader(read_stream, tap), _TapWriter(write_stream, tap)


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
    capabilities: dict[str, Any] = field(default_factory=dict)  # as the server declared them


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    is_error: bool
    result: dict[str, Any]  # the CallToolResult as JSON (content, structuredContent, isError)
    text: str  # the text content blocks joined: the error message when is_error


class Link:
    """An open connection to the server, for one job."""

    def __init__(self, client: Client, tap: _Tap) -> None:
        self._client = client
        self._tap = tap

    @property
    def protocol_version(self) -> str:
        return self._client.protocol_version

    @property
    def offers_a_channel_outside_calls(self) -> bool:
        """Whether the server may speak on this session between calls: 2025-era sessions have a stream for that
        (the standalone GET stream, or SSE's one stream); 2026-07-28 has none."""
        return self._client.protocol_version not in MODERN_PROTOCOL_VERSIONS

    async def ping(self) -> None:
        """Raise LinkError when the server does not answer: the session is gone."""
        try:
            with anyio.fail_after(PROBE_TIMEOUT):
                await self._client.send_ping()
        except Exception as exc:
            raise LinkError(f"the server stopped answering: {describe_error(exc)}") from exc

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        try:
            # Our own progress token: the server sends progress only for a request that carries one.
            result = await self._client.call_tool(name, arguments, meta={"progress_token": self._tap.token})
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                raise LinkError(f"lost the connection to the MCP server during the call ({exc.message})") from exc
            raise LinkError(f"the call failed: {describe_error(exc)}") from exc
        except Exception as exc:  # e.g. a result that does not parse: the server's fault too
            raise LinkError(f"the call failed: {describe_error(exc)}") from exc
        text = "\n".join(block.text for block in result.content if block.type == "text")
        as_json = result.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"result_type", "meta"})
        return ToolOutcome(is_error=result.is_error, result=clean_data(as_json), text=clean_text(text))


@contextlib.asynccontextmanager
async def open_link(
    target: Target,
    sink: NotificationSink,
    token: str,
    log_level: LogLevel = "debug",
    on_tools_changed: Callable[[], None] | None = None,
) -> AsyncIterator[Link]:
    """Connect to the server and relay its notifications to `sink` until the block ends.

    `token` is the progress token of the job's call; `log_level` the least severe level asked for;
    `on_tools_changed` is told when the server says its tools changed. Cancel a call with a cancel scope around
    `Link.call_tool`, inside this block: that is what tells the server (notifications/cancelled, or closing the
    request stream on 2026-07-28). A scope around the whole block would close the connection before the server
    hears of it.
    """

    tap = _Tap(sink, token, on_tools_changed)
    transport, ended = target.connect(sink.stderr)
    client = target.client(
        _tapped(transport, tap),
        # Without a log level, 2026-07-28 servers send no log notifications at all.
        log_level=log_level,
        # No response cache: one call per connection has nothing to reuse.
        cache=None,
    )
    connected = False
    call_error: LinkError | None = None
    try:
        async with client:
            connected = True
            await ask_for_level(client, log_level)
            try:
                yield Link(client, tap)
            except LinkError as exc:
                call_error = LinkError(_and_why(str(exc), ended()))
                raise call_error from exc
    except Exception as exc:
        if call_error is not None:
            # Leaving a client whose server died raises too; the call's own error says more.
            raise call_error from None
        if isinstance(exc, LinkError):
            raise
        what = "lost the connection to" if connected else "cannot reach"
        message = f"{what} the MCP server at {target.where}: {scrub(describe_error(exc), target.secrets)}"
        raise LinkError(_and_why(message, ended())) from exc


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
    """Connect, read the server's identity, capabilities and tools, and disconnect."""
    transport, ended = target.connect(_ignore)  # a probe's stderr is no job's: it is quoted only on a failure
    try:
        with anyio.fail_after(PROBE_TIMEOUT):
            async with target.client(transport) as client:
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
                    capabilities=clean_data(
                        client.server_capabilities.model_dump(mode="json", by_alias=True, exclude_none=True)
                    ),
                )
    except Exception as exc:
        message = f"cannot reach the MCP server at {target.where}: {scrub(describe_error(exc), target.secrets)}"
        raise LinkError(_and_why(message, ended())) from exc


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
