"""The servers the dashboard talks to, and how to reach each: a URL (streamable HTTP or legacy SSE) or a command
started per connection (stdio)."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx2
from mcp import Client
from mcp.client import Transport
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT
from mcp.types import Implementation

from webapp import __version__
from webapp.events import LogLevel
from webapp.oauth import BearerAuth, PreRegistered, ServerCredentials
from webapp.stdio import StdioProcess, stdio_transport
from webapp.tls import tls_context

CLIENT_INFO = Implementation(name="mcp-live", version=__version__)
# The SDK fails a whole call on an SSE event over 1 MiB; a bigger log line should rather arrive and be cut to
# --max-event-bytes, visibly. Above this, the call fails with the SDK's own clear error.
MAX_SERVER_EVENT_BYTES = 16 * 1024 * 1024
SESSION_HEADER = "mcp-session-id"

ProtocolMode = Literal["auto", "legacy"]
HttpTransport = Literal["streamable-http", "sse"]
TransportName = Literal["streamable-http", "sse", "stdio"]
OnStderr = Callable[[str], None]
Ended = Callable[[], str | None]  # after a connection failed: what is known of why (a process's exit), or None


@dataclass(slots=True)
class HttpSession:
    """A 2025-era streamable HTTP session: its `Mcp-Session-Id`, as the server gave it (or as saved, to go back to it).
    `keep`: leave the session open on the server when the connection closes (no DELETE), so that a task made in
    it can be found again from another connection after a restart."""

    id: str | None = None
    keep: bool = False


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
    oauth: PreRegistered | None = None  # a client registered beforehand with the server's authorization server
    credentials: ServerCredentials | None = None  # its sign-in (issue 20), set once the store is open

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

    def connect(self, on_stderr: OnStderr, session: HttpSession | None = None) -> tuple[Transport, Ended]:
        headers = dict(self.headers)
        auth = self.credentials.auth() if self.credentials is not None else None
        ended = SignInWatch(auth)
        if self.transport_name == "sse":
            return sse_client(self.url, headers=headers or None, auth=auth, httpx_client_factory=http_client), ended
        return _streamable_http(self.url, headers, session or HttpSession(), auth), ended

    def client(self, transport: Transport, **options: Any) -> Client:
        return Client(transport, mode=self.protocol, client_info=CLIENT_INFO, **options)


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

    def connect(self, on_stderr: OnStderr, session: HttpSession | None = None) -> tuple[Transport, Ended]:
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
        return Client(transport, mode=self.protocol, client_info=CLIENT_INFO, **options)


Target = HttpTarget | StdioTarget


class SignInWatch:
    """What is known of why an HTTP connection failed: the server refused its token (or its lack of one)."""

    def __init__(self, auth: BearerAuth | None) -> None:
        self.auth = auth

    def __call__(self) -> str | None:
        refused = self.auth.refused if self.auth is not None else None
        if refused is None:
            return None
        if refused.step_up:
            return f"the server asks for more permission (scope {refused.scope or 'unsaid'}): sign in again"
        return "the server needs a sign-in"


def ignore(line: str) -> None:
    pass


@contextlib.asynccontextmanager
async def _streamable_http(
    url: str, headers: dict[str, str], session: HttpSession, auth: BearerAuth | None
) -> AsyncIterator[tuple[Any, Any]]:
    if session.id is not None:
        headers = {**headers, SESSION_HEADER: session.id}  # back to a session the server made before

    async def note_session(response: Any) -> None:
        given = response.headers.get(SESSION_HEADER)
        if given:
            session.id = given

    async with http_client(headers=headers or None, auth=auth) as http:
        http.event_hooks["response"].append(note_session)
        async with streamable_http_client(
            url, http_client=http, max_sse_event_size=MAX_SERVER_EVENT_BYTES, terminate_on_close=not session.keep
        ) as streams:
            yield streams


def http_client(
    headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None, auth: httpx2.Auth | None = None
) -> httpx2.AsyncClient:
    """The SDK's HTTP client for MCP (its `create_mcp_http_client`: its timeouts, no redirects followed), with the
    process's one TLS context instead of one loaded per connection."""
    timeout = timeout or httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT)
    return httpx2.AsyncClient(headers=headers, timeout=timeout, auth=auth, verify=tls_context())


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
