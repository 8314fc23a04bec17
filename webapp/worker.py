"""The worker role: takes jobs from the queue and runs each MCP tool call in a background task it owns.

Who cancels whom: the worker's task group owns every job task; no browser connection or web process
does. A job is stopped only by its own limits (idle timeout, maximum duration), by a cancel asked for
in any process (heard as `cancel:<id>`), by the store becoming unwritable, or by the worker shutting
down. Each of those cancels the scope around the call itself, inside the open connection, so the
server hears of it.

The worker holds a lease in the store and renews it; if it dies, any other process marks its jobs
`interrupted` once the lease lapses (see `Janitor`).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType

import anyio
from anyio.abc import TaskGroup

from webapp.events import Job, JobState
from webapp.hub import QUEUE, Hub, Pacer, cancel_topic, wait_any
from webapp.mcp_link import LinkError, Target, ToolOutcome, describe_error, open_link
from webapp.recorder import Limits, Recorder
from webapp.runtime import open_runtime
from webapp.settings import Settings
from webapp.store import JobLost, Store, StoreUnavailable, WorkerInfo

log = logging.getLogger(__name__)

LEASE_SECONDS = 10.0  # a worker silent for this long is taken for dead
RENEW_EVERY = 2.0
POLL_EVERY = 5.0  # look at the queue even without news: a safety net for news lost with a connection
MAX_BACKLOG = 200_000  # events held in memory while the store cannot be written
RETRY_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
# A write waits 0.25 ms for each event the last one took, 5 ms at most (see hub.Pacer): one transaction per
# event costs several times what it does in a batch (measured in SQLite: 46 against 10 us an event).
WRITE_PACE = (0.00025, 0.005)
SETTLE_AT_MOST = 0.001  # seconds a write waits for events that are already on their way (see settle)


def describe_this_worker() -> WorkerInfo:
    return WorkerInfo(id=secrets.token_hex(4), host=socket.gethostname(), pid=os.getpid(), started_at=time.time())


@dataclass
class _ActiveJob:
    job: Job
    recorder: Recorder
    connect_scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    call_scope: anyio.CancelScope | None = None
    limits_scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)  # the call's time limits
    stop_reason: tuple[JobState, str] | None = None
    write_lock: anyio.Lock = field(default_factory=anyio.Lock)
    lost: bool = False  # another process settled the job: write nothing more
    store_failing_since: float | None = None  # monotonic time of the first failed write not yet made good

    def stop(self, state: JobState, reason: str) -> None:
        """End the job with `state` unless it ends by itself first. The first reason given wins."""
        if self.stop_reason is None:
            self.stop_reason = (state, reason)
        # Before the call starts, abandon the connect; after, cancel only the call so the server is told.
        (self.call_scope or self.connect_scope).cancel()


class Worker:
    """Takes up to `max_jobs` jobs at a time from the queue. Use as `async with Worker(...) as worker:`."""

    def __init__(
        self,
        store: Store,
        hub: Hub,
        targets: Sequence[Target],
        *,
        max_jobs: int,
        limits: Limits | None = None,
        store_patience: float = 30.0,
        shutdown_reason: str = "the dashboard shut down while the job was running",
        on_server_news: Callable[[str], None] | None = None,
        info: WorkerInfo | None = None,
    ) -> None:
        """`targets`: the servers jobs name (a job that names none runs on the first). `on_server_news` is told the
        server's name when a job could not reach it, or it said its tools changed: time to look at it again."""
        self.info = info or describe_this_worker()
        self._store = store
        self._hub = hub
        self._targets = {target.name: target for target in targets}
        self._default_target = targets[0]
        self._max_jobs = max_jobs
        self._limits = limits or Limits()
        self._store_patience = store_patience
        self._shutdown_reason = shutdown_reason
        self._on_server_news = on_server_news
        self._active: dict[str, _ActiveJob] = {}
        self._slot_freed = anyio.Event()
        self._tg: TaskGroup | None = None
        self._taking = anyio.CancelScope()  # the queue and lease loops, stopped first at shutdown

    async def __aenter__(self) -> Worker:
        await self._store.renew_lease(self.info, LEASE_SECONDS)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._serve_queue, name="queue")
        log.info("worker %s ready for up to %d job(s) at once", self.info.describe(), self._max_jobs)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tg is not None
        self._taking.cancel()  # take no more jobs
        # Each job ends through its own stop, so its state and last events are written; never by cancelling
        # its task, which would skip all that.
        for active in list(self._active.values()):
            active.stop(JobState.INTERRUPTED, self._shutdown_reason)
        await self._tg.__aexit__(exc_type, exc, tb)
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            try:
                await self._store.unregister_worker(self.info.id)
            except Exception:
                log.exception("could not unregister worker %s", self.info.id)

    @property
    def running(self) -> int:
        return len(self._active)

    # -- The queue and the lease ---------------------------------------------------------------------

    async def _serve_queue(self) -> None:
        with self._taking:
            async with anyio.create_task_group() as loops:
                loops.start_soon(self._keep_lease, name="lease")
                loops.start_soon(self._take_jobs, name="take jobs")

    async def _take_jobs(self) -> None:
        while True:
            news, freed = self._hub.watch(QUEUE), self._slot_freed
            while len(self._active) < self._max_jobs:
                try:
                    job = await self._store.claim_job(self.info.id)
                except Exception:
                    log.exception("could not take a job from the queue")
                    break
                if job is None:
                    break
                self._start(job)
            with anyio.move_on_after(POLL_EVERY):
                await wait_any(news, freed)

    async def _keep_lease(self) -> None:
        while True:
            await anyio.sleep(RENEW_EVERY)
            try:
                await self._store.renew_lease(self.info, LEASE_SECONDS)
            except Exception as exc:  # others will take us for dead if this lasts: say so
                log.warning("could not renew the lease of worker %s: %s", self.info.id, describe_error(exc))

    def _start(self, job: Job) -> None:
        assert self._tg is not None
        job.state = JobState.STARTING  # as claimed; a cancel asked for already is heard by `_watch_cancel`
        active = _ActiveJob(job, Recorder(job, self._limits))
        self._active[job.id] = active
        self._tg.start_soon(self._run, active, name=f"job {job.id}")

    # -- One job -------------------------------------------------------------------------------------

    async def _run(self, active: _ActiveJob) -> None:
        job = active.job
        try:
            async with anyio.create_task_group() as helpers:
                helpers.start_soon(self._write_on_news, active)
                helpers.start_soon(self._enforce_limits, active)
                helpers.start_soon(self._watch_cancel, active)
                outcome, error = await self._call(active)
                helpers.cancel_scope.cancel()
            self._finish(active, outcome, error)
        except Exception as exc:
            if not active.lost:  # a bug of ours: never leave the job "running"
                log.exception("job %s crashed", job.id)
                job.state, job.error = JobState.FAILED, f"internal error: {describe_error(exc)}"
        finally:
            if job.finished_at is None:  # (a job that lingered ended when its call did)
                job.finished_at = time.time()
            job.lingering_until = None
            with anyio.CancelScope(shield=True):
                await self._write_last(active)
            del self._active[job.id]
            self._slot_freed.set()
            self._slot_freed = anyio.Event()

    async def _call(self, active: _ActiveJob) -> tuple[ToolOutcome | None, str | None]:
        """Connect and call the tool; return its outcome, or the reason there is none."""
        job = active.job
        target = self._default_target if job.server is None else self._targets.get(job.server)
        if target is None:
            return None, f"this worker has no MCP server named {job.server!r} (give every process the same --config)"
        outcome: ToolOutcome | None = None
        news = None if self._on_server_news is None else partial(self._on_server_news, target.name)
        try:
            with active.connect_scope:
                async with open_link(
                    target, active.recorder, token=f"mcp-live-{job.id}", log_level=job.log_level, on_tools_changed=news
                ) as link:
                    if active.stop_reason is None:
                        job.state = JobState.RUNNING
                        await self._write(active)
                    with anyio.CancelScope() as active.call_scope:
                        outcome = await link.call_tool(job.tool, job.arguments)
                    # The call is over: from now on a stop abandons the connection itself.
                    active.call_scope = None
                    if job.linger and outcome is not None:
                        await self._linger(active, outcome)
        except LinkError as exc:
            if news is not None:
                news()
            if outcome is None:
                return None, str(exc)
        return outcome, None

    async def _linger(self, active: _ActiveJob, outcome: ToolOutcome) -> None:
        """Keep the connection open `linger` seconds after the call: what the server sends meanwhile is the job's
        too, marked as after its end. The job's state is set now; its viewers' streams stay open till the end
        of the linger (or a stop: the dashboard shutting down)."""
        job = active.job
        self._finish(active, outcome, None)
        job.finished_at = time.time()
        job.lingering_until = job.finished_at + job.linger
        active.recorder.after_end = True
        active.limits_scope.cancel()  # the time limits were the call's
        await self._write(active)
        await anyio.sleep(job.linger)

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

    async def _watch_cancel(self, active: _ActiveJob) -> None:
        job_id = active.job.id
        while True:
            news = self._hub.watch(cancel_topic(job_id))
            # Read after watching: a cancel asked for before (even before this worker took the job) is seen.
            try:
                current = await self._store.get_job(job_id)
            except StoreUnavailable:
                with anyio.move_on_after(RETRY_DELAYS[-1]):
                    await news.wait()
                continue
            if current is None or current.cancel_requested:
                active.stop(JobState.CANCELLED, "cancelled by the user")
                return
            await news.wait()

    # -- Writing -------------------------------------------------------------------------------------

    async def _write_on_news(self, active: _ActiveJob) -> None:
        pacer = Pacer(*WRITE_PACE)
        while True:
            await active.recorder.news.wait()
            await pacer.wait()
            await settle(active.recorder)
            pacer.handled(await self._write(active))

    async def _write(self, active: _ActiveJob) -> int:
        """Store the events recorded so far with the job's fields, retrying while the store fails; return how
        many were stored.

        Events leave the recorder only once committed, so a failed write loses none and leaves no gap.
        """
        attempt = 0
        async with active.write_lock:
            while not active.lost:
                events, snapshot = active.recorder.pending()
                try:
                    # Never cancelled half-way: a write cut off after its commit leaves no one knowing it was made.
                    with anyio.CancelScope(shield=True):
                        await self._store.save_job(snapshot, events)
                except JobLost:
                    self._lose(active)
                    return 0
                except Exception as exc:
                    now = time.monotonic()
                    if active.store_failing_since is None:
                        active.store_failing_since = now
                        log.warning("job %s: could not write to the store, retrying: %s", snapshot.id, exc)
                    self._give_up_if_hopeless(active, now - active.store_failing_since, exc)
                    await anyio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
                    attempt += 1
                    continue
                active.recorder.committed(len(events))
                if active.store_failing_since is not None:
                    failed_for = time.monotonic() - active.store_failing_since
                    log.info("job %s: the store is written again, after %.1f s", snapshot.id, failed_for)
                    active.store_failing_since = None
                return len(events)
        return 0

    async def _write_last(self, active: _ActiveJob) -> None:
        """The job's final write. It is retried for as long as this worker lives: a job must never stay
        `running` in the store because one write failed. Should the worker stop first, its lease lapses
        and another process marks the job interrupted (at the next start, with SQLite)."""
        try:
            await self._write(active)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception:  # pragma: no cover - _write handles store errors itself
            log.exception("could not record the end of job %s", active.job.id)

    def _give_up_if_hopeless(self, active: _ActiveJob, failing_for: float, exc: Exception) -> None:
        if active.job.state.is_terminal or active.stop_reason is not None:
            return
        if failing_for > self._store_patience:
            reason = f"the store could not be written for {self._store_patience:g} s: {describe_error(exc)}"
        elif active.recorder.backlog > MAX_BACKLOG:
            reason = f"the store could not be written and {active.recorder.backlog:,} events are waiting"
        else:
            return
        log.error("job %s: %s", active.job.id, reason)
        active.stop(JobState.FAILED, reason)

    def _lose(self, active: _ActiveJob) -> None:
        if not active.lost:
            log.warning("job %s was settled by another process (this worker was taken for dead)", active.job.id)
        active.lost = True
        active.stop(JobState.INTERRUPTED, "taken for lost")

    # -- Limits --------------------------------------------------------------------------------------

    async def _enforce_limits(self, active: _ActiveJob) -> None:
        with active.limits_scope:
            await self._watch_limits(active)

    async def _watch_limits(self, active: _ActiveJob) -> None:
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


