"""One job's world, from the moment a worker takes it to its last write.

A run owns the job's MCP connection, its `Recorder`, a writer task, a limits task (idle timeout, maximum duration)
and a cancel watcher; nothing else touches a running job. A job is stopped only by its own limits, by a cancel
asked for in any process (heard as `cancel:<id>`), by the store becoming unwritable, or by its worker stopping.
Each of those cancels the scope around the call itself, inside the open connection, so the server hears of it.

A call the server runs as an MCP task is followed by a `TaskRun` (webapp.tasks) instead of waiting on the call:
over a lost connection (it connects again), and after a restart (another worker takes the job and re-attaches).
When its worker stops, a task job is handed over rather than interrupted. The server's questions go to the person
at the page through the job's `Questions` (webapp.questions).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import anyio

from webapp import metrics
from webapp.events import Job, JobState
from webapp.hub import Hub, Pacer, cancel_topic
from webapp.mcp_link import (
    HttpTarget,
    Link,
    LinkError,
    Target,
    TaskSnapshot,
    ToolOutcome,
    describe_error,
    is_modern,
    open_link,
    open_session_link,
)
from webapp.questions import Questions
from webapp.recorder import Limits, Recorder
from webapp.store import JobLost, Store, StoreUnavailable
from webapp.tasks import TaskEnd, TaskRun, task_info

log = logging.getLogger(__name__)

MAX_BACKLOG = 200_000  # events held in memory while the store cannot be written
RETRY_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)  # to a task's server, after the connection was lost
# A write waits 0.25 ms for each event the last one took, 5 ms at most (see hub.Pacer): one transaction per
# event costs several times what it does in a batch (measured in SQLite: 46 against 10 us an event).
WRITE_PACE = (0.00025, 0.005)
SETTLE_AT_MOST = 0.001  # seconds a write waits for events that are already on their way (see settle)
HANDED_OVER = TaskEnd(reason="handed over")  # the job goes on, with another worker


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What every run of a worker shares."""

    limits: Limits
    store_patience: float = 30.0  # seconds writes may fail before the job is stopped
    input_timeout: float = 600.0  # seconds a question waits for a person


