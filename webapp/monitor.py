"""Knows whether each MCP server is reachable, who it is, what it can do and which tools it offers."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from webapp.events import iso_time
from webapp.mcp_link import (
    LinkError,
    ServerDescription,
    SignInNeeded,
    Target,
    ToolSpec,
    TransportName,
    describe_server,
)

# needs_sign_in: the server answered, and refused the dashboard's token (or its lack of one): see webapp.sign_in.
ConnectionState = Literal["connecting", "connected", "unreachable", "needs_sign_in"]
# A stdio server is started for every probe: look at it once a minute, not every few seconds.
PER_JOB_PROBE_EVERY = 60.0
# A refresh people ask for (POST .../refresh) probes at most this often per server; a stdio server starts a process
# for each probe, so it is asked at most once every PER_JOB_REFRESH_EVERY.
REFRESH_EVERY = 2.0
PER_JOB_REFRESH_EVERY = 10.0


@dataclass(frozen=True, slots=True)
class ServerStatus:
    name: str
    where: str  # its URL or command line, with no secret in it
    transport: TransportName
    state: ConnectionState = "connecting"
    # The last description seen, kept while the server is unreachable so forms and validation still work.
    description: ServerDescription | None = None
    error: str | None = None
    checked_at: float | None = None

    @property
    def tools(self) -> tuple[ToolSpec, ...]:
        return self.description.tools if self.description else ()

    def tool(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)

    @property
    def url(self) -> str | None:
        return None if self.transport == "stdio" else self.where

    def to_json(self) -> dict[str, Any]:
        d = self.description
        return {
            "server": self.name,  # the configured name: what POST /api/jobs takes as `server`
            "transport": self.transport,
            "url": self.url,
            "command": self.where if self.transport == "stdio" else None,
            "state": self.state,
            "error": self.error,
            "name": d.name if d else None,  # the server's own name and version, as it says (serverInfo)
            "version": d.version if d else None,
            "protocol_version": d.protocol_version if d else None,
            "capabilities": d.capabilities if d else None,
            "tools": [tool_json(t) for t in self.tools],
            "checked_at": iso_time(self.checked_at) if self.checked_at is not None else None,
        }


def tool_json(tool: ToolSpec) -> dict[str, Any]:
    """A tool as the server listed it: with its `execution.taskSupport` (2025-11-25) when it said one."""
    shown: dict[str, Any] = {"name": tool.name, "description": tool.description, "inputSchema": tool.input_schema}
    if tool.task_support is not None:
        shown["execution"] = {"taskSupport": tool.task_support}
    return shown


class ServerMonitor:
    """Probes the server in the background: every `interval` seconds, faster while it is down."""

    def __init__(
        self,
        target: Target,
        *,
        interval: float = 5.0,
        retry_interval: float = 1.0,
        describe: Callable[[Target], Awaitable[ServerDescription]] = describe_server,
    ) -> None:
        self.target = target
        self.status = ServerStatus(target.name, target.where, target.transport_name)
        self._interval = max(interval, PER_JOB_PROBE_EVERY) if target.per_job else interval
        self._retry_interval = max(retry_interval, PER_JOB_PROBE_EVERY) if target.per_job else retry_interval
        self._describe = describe
        self._wake = anyio.Event()
        self._probing: anyio.Event | None = None  # set when the probe under way ends
        self._probed_at: float | None = None  # monotonic time the last probe ended

    async def run(self) -> None:
        while True:
            await self.refresh()
            # A server waiting for a person's sign-in is not retried fast: only the sign-in (or time) changes it.
            delay = self._retry_interval if self.status.state in ("connecting", "unreachable") else self._interval
            with anyio.move_on_after(delay):
                await self._wake.wait()
            self._wake = anyio.Event()

    async def refresh(self) -> ServerStatus:
        """Probe the server now; a probe already under way is joined, never doubled."""
        if self._probing is not None:
            await self._probing.wait()
            return self.status
        self._probing = anyio.Event()
        try:
            description = await self._describe(self.target)
        except LinkError as exc:
            state: ConnectionState = "needs_sign_in" if isinstance(exc, SignInNeeded) else "unreachable"
            self.status = dataclasses.replace(self.status, state=state, error=str(exc), checked_at=time.time())
        else:
            self.status = dataclasses.replace(
                self.status, state="connected", description=description, error=None, checked_at=time.time()
            )
        finally:
            self._probed_at = time.monotonic()
            self._probing.set()
            self._probing = None
        return self.status

    async def refresh_on_request(self) -> ServerStatus:
        """A refresh someone asked for: the status just checked when it is fresh enough, else a probe (joined with
        one under way)."""
        every = PER_JOB_REFRESH_EVERY if self.target.per_job else REFRESH_EVERY
        if self._probing is None and self._probed_at is not None and time.monotonic() - self._probed_at < every:
            return self.status
        return await self.refresh()

    def recheck(self) -> None:
        """A job's connection failed: probe now rather than at the next interval."""
        self._wake.set()


class Servers:
    """Every configured server's monitor, in the config's order: the first is the default."""

    def __init__(self, monitors: Sequence[ServerMonitor]) -> None:
        self._monitors = {monitor.target.name: monitor for monitor in monitors}
        self.first = monitors[0]

    def __iter__(self) -> Iterator[ServerMonitor]:
        return iter(self._monitors.values())

    def __len__(self) -> int:
        return len(self._monitors)

    def get(self, name: str) -> ServerMonitor | None:
        return self._monitors.get(name)

    @property
    def statuses(self) -> list[ServerStatus]:
        return [monitor.status for monitor in self]

    async def refresh(self) -> None:
        async with anyio.create_task_group() as group:
            for monitor in self:
                group.start_soon(monitor.refresh)

    async def refresh_on_request(self) -> None:
        async with anyio.create_task_group() as group:
            for monitor in self:
                group.start_soon(monitor.refresh_on_request)

    async def run(self) -> None:
        async with anyio.create_task_group() as group:
            for monitor in self:
                group.start_soon(monitor.run)

    def recheck(self, name: str) -> None:
        monitor = self.get(name)
        if monitor is not None:
            monitor.recheck()
