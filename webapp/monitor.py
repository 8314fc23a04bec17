"""Knows whether the MCP server is reachable, who it is and which tools it offers."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from webapp.events import iso_time
from webapp.mcp_link import LinkError, ServerDescription, Target, ToolSpec, describe_server

ConnectionState = Literal["connecting", "connected", "unreachable"]


@dataclass(frozen=True, slots=True)
class ServerStatus:
    url: str
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

    def to_json(self) -> dict[str, Any]:
        d = self.description
        return {
            "url": self.url,
            "state": self.state,
            "error": self.error,
            "name": d.name if d else None,
            "version": d.version if d else None,
            "protocol_version": d.protocol_version if d else None,
            "tools": [
                {"name": t.name, "description": t.description, "inputSchema": t.input_schema} for t in self.tools
            ],
            "checked_at": iso_time(self.checked_at) if self.checked_at is not None else None,
        }


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
        self.status = ServerStatus(target.url)
        self._interval = interval
        self._retry_interval = retry_interval
        self._describe = describe
        self._wake = anyio.Event()

    async def run(self) -> None:
        while True:
            await self.refresh()
            delay = self._interval if self.status.state == "connected" else self._retry_interval
            with anyio.move_on_after(delay):
                await self._wake.wait()
            self._wake = anyio.Event()

    async def refresh(self) -> ServerStatus:
        try:
            description = await self._describe(self.target)
        except LinkError as exc:
            self.status = dataclasses.replace(self.status, state="unreachable", error=str(exc), checked_at=time.time())
        else:
            self.status = ServerStatus(self.status.url, "connected", description, None, time.time())
        return self.status

    def recheck(self) -> None:
        """A job's connection failed: probe now rather than at the next interval."""
        self._wake.set()