async def settle(recorder: Recorder) -> None:
    """Let the event loop turn while each turn brings more events (SETTLE_AT_MOST seconds at most): those that
    came in the same network read as the first (a log line and its progress, say) go into its write, rather
    than wait for it to finish. A lone line costs one turn of the loop."""
    deadline = time.monotonic() + SETTLE_AT_MOST
    seen = recorder.backlog
    while time.monotonic() < deadline:
        await anyio.lowlevel.checkpoint()
        if recorder.backlog == seen:
            return
        seen = recorder.backlog


class Janitor:
    """Marks `interrupted` the jobs of workers that died (their lease lapsed). Every process runs one."""

    def __init__(self, store: Store, every: float = RENEW_EVERY) -> None:
        self._store = store
        self._every = every

    async def run(self) -> None:
        while True:
            try:
                ids = await self._store.interrupt_jobs_of_lost_workers()
            except Exception as exc:
                log.warning("could not look for lost workers: %s", describe_error(exc))
            else:
                if ids:
                    log.warning("marked %d job(s) of lost workers interrupted: %s", len(ids), ", ".join(ids))
            await anyio.sleep(self._every)


async def serve(settings: Settings) -> None:
    """`python -m webapp worker`: run jobs from the shared queue until SIGINT or SIGTERM; no HTTP."""
    info = describe_this_worker()
    async with open_runtime(settings) as runtime, anyio.create_task_group() as background:
        background.start_soon(Janitor(runtime.store).run)
        worker = Worker(
            runtime.store,
            runtime.hub,
            runtime.targets,
            max_jobs=settings.max_jobs,
            limits=limits_of(settings),
            store_patience=settings.store_patience,
            shutdown_reason=f"the worker {info.describe()} shut down while the job was running",
            info=info,
        )
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with worker:
                print(f"MCP Live worker {info.describe()}: running jobs from the queue", flush=True)
                async for received in signals:
                    log.info("worker %s stopping (%s)", info.id, signal.Signals(received).name)
                    break
        background.cancel_scope.cancel()


def limits_of(settings: Settings) -> Limits:
    return Limits(event_bytes=settings.max_event_bytes, events=settings.max_events)
