"""Lines a server sends outside any tool call: a session of the dashboard's own, open between jobs.

Jobs hear only what comes on their own connection while it is open. What a server says at other times (logs of
its background work, list changes, resource updates) reaches only a session that is there to hear it: each
server gets one, kept in the store as the server's own log, numbered with a sequence of its own and replayable
like a job's (`/servers/{name}`, `GET /api/servers/{name}/events`).

The session is a 2025-era one (the `initialize` handshake), whatever the jobs speak: that revision has a stream
for the server to speak on between calls (streamable HTTP's standalone GET stream, or SSE's one stream), and a
`logging/setLevel` to ask for the level. A server that speaks only 2026-07-28 offers no such channel, and a
stdio server lives only for a job; the server's page says so.

One process listens to a server at a time (`Store.listening_to`), so the log has one writer.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Literal

import anyio

from webapp.events import MAX_SEQ, Job
from webapp.hub import Pacer
from webapp.mcp_link import LinkError, Target, open_link
from webapp.recorder import Limits, Recorder
from webapp.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

ListenerState = Literal["starting", "listening", "unreachable", "no_channel", "elsewhere"]
PING_EVERY = 15.0  # seconds between pings of the session: a server gone is noticed, and listened for again
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
NO_CHANNEL_RECHECK = 300.0  # a server with no channel between calls is asked again this often (it may change)
WRITE_PACE = (0.00025, 0.005)  # as a job's writes (see worker.WRITE_PACE)


class ServerListener:
    """Listens to one server outside jobs for as long as `run` runs; `state` and `note` say how it goes."""

    def __init__(
        self,
        target: Target,
        store: Store,
        *,
        limits: Limits | None = None,
        keep: int = 100_000,
        per_second: float = 100.0,
        on_tools_changed: Callable[[], None] | None = None,
    ) -> None:
        """`keep`: the most lines kept (the newest; --max-server-lines); `per_second`: the most kept a second
        (--max-server-lines-per-second), more are counted in `dropped`."""
        self.target = target
        self.state: ListenerState = "starting"
        self.note: str | None = None
        self._store = store
        # A server's log has no end: no count of lines stops it; the newest `keep` are kept, at a bounded rate.
        self._limits = dataclasses.replace(limits or Limits(), events=MAX_SEQ, per_second=per_second)
        self._keep = keep
        self._on_tools_changed = on_tools_changed
        # The server's log, as a stand-in job: its recorder numbers and bounds lines as for a job's, and counts
        # those dropped over the rate, across sessions.
        self._log = Job(id=target.name, tool="", arguments={}, idle_timeout=None, max_duration=None)
        self._since_trim = 0  # lines written since the oldest beyond `keep` were deleted

    @property
    def dropped(self) -> int:
        """Lines not kept since this process started listening: sent faster than --max-server-lines-per-second."""
        return self._log.dropped_events

    async def run(self) -> None:
        if self.target.per_job:
            self._say("no_channel", "a stdio server is started for each job, and lives only as long as the job")
            return
        failures = 0
        while True:
            try:
                async with self._store.listening_to(self.target.name) as mine:
                    if mine:
                        await self._listen()  # returns when the server offers no channel; raises when it goes
                    else:
                        self._say("elsewhere", "another dashboard process listens to this server")
            except (LinkError, StoreUnavailable) as exc:
                failures = 0 if self.state == "listening" else failures + 1
                self._say("unreachable", str(exc))
            if self.state == "no_channel":
                await anyio.sleep(NO_CHANNEL_RECHECK)
            else:
                await anyio.sleep(RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)])

    async def _listen(self) -> None:
        """One session: record what it hears until the server goes (LinkError)."""
        name = self.target.name
        recorder = Recorder(self._log, self._limits)
        recorder.job.last_seq = await self._store.last_server_seq(name)
        await self._trim()
        legacy = dataclasses.replace(self.target, protocol="legacy")
        token = "mcp-live-listener"  # no call of ours carries it: any progress heard is another request's
        async with open_link(legacy, recorder, token, self.target.log_level, self._on_tools_changed) as link:
            if not link.offers_a_channel_outside_calls:
                self._say("no_channel", f"protocol {link.protocol_version} has no channel for lines outside calls")
                return
            self._say("listening", None)
            pacer = Pacer(*WRITE_PACE)
            while True:
                with anyio.move_on_after(PING_EVERY):
                    while True:
                        await recorder.news.wait()
                        await pacer.wait()
                        with anyio.CancelScope(shield=True):  # a write is never cut off half-way
                            pacer.handled(await self._write(recorder))
                await link.ping()

    async def _write(self, recorder: Recorder) -> int:
        """Store what the recorder holds; while the store is down, keep it and try again. Now and then, drop the
        oldest lines beyond `keep`."""
        events, _ = recorder.pending()
        while True:
            try:
                await self._store.save_server_events(self.target.name, events)
            except StoreUnavailable as exc:
                log.warning("MCP server %s: cannot keep its lines right now, retrying: %s", self.target.name, exc)
                await anyio.sleep(RETRY_DELAYS[0])
                continue
            recorder.committed(len(events))
            self._since_trim += len(events)
            if self._since_trim >= max(self._keep // 10, 1):
                await self._trim()
            return len(events)

    async def _trim(self) -> None:
        self._since_trim = 0
        try:
            await self._store.trim_server_events(self.target.name, self._keep)
        except StoreUnavailable as exc:
            log.warning("MCP server %s: could not trim its lines outside jobs: %s", self.target.name, exc)

    def _say(self, state: ListenerState, note: str | None) -> None:
        if (state, note) != (self.state, self.note):
            log.info("MCP server %s, lines outside jobs: %s%s", self.target.name, state, f" ({note})" if note else "")
        self.state, self.note = state, note