class JobRun:
    def __init__(
        self,
        job: Job,
        target: Target | None,
        store: Store,
        hub: Hub,
        settings: RunSettings,
        on_server_news: Callable[[], None] | None = None,
    ) -> None:
        """`target`: the job's server (None: this worker has none by that name). `on_server_news` is told when a
        connection failed or the server said its tools changed: time to look at the server again."""
        self.job = job
        self.recorder = Recorder(job, settings.limits)
        self.questions = Questions(job, self.recorder, store, hub, timeout=settings.input_timeout, save=self.write)
        self._target = target
        self._store = store
        self._hub = hub
        self._settings = settings
        self._news = on_server_news
        self._interruptible = anyio.CancelScope()  # what a stop cancels: the connect, then the call, the task...
        self._limits_scope = anyio.CancelScope()  # the call's time limits
        self.stop_reason: tuple[JobState, str] | None = None
        self.handing_over = False
        self._write_lock = anyio.Lock()
        self.lost = False  # another process settled the job: write nothing more
        self._store_failing_since: float | None = None  # monotonic time of the first failed write not made good
        self._started = time.monotonic() - (max(0.0, time.time() - job.created_at) if job.task else 0.0)

    # -- Stopping --------------------------------------------------------------------------------------------

    def stop(self, state: JobState, reason: str) -> None:
        """End the job with `state` unless it ends by itself first. The first reason given wins."""
        if self.stop_reason is None and not self.handing_over:
            self.stop_reason = (state, reason)
        self._interruptible.cancel()

    def hand_over(self, reason: str) -> None:
        """The worker stops: a job whose call runs as a task is left to another worker, which re-attaches to it
        (its questions go on waiting); any other is interrupted."""
        if self.job.task is None or self.stop_reason is not None:
            self.stop(JobState.INTERRUPTED, reason)
            return
        self.handing_over = True
        self.questions.keep_waiting = True
        self._interruptible.cancel()

    # -- The run ---------------------------------------------------------------------------------------------

    async def run(self) -> None:
        job = self.job
        try:
            async with anyio.create_task_group() as helpers:
                helpers.start_soon(self._write_on_news)
                helpers.start_soon(self._enforce_limits)
                helpers.start_soon(self._watch_cancel)
                end = await self._call()
                helpers.cancel_scope.cancel()
            if end is not HANDED_OVER:
                self._finish(end)
        except Exception as exc:
            if not self.lost:  # a bug of ours: never leave the job "running"
                log.exception("job %s crashed", job.id)
                job.state, job.error = JobState.FAILED, f"internal error: {describe_error(exc)}"
        finally:
            if not self.handing_over or job.state.is_terminal:
                if job.finished_at is None:  # (a job that lingered ended when its call did)
                    job.finished_at = time.time()
                job.lingering_until = None
                self.questions.withdraw_the_rest("withdrawn: the job ended")
            with anyio.CancelScope(shield=True):
                await self._write_last()

    async def _call(self) -> TaskEnd:
        """Connect and call the tool (or go back to its task); how it ended."""
        job, target = self.job, self._target
        if target is None:
            return TaskEnd(
                reason=f"this worker has no MCP server named {job.server!r} (give every process the same --config)"
            )
        if job.task is not None:
            return await self._reattach(target)
        outcome: ToolOutcome | TaskSnapshot | None = None
        end: TaskEnd | None = None
        try:
            with self._interruptible:
                async with self._link(target, keep_session=bool(job.as_task)) as link:
                    if self.stop_reason is None:
                        job.state = JobState.RUNNING
                        await self.write()
                    with self._call_scope():
                        outcome = await link.start(
                            job.tool, job.arguments, as_task=bool(job.as_task), ttl_ms=self._ttl_ms()
                        )
                    if isinstance(outcome, TaskSnapshot):
                        job.task = task_info(outcome, link.protocol_version, link.session_id)
                        run = TaskRun(job, self.recorder, self.questions, alive=self.recorder.touch)
                        run.note(outcome, "tools/call", always=True)
                        await self.write()  # from now on the task can be found again, whatever happens here
                        end = await self._follow(run, link)
                    elif job.linger and outcome is not None:
                        await self._linger(outcome)
        except LinkError as exc:
            self._server_news()
            if job.task is None:
                return TaskEnd(outcome if isinstance(outcome, ToolOutcome) else None, reason=str(exc))
        if end is not None:
            return end
        if job.task is None:
            return TaskEnd(outcome if isinstance(outcome, ToolOutcome) else None)
        # The connection to the task's server was lost (or the job stopped before the task was followed).
        return await self._reconnect(target, TaskRun(job, self.recorder, self.questions, alive=self.recorder.touch))

    @contextlib.contextmanager
    def _call_scope(self) -> Iterator[None]:
        """While the call (or the task's polling) runs, a stop cancels only that, inside the open connection, so the
        server is told and the connection closes as usual; before or after it, a stop abandons the connection."""
        outer = self._interruptible
        try:
            with anyio.CancelScope() as self._interruptible:
                if self.stop_reason is not None or self.handing_over:
                    self._interruptible.cancel()
                yield
        finally:
            self._interruptible = outer

    def _link(self, target: Target, *, keep_session: bool = False) -> contextlib.AbstractAsyncContextManager[Link]:
        job = self.job
        return open_link(
            target,
            self.recorder,
            token=f"mcp-live-{job.id}",
            log_level=job.log_level,
            on_tools_changed=self._server_news,
            asker=self.questions,
            keep_session=keep_session,
        )

    def _ttl_ms(self) -> int:
        """The time to live asked for a task: as long as the job may run."""
        return int((self.job.max_duration or 3600.0) * 1000)

    async def _follow(self, run: TaskRun, link: Link) -> TaskEnd | None:
        """The task followed on `link` to its end, or to a stop: None when the connection was lost."""
        try:
            with self._call_scope():
                end = await run.follow(link)
        except LinkError as exc:
            if self.stop_reason is None and not self.handing_over:
                log.warning("job %s: lost the connection to its task's server, connecting again: %s", self.job.id, exc)
                return None
            end = None
        if self.handing_over:
            return HANDED_OVER
        if self.stop_reason is not None:
            # A stop by the user or a time limit (or the store): the server is told to cancel the task.
            with anyio.CancelScope(shield=True):
                late = await run.cancel(link)
            return late or TaskEnd()
        return end

    async def _reattach(self, target: Target) -> TaskEnd:
        """A task job taken over from a worker that stopped or was lost: its task, followed again."""
        job = self.job
        task = job.task
        assert task is not None
        if target.per_job:
            return TaskEnd(
                state=JobState.INTERRUPTED,
                reason=f"the MCP task {task.id} ended with its stdio server's process: a stdio server lives only "
                "as long as the dashboard process that started it",
            )
        if task.expires_at is not None and time.time() > task.expires_at:
            return TaskEnd(
                state=JobState.INTERRUPTED,
                reason=f"the MCP task {task.id} was lost: its time to live of {(task.ttl_ms or 0) / 1000:g} s "
                "passed while no worker followed it",
            )
        run = TaskRun(job, self.recorder, self.questions, alive=self.recorder.touch)
        run.note(TaskSnapshot(task.id, task.status, task.status_message), "tasks/get", always=True, said="re-attached")
        await self.write()
        return await self._reconnect(target, run)

    async def _reconnect(self, target: Target, run: TaskRun) -> TaskEnd:
        """Follow the task over new connections until it ends (or the job is stopped: then, connected, the server
        is told to cancel it)."""
        attempt = 0
        end: TaskEnd | None = None
        self._interruptible = anyio.CancelScope()
        with self._interruptible:
            while end is None:
                try:
                    async with self._task_link(target) as link:
                        end = await self._follow(run, link)
                except LinkError as exc:
                    if exc.code is not None and run.task.session_id is not None:
                        run.task.session_id = None  # its session is gone: a new one may still know the task
                    log.warning("job %s: cannot reach its task's server yet: %s", self.job.id, exc)
                    self._server_news()
                if end is None:
                    await anyio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
                    attempt += 1
        if end is not None:
            return end
        return HANDED_OVER if self.handing_over else TaskEnd()  # stopped while connecting: its stop reason says

    def _task_link(self, target: Target) -> contextlib.AbstractAsyncContextManager[Link]:
        """A connection that can speak to the job's task: on 2025 over streamable HTTP, back in its session."""
        task = self.job.task
        assert task is not None
        if not is_modern(task.revision) and task.session_id is not None and isinstance(target, HttpTarget):
            return open_session_link(
                target, self.recorder, f"mcp-live-{self.job.id}", task.session_id, task.revision, self.questions
            )
        return self._link(target, keep_session=True)

    async def _linger(self, outcome: ToolOutcome) -> None:
        """Keep the connection open `linger` seconds after the call: what the server sends meanwhile is the job's
        too, marked as after its end. The job's state is set now; its viewers' streams stay open till the end
        of the linger (or a stop: the dashboard shutting down)."""
        job = self.job
        self._finish(TaskEnd(outcome))
        job.finished_at = time.time()
        job.lingering_until = job.finished_at + job.linger
        self.recorder.after_end = True
        self._limits_scope.cancel()  # the time limits were the call's
        await self.write()
        await anyio.sleep(job.linger)

    def _finish(self, end: TaskEnd) -> None:
        job = self.job
        if end.outcome is not None:
            # A result that arrived wins over a stop requested too late to take effect.
            job.result = end.outcome.result
            if end.outcome.is_error:
                job.state, job.error = JobState.FAILED, end.outcome.text or "the tool reported an error"
            else:
                job.state = JobState.SUCCEEDED
        elif end.state is not None:
            job.state, job.error = end.state, end.reason
        elif self.stop_reason is not None:
            job.state, job.error = self.stop_reason
        else:
            job.state, job.error = JobState.FAILED, end.reason or "the call ended without a result"

    def _server_news(self) -> None:
        if self._news is not None:
            self._news()

    async def _watch_cancel(self) -> None:
        job_id = self.job.id
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
                self.stop(JobState.CANCELLED, "cancelled by the user")
                return
            await news.wait()

    # -- Writing ---------------------------------------------------------------------------------------------

    async def _write_on_news(self) -> None:
        pacer = Pacer(*WRITE_PACE)
        while True:
            await self.recorder.news.wait()
            await pacer.wait()
            await settle(self.recorder)
            pacer.handled(await self.write())

    async def write(self) -> int:
        """Store the events recorded so far with the job's fields, retrying while the store fails; return how
        many were stored.

        Events leave the recorder only once committed, so a failed write loses none and leaves no gap.
        """
        attempt = 0
        async with self._write_lock:
            while not self.lost:
                events, snapshot = self.recorder.pending()
                try:
                    # Never cancelled half-way: a write cut off after its commit leaves no one knowing it was made.
                    with anyio.CancelScope(shield=True):
                        await self._store.save_job(snapshot, events)
                except JobLost:
                    self._lose()
                    return 0
                except Exception as exc:
                    metrics.STORE_RETRIES.inc()
                    now = time.monotonic()
                    if self._store_failing_since is None:
                        self._store_failing_since = now
                        log.warning("job %s: could not write to the store, retrying: %s", snapshot.id, exc)
                    self._give_up_if_hopeless(now - self._store_failing_since, exc)
                    await anyio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
                    attempt += 1
                    continue
                self.recorder.committed(len(events))
                if self._store_failing_since is not None:
                    failed_for = time.monotonic() - self._store_failing_since
                    log.info("job %s: the store is written again, after %.1f s", snapshot.id, failed_for)
                    self._store_failing_since = None
                return len(events)
        return 0

    async def _write_last(self) -> None:
        """The job's final write. It is retried for as long as this worker lives: a job must never stay
        `running` in the store because one write failed. Should the worker stop first, its lease lapses
        and another process marks the job interrupted (at the next start, with SQLite)."""
        try:
            await self.write()
        except anyio.get_cancelled_exc_class():
            raise
        except Exception:  # pragma: no cover - write handles store errors itself
            log.exception("could not record the end of job %s", self.job.id)

    def _give_up_if_hopeless(self, failing_for: float, exc: Exception) -> None:
        if self.job.state.is_terminal or self.stop_reason is not None:
            return
        patience = self._settings.store_patience
        if failing_for > patience:
            reason = f"the store could not be written for {patience:g} s: {describe_error(exc)}"
        elif self.recorder.backlog > MAX_BACKLOG:
            reason = f"the store could not be written and {self.recorder.backlog:,} events are waiting"
        else:
            return
        log.error("job %s: %s", self.job.id, reason)
        self.stop(JobState.FAILED, reason)

    def _lose(self) -> None:
        if not self.lost:
            log.warning("job %s was settled by another process (this worker was taken for dead)", self.job.id)
        self.lost = True
        self.stop(JobState.INTERRUPTED, "taken for lost")

    # -- Limits ----------------------------------------------------------------------------------------------

    async def _enforce_limits(self) -> None:
        with self._limits_scope:
            await self._watch_limits()

    async def _watch_limits(self) -> None:
        job, recorder = self.job, self.recorder
        while True:
            deadlines: list[tuple[float, str]] = []
            if job.max_duration is not None:
                deadlines.append(
                    (self._started + job.max_duration, f"exceeded its maximum duration of {job.max_duration:g} s")
                )
            if job.idle_timeout is not None:
                # A question waiting for a person is no silence of the server's.
                last = time.monotonic() if job.waiting_questions else recorder.last_activity
                deadlines.append(
                    (
                        last + job.idle_timeout,
                        f"idle timeout: no notification from the server for {job.idle_timeout:g} s",
                    )
                )
            if not deadlines:
                return
            deadline, reason = min(deadlines)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop(JobState.TIMED_OUT, reason)
                return
            await anyio.sleep(min(remaining, 1.0) if job.waiting_questions else remaining)


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
