"""Runs jobs: each MCP tool call in a background task owned by the app, never by a browser connection.

Who cancels whom: the runner's task group owns every job task. A job is stopped only by its own
limits (idle timeout, maximum duration), by `cancel()`, or by the runner shutting down; each of those
cancels the scope around the call itself, inside the open connection, so the server hears of it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup

from webapp.events import Job, JobState
from webapp.hub import Hub
from webapp.mcp_link import LinkError, Target, ToolOutcome, describe_error, open_link
from webapp.recorder import Recorder
from webapp.store import Store

log = logging.getLogger(__name__)
COALESCE_SECONDS = 0.005


class JobNotActive(Exception):
    """The job has already ended (or never ran in this process)."""


@dataclass
class _ActiveJob:
    job: Job
    recorder: Recorder
    connect_scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    call_scope: anyio.CancelScope | None = None
    stop_reason: tuple[JobState, str] | None = None
    write_lock: anyio.Lock = field(default_factory=anyio.Lock)

    def stop(self, state: JobState, reason: str) -> None:
        """End the job with `state` unless it ends by itself first. The first reason given wins."""
        if self.stop_reason is None:
            self.stop_reason = (state, reason)
        # Before the call starts, abandon the connect; after, cancel only the call so the server is told.
        (self.call_scope or self.connect_scope).cancel()


class JobRunner:
    """Starts, limits, cancels and records jobs. Use as `async with JobRunner(...) as runner:`."""

    def __init__(self, store: Store, hub: Hub, target: Target, *, on_link_error: Callable[[], None]) -> None:
        self._store = store
        self._hub = hub
        self._target = target
        self._on_link_error = on_link_error
        self._active: dict[str, _ActiveJob] = {}
        self._tg: TaskGroup | None = None

    async def __aenter__(self) -> JobRunner:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for active in list(self._active.values()):
            active.stop(JobState.INTERRUPTED, "the dashboard shut down while the job was running")
        assert self._tg is not None
        await self._tg.__aexit__(exc_type, exc, tb)

    async def start(
        self, tool: str, arguments: dict[str, Any], *, idle_timeout: float | None, max_duration: float | None
    ) -> Job:
        assert self._tg is not None, "JobRunner used outside its `async with`"
        job = Job(
            id=secrets.token_hex(6),
            tool=tool,
            arguments=arguments,
            idle_timeout=idle_timeout,
            max_duration=max_duration,
        )
        await self._store.create_job(job)
        active = _ActiveJob(job, Recorder(job))
        self._active[job.id] = active
        self._tg.start_soon(self._run, active, name=f"job {job.id}")
        return job.copy()

    async def cancel(self, job_id: str) -> Job:
        active = self._active.get(job_id)
        if active is None or active.job.state.is_terminal:
            raise JobNotActive(job_id)
        if active.job.state is not JobState.CANCELLING:
            active.job.state = JobState.CANCELLING
            active.stop(JobState.CANCELLED, "cancelled by the user")  # first: a failed write must not stop the stop
            await self._write(active)
        return active.job.copy()

    async def _run(self, active: _ActiveJob) -> None:
        job = active.job
        try:
            async with anyio.create_task_group() as helpers:
                helpers.start_soon(self._write_on_news, active)
                helpers.start_soon(self._enforce_limits, active)
                outcome, error = await self._call(active)
                helpers.cancel_scope.cancel()
            self._finish(active, outcome, error)
        except Exception as exc:  # a bug of ours: never leave the job "running"
            log.exception("job %s crashed", job.id)
            job.state, job.error = JobState.FAILED, f"internal error: {describe_error(exc)}"
        finally:
            job.finished_at = time.time()
            try:
                with anyio.CancelScope(shield=True):
                    await self._write(active)
            except Exception:  # the store failed: log it, but never take the other jobs down
                log.exception("could not record the end of job %s", job.id)
            del self._active[job.id]

    async def _call(self, active: _ActiveJob) -> tuple[ToolOutcome | None, str | None]:
        """Connect and call the tool; return its outcome, or the reason there is none."""
        job = active.job
        outcome: ToolOutcome | None = None
        try:
            with active.connect_scope:
                async with open_link(self._target, active.recorder) as link:
                    if job.state is JobState.STARTING:  # not if a cancel came first
                        job.state = JobState.RUNNING
                        await self._write(active)
                    with anyio.CancelScope() as active.call_scope:
                        outcome = await link.call_tool(job.tool, job.arguments)
                    # The call is over: from now on a stop abandons the connection itself.
                    active.call_scope = None
        except LinkError as exc:
            self._on_link_error()
            if outcome is None:
                return None, str(exc)
        return outcome, None

    def _finish(self, active: _ActiveJob, outcome: ToolOutcome | None, error: str | None) -> None:
        job = active.job
        if outcome is not None:
            # A result that arrived wins over a stop requested too late to take effect.
            job.result = outcome.result
            if outcome.is_error:
                job.state, job.error = JobState.FAILED, outcome.text or "the tool reported an error"
            else:
                job.state = JobState.SUCCEEDED
        elif active.stop_reason is not None:
            job.state, job.error = active.stop_reason
        else:
            job.state, job.error = JobState.FAILED, error or "the call ended without a result"

    async def _write_on_news(self, active: _ActiveJob) -> None:
        while True:
            await active.recorder.news.wait()
            await self._write(active)
            # At most one write per few ms: a quiet job's events go out at once, a burst shares one
            # transaction and one wake-up of the viewers.
            await anyio.sleep(COALESCE_SECONDS)

    async def _write(self, active: _ActiveJob) -> None:
        """Store the events recorded so far with the job's fields, then wake its viewers."""
        async with active.write_lock:
            events, snapshot = active.recorder.take()
            await self._store.save_job(snapshot, events)
        self._hub.publish(snapshot.id)

    async def _enforce_limits(self, active: _ActiveJob) -> None:
        job, recorder = active.job, active.recorder
        started = time.monotonic()
        while True:
            deadlines: list[tuple[float, str]] = []
            if job.max_duration is not None:
                deadlines.append(
                    (started + job.max_duration, f"exceeded its maximum duration of {job.max_duration:g} s")
                )
            if job.idle_timeout is not None:
                deadlines.append(
                    (
                        recorder.last_activity + job.idle_timeout,
                        f"idle timeout: no notification from the server for {job.idle_timeout:g} s",
                    )
                )
            if not deadlines:
                return
            deadline, reason = min(deadlines)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                active.stop(JobState.TIMED_OUT, reason)
                return
            await anyio.sleep(remaining)
