"""The worker role: takes jobs from the queue and runs each in a background task it owns (a `JobRun`).

The worker holds a lease in the store and renews it; if it dies, any other process marks its jobs `interrupted`
once the lease lapses, or hands those whose call runs as an MCP task to another worker (see `Janitor`). When it
stops, it takes no more jobs, interrupts its running jobs through their own stop (their last events written) and
hands its task jobs over: another worker (or this dashboard, started again) re-attaches to their tasks.

A worker process drains first (`serve`): on SIGTERM it stops taking jobs, hands its task jobs over at once and
lets the others finish, up to --drain-timeout; then, or on a second signal, it stops as above.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType

import anyio
from anyio.abc import TaskGroup

from webapp import metrics, operations
from webapp.events import Job, JobState
from webapp.hub import QUEUE, Hub, wait_any
from webapp.job_run import JobRun, RunSettings
from webapp.mcp_link import Target, describe_error
from webapp.recorder import Limits
from webapp.runtime import open_runtime
from webapp.settings import Settings
from webapp.store import Store, StoreUnavailable, WorkerInfo

log = logging.getLogger(__name__)

LEASE_SECONDS = 10.0  # a worker silent for this long is taken for dead
RENEW_EVERY = 2.0
POLL_EVERY = 5.0  # look at the queue even without news: a safety net for news lost with a connection
# A janitor must have written to the store without a break for this long before it takes anyone for dead: long
# enough to have seen every live worker renew its lease since its own outage ended (issue 17: after a database
# restart, the first janitor back interrupted the jobs of live workers whose renewals had not come through yet).
TRUSTED_AFTER = LEASE_SECONDS + RENEW_EVERY
DRAIN_CHECK_EVERY = 1.0  # seconds between looks for a job that has become a task (handed over at once)


def describe_this_worker() -> WorkerInfo:
    return WorkerInfo(id=secrets.token_hex(4), host=socket.gethostname(), pid=os.getpid(), started_at=time.time())


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
        input_timeout: float = 600.0,
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
        self._run_settings = RunSettings(limits or Limits(), store_patience, input_timeout)
        self._shutdown_reason = shutdown_reason
        self._on_server_news = on_server_news
        self._active: dict[str, JobRun] = {}
        self._slot_freed = anyio.Event()
        self._tg: TaskGroup | None = None
        self._taking = anyio.CancelScope()  # the queue and lease loops, stopped first at shutdown
        self._claiming = anyio.CancelScope()  # the queue alone: stopped when draining, the lease kept

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
        # its task, which would skip all that. A job whose call runs as a task is handed over instead.
        for run in list(self._active.values()):
            run.hand_over(self._shutdown_reason)
        await self._tg.__aexit__(exc_type, exc, tb)
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            try:
                await self._store.unregister_worker(self.info.id)
            except Exception:
                log.exception("could not unregister worker %s", self.info.id)

    @property
    def running(self) -> int:
        return len(self._active)

    async def drain(self, within: float, stop_now: anyio.Event) -> None:
        """Take no more jobs and let the running ones end, for `within` seconds at most or until `stop_now` is set.
        A job whose call runs as a task is handed over at once: another worker re-attaches to its task. Whatever
        still runs after that is stopped on leaving the `async with`, as at any stop."""
        self._claiming.cancel()
        if self._active:
            log.info("worker %s draining: %d job(s) to finish, %g s at most", self.info.id, len(self._active), within)
        with anyio.move_on_after(within):
            while self._active and not stop_now.is_set():
                for run in list(self._active.values()):
                    if run.job.task is not None and not run.handing_over and run.stop_reason is None:
                        run.hand_over(self._shutdown_reason)
                freed = self._slot_freed
                with anyio.move_on_after(DRAIN_CHECK_EVERY):
                    await wait_any(freed, stop_now)
        if self._active:
            log.warning("worker %s stops %d job(s) that did not finish in time", self.info.id, len(self._active))

    # -- The queue and the lease ---------------------------------------------------------------------

    async def _serve_queue(self) -> None:
        with self._taking:
            async with anyio.create_task_group() as loops:
                loops.start_soon(self._keep_lease, name="lease")
                loops.start_soon(self._take_jobs, name="take jobs")

    async def _take_jobs(self) -> None:
        with self._claiming:
            await self._claim_jobs()

    async def _claim_jobs(self) -> None:
        while True:
            news, freed = self._hub.watch(QUEUE), self._slot_freed
            while len(self._active) < self._max_jobs:
                try:
                    job = await self._store.claim_job(self.info.id)
                except StoreUnavailable as exc:  # expected while the database restarts: one line
                    log.warning("could not take a job from the queue: %s", exc)
                    break
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
                metrics.LEASE_RENEWALS.labels("failed").inc()
                log.warning("could not renew the lease of worker %s: %s", self.info.id, describe_error(exc))
            else:
                metrics.LEASE_RENEWALS.labels("renewed").inc()

    def _start(self, job: Job) -> None:
        assert self._tg is not None
        if job.task is None:
            job.state = JobState.STARTING  # as claimed; a cancel asked for already is heard by its cancel watcher
        target = self._default_target if job.server is None else self._targets.get(job.server)
        news = None if self._on_server_news is None or target is None else partial(self._on_server_news, target.name)
        run = JobRun(job, target, self._store, self._hub, self._run_settings, news)
        self._active[job.id] = run
        metrics.JOBS_RUNNING_HERE.labels(self.info.id).set(len(self._active))
        self._tg.start_soon(self._run, run, name=f"job {job.id}")

    async def _run(self, run: JobRun) -> None:
        try:
            await run.run()
            if run.handing_over and not run.job.state.is_terminal:
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await self._hand_over(run)
        finally:
            del self._active[run.job.id]
            metrics.JOBS_RUNNING_HERE.labels(self.info.id).set(len(self._active))
            self._slot_freed.set()
            self._slot_freed = anyio.Event()

    async def _hand_over(self, run: JobRun) -> None:
        try:
            if await self._store.release_job(run.job.id, self.info.id):
                log.info("job %s handed over: its task %s goes on", run.job.id, run.job.task and run.job.task.id)
        except Exception as exc:  # its lease lapses, and the janitor hands it over then
            log.warning("could not hand job %s over: %s", run.job.id, describe_error(exc))


class Janitor:
    """Marks `interrupted` the jobs of workers that died (their lease lapsed), and hands over those that run as a
    task. Every process runs one.

    Only once it has itself written to the store without a break for `trusted_after` seconds: after an outage
    (a database restart, a read-only disk, this process cut off) every lease has lapsed, live workers' too, and
    their renewals need a moment to come through. A janitor that has just come back cannot tell a dead worker from
    one that is reconnecting; one that has been connected longer than a lease and a renewal can."""

    def __init__(
        self,
        store: Store,
        every: float = RENEW_EVERY,
        trusted_after: float = TRUSTED_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._every = every
        self._trusted_after = trusted_after
        self._clock = clock
        self._connected_since: float | None = None
        self._said_waiting = False

    @property
    def trusted(self) -> bool:
        return self._connected_since is not None and self._clock() - self._connected_since > self._trusted_after

    async def run(self) -> None:
        while True:
            await self.round()
            await anyio.sleep(self._every)

    async def round(self) -> None:
        try:
            await self._store.check_writable()
        except Exception as exc:
            self._lost_the_store(exc)
            return
        if self._connected_since is None:
            self._connected_since = self._clock()
        if not self.trusted:
            return
        try:
            ids = await self._store.interrupt_jobs_of_lost_workers()
        except Exception as exc:
            self._lost_the_store(exc)
        else:
            if ids:
                log.warning("marked %d job(s) of lost workers interrupted: %s", len(ids), ", ".join(ids))

    def _lost_the_store(self, exc: Exception) -> None:
        if self._connected_since is not None or not self._said_waiting:
            log.warning(
                "could not look for lost workers: %s (looking again %g s after the store is back)",
                describe_error(exc),
                self._trusted_after,
            )
            self._said_waiting = True
        self._connected_since = None


async def serve(settings: Settings) -> None:
    """`python -m webapp worker`: run jobs from the shared queue until SIGINT or SIGTERM, then drain (see `drain`);
    no HTTP but the probes on --health-port."""
    info = describe_this_worker()
    async with open_runtime(settings) as runtime, anyio.create_task_group() as background:
        background.start_soon(Janitor(runtime.store).run)
        if settings.health_port is not None:
            background.start_soon(operations.serve_probes, runtime.store, settings.host, settings.health_port)
        worker = Worker(
            runtime.store,
            runtime.hub,
            runtime.targets,
            max_jobs=settings.max_jobs,
            limits=limits_of(settings),
            store_patience=settings.store_patience,
            input_timeout=settings.input_timeout,
            shutdown_reason=f"the worker {info.describe()} shut down while the job was running",
            info=info,
        )
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with worker:
                print(f"MCP Live worker {info.describe()}: running jobs from the queue", flush=True)
                async for received in signals:
                    log.info("worker %s stopping (%s): taking no more jobs", info.id, signal.Signals(received).name)
                    break
                stop_now = anyio.Event()

                async def on_second_signal() -> None:
                    async for again in signals:
                        log.info("worker %s stopping now (%s again)", info.id, signal.Signals(again).name)
                        stop_now.set()
                        return

                async with anyio.create_task_group() as draining:
                    draining.start_soon(on_second_signal)
                    await worker.drain(settings.drain_timeout, stop_now)
                    draining.cancel_scope.cancel()
        background.cancel_scope.cancel()


def limits_of(settings: Settings) -> Limits:
    return Limits(event_bytes=settings.max_event_bytes, events=settings.max_events)
