"""A job whose call runs as an MCP task, followed to its end: on the job's side of the wire (`mcp_link` speaks).

The task is polled at the server's interval (clamped to POLL_BOUNDS), and on 2025-11-25 its status notifications
wake the poll at once. Each new status or status message is a line of the job (kind `task`). Its questions go to
the person at the page: on 2025 they come on a `tasks/result` request held open while the task waits for input
(which also brings the outcome); on 2026 they are the task's `inputRequests`, each answered with `tasks/update`
and never twice. A cancel sends `tasks/cancel`. A task the server no longer knows (its TTL passed, its session
gone) ends the job `interrupted`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup

from webapp.events import QUESTION, REFUSED, Job, JobState, TaskInfo, iso_time
from webapp.mcp_link import (
    SESSION_GONE,
    TASK_NOT_FOUND,
    HttpTarget,
    Link,
    LinkError,
    Target,
    TaskSnapshot,
    ToolOutcome,
    is_modern,
    open_link,
    open_session_link,
)
from webapp.mcp_link.link import outcome_of
from webapp.mcp_link.task_wire import ENDED_STATUSES, TaskProtocolError, snapshot_of
from webapp.questions import ELICITATION, Questions
from webapp.recorder import Recorder

log = logging.getLogger(__name__)

POLL_BOUNDS = (0.1, 30.0)  # seconds: what a server asks for is clamped to these
DEFAULT_POLL = 1.0
CANCEL_PATIENCE = 10.0  # seconds to wait for a cancelled task to say it is cancelled
MOVED_ON_POLLS = 2  # polls in a row without input_required before a waiting question is taken as withdrawn


@dataclass(frozen=True, slots=True)
class TaskEnd:
    """How a task ended for its job: with the tool's outcome, or in a state with a reason."""

    outcome: ToolOutcome | None = None
    state: JobState | None = None
    reason: str | None = None


def task_info(snapshot: TaskSnapshot, revision: str, session_id: str | None) -> TaskInfo:
    return TaskInfo(
        id=snapshot.id,
        revision=revision,
        status=snapshot.status,
        status_message=snapshot.status_message,
        created_at=snapshot.created_at or time.time(),
        ttl_ms=snapshot.ttl_ms,
        poll_interval_ms=snapshot.poll_interval_ms,
        session_id=session_id,
    )


def poll_interval(task: TaskInfo) -> float:
    asked = task.poll_interval_ms / 1000 if task.poll_interval_ms is not None else DEFAULT_POLL
    low, high = POLL_BOUNDS
    return min(max(asked, low), high)


class TaskRun:
    """Follows `job.task` over any number of connections (a restart, a lost connection: the same task, again).

    `alive` is called whenever the server answers about the task: the job's idle timeout counts from there."""

    def __init__(self, job: Job, recorder: Recorder, questions: Questions, *, alive: Callable[[], None]) -> None:
        assert job.task is not None
        self.job = job
        self._recorder = recorder
        self._questions = questions
        self._alive = alive
        self._modern = is_modern(job.task.revision)
        # Server keys answered or refused: a 2026 input request is answered once, whatever later polls show.
        self._done: set[str] = {q.server_key for q in job.questions if q.server_key and not q.waiting}
        self._answering: set[str] = set()
        self._wake = anyio.Event()
        self._outcome: ToolOutcome | None = None  # 2025: what tasks/result brought
        self._result_call = False  # 2025: a tasks/result request is open
        self._moved_on = 0  # polls in a row that showed no input required while a question waited
        self._updated_at: float | None = None  # the newest lastUpdatedAt taken
        self.cancelled_by_us = False
        recorder.on_task_status = self.heard

    @property
    def task(self) -> TaskInfo:
        assert self.job.task is not None
        return self.job.task

    def note(self, snapshot: TaskSnapshot, method: str, *, always: bool = False, said: str | None = None) -> None:
        """Take what the server said of the task; a line when its status or status message changed. A status
        notification and a poll's answer travel on different streams: one older than what was taken is stale."""
        task = self.task
        if self._stale(snapshot):
            return
        if snapshot.updated_at is not None:
            self._updated_at = snapshot.updated_at
        changed = (snapshot.status, snapshot.status_message) != (task.status, task.status_message)
        task.status, task.status_message = snapshot.status, snapshot.status_message
        if snapshot.poll_interval_ms is not None:
            task.poll_interval_ms = snapshot.poll_interval_ms
        if snapshot.ttl_ms is not None:
            task.ttl_ms = snapshot.ttl_ms
        if changed or always:
            data = {"taskId": task.id, "status": task.status, "statusMessage": task.status_message}
            if said is not None:
                data["dashboard"] = said
            self._recorder.task(method, task.status, said or task.status_message, data)

    def _stale(self, snapshot: TaskSnapshot) -> bool:
        if self.task.status in ENDED_STATUSES and snapshot.status != self.task.status:
            return True  # an ended task never runs again
        newest, said = self._updated_at, snapshot.updated_at
        return newest is not None and said is not None and said < newest

    def heard(self, params: dict[str, object]) -> None:
        """A status notification (2025): the job's task's is taken, and wakes the poll; any other is a line."""
        try:
            snapshot = snapshot_of(params)
        except TaskProtocolError:
            snapshot = None
        if snapshot is None or snapshot.id != self.task.id:
            self._recorder.notification("notifications/tasks/status", params)
            return
        self.note(snapshot, "notifications/tasks/status")
        self._wake.set()

    async def follow(self, link: Link) -> TaskEnd:
        """Poll the task on `link` until it ends. LinkError: the connection failed (the task may well live on). What
        the server says that is no task (an id too long, an unknown status, a result that is no tool's) fails the
        job."""
        odd: BaseException | None = None
        try:
            async with anyio.create_task_group() as helpers:
                end = await self._poll(link, helpers)
                helpers.cancel_scope.cancel()
        except* TaskProtocolError as group:
            odd = group.exceptions[0]
        if odd is not None:
            return TaskEnd(state=JobState.FAILED, reason=str(odd))
        return end

    async def _poll(self, link: Link, helpers: TaskGroup) -> TaskEnd:
        while True:
            self._wake = anyio.Event()
            try:
                snapshot = await link.get_task(self.task.id)
            except LinkError as exc:
                if self._forgotten(exc):
                    return self._gone(f"the server no longer knows it ({exc})")
                raise
            self._alive()
            self.note(snapshot, "tasks/get")
            if snapshot.ended:
                return await self._end(link, snapshot)
            if snapshot.status == "input_required":
                self._moved_on = 0
                if self._modern:
                    self._answer_inputs(link, snapshot, helpers)
                elif not self._result_call:
                    helpers.start_soon(self._await_result, link)
            else:
                self._withdraw_if_moved_on()
            if self._outcome is not None:
                return TaskEnd(self._outcome)
            with anyio.move_on_after(poll_interval(self.task)):
                await self._wake.wait()

    def _forgotten(self, exc: LinkError) -> bool:
        return exc.code == TASK_NOT_FOUND or (not self._modern and exc.code in SESSION_GONE)

    def _gone(self, why: str) -> TaskEnd:
        task = self.task
        expired = task.expires_at is not None and time.time() > task.expires_at
        ttl = f"; its time to live of {task.ttl_ms / 1000:g} s has passed" if expired and task.ttl_ms else ""
        return TaskEnd(state=JobState.INTERRUPTED, reason=f"the MCP task {task.id} was lost: {why}{ttl}")

    async def _end(self, link: Link, snapshot: TaskSnapshot) -> TaskEnd:
        if snapshot.status == "cancelled":
            if self.cancelled_by_us:
                return TaskEnd(state=JobState.CANCELLED, reason="cancelled by the user")
            said = f": {snapshot.status_message}" if snapshot.status_message else ""
            return TaskEnd(state=JobState.CANCELLED, reason=f"the server cancelled the task{said}")
        if self._modern:
            if snapshot.status == "failed" or snapshot.result is None:
                error = snapshot.error or {}
                said = f"MCP error {error.get('code', '?')}: {error.get('message', 'no reason given')}"
                return TaskEnd(state=JobState.FAILED, reason=f"the task failed: {said}")
            try:
                return TaskEnd(outcome_of(snapshot.result))
            except TaskProtocolError as exc:
                return TaskEnd(state=JobState.FAILED, reason=str(exc))
        if self._outcome is not None:
            return TaskEnd(self._outcome)
        try:
            return TaskEnd(await link.task_result(self.task.id))
        except LinkError as exc:
            if self._forgotten(exc) and exc.code == TASK_NOT_FOUND:
                return self._gone(str(exc))
            return TaskEnd(state=JobState.FAILED, reason=f"the task failed: {exc}")

    async def _await_result(self, link: Link) -> None:
        """2025: tasks/result, held open by the server while the task works; the task's questions come on its
        stream (to our elicitation callback), and its outcome at the end."""
        self._result_call = True
        try:
            self._outcome = await link.task_result(self.task.id)
        except LinkError as exc:
            log.info("job %s: tasks/result ended without the outcome: %s", self.job.id, exc)
        finally:
            self._result_call = False
            self._wake.set()

    def _answer_inputs(self, link: Link, snapshot: TaskSnapshot, helpers: TaskGroup) -> None:
        """2026: each input request not seen before is a line; questions go to the person, the rest is refused
        (nothing is sent for them)."""
        asked_before = {q.server_key for q in self.job.questions}
        for key, request in snapshot.input_requests.items():
            if key in self._done or key in self._answering:
                continue
            method = request.get("method") if isinstance(request, dict) else None
            params = request.get("params") if isinstance(request, dict) else None
            if method != ELICITATION:
                self._recorder.request(str(method), params or {}, REFUSED)
                self._done.add(key)
                continue
            if key not in asked_before:
                self._recorder.request(ELICITATION, params or {}, QUESTION)
            self._answering.add(key)
            helpers.start_soon(self._answer_one, link, key, request)

    async def _answer_one(self, link: Link, key: str, request: object) -> None:
        try:
            response = await link.answer_input(key, request)
            if response is not None:
                await link.update_task(self.task.id, {key: response})
            self._done.add(key)
        except LinkError as exc:
            log.warning("job %s: could not answer input request %s: %s", self.job.id, key, exc)
        finally:
            self._answering.discard(key)
        self._wake.set()

    def _withdraw_if_moved_on(self) -> None:
        """The task works on while a question waits: after MOVED_ON_POLLS polls the server has moved on without
        the answer (server-everything declines for itself after 60 s, and says nothing)."""
        if not self.job.waiting_questions:
            self._moved_on = 0
            return
        self._moved_on += 1
        if self._moved_on >= MOVED_ON_POLLS:
            for key in self._questions.asking:
                self._questions.withdraw(key)
            self._questions.withdraw_the_rest("withdrawn: the task went on without an answer")

    async def cancel(self, link: Link) -> TaskEnd | None:
        """tasks/cancel, then the task's last word: its outcome if it ended otherwise first (a result wins over a
        cancel that came too late), else None."""
        self.cancelled_by_us = True
        with anyio.move_on_after(CANCEL_PATIENCE):
            try:
                await link.cancel_task(self.task.id)
            except LinkError as exc:
                log.info("job %s: tasks/cancel: %s", self.job.id, exc)
            while True:
                try:
                    snapshot = await link.get_task(self.task.id)
                except LinkError:
                    return None
                self.note(snapshot, "tasks/get")
                if snapshot.ended:
                    return None if snapshot.status == "cancelled" else await self._end(link, snapshot)
                await anyio.sleep(POLL_BOUNDS[0])
        return None


# ---- A server's tasks, as it lists them (2025-11-25) ----------------------------------------------------------

LIST_PATIENCE = 5.0  # seconds to ask a server (and each session of its running task jobs) for its tasks


@dataclass(frozen=True, slots=True)
class ListedTask:
    task: TaskSnapshot
    job_id: str | None  # the job whose call runs as this task, if it is one of ours

    def to_json(self) -> dict[str, object]:
        task = self.task
        return {
            "id": task.id,
            "status": task.status,
            "status_message": task.status_message,
            "created_at": iso_time(task.created_at) if task.created_at is not None else None,
            "ttl_ms": task.ttl_ms,
            "job": self.job_id,
        }


async def list_server_tasks(target: Target, jobs: Sequence[Job]) -> list[ListedTask]:
    """The tasks a 2025 server lists (`tasks/list`), from a session of our own and from the sessions of `jobs` (a
    server may keep tasks per session), merged; each linked to its job when it is one of ours. LinkError when the
    server cannot be asked."""
    ours = {job.task.id: job.id for job in jobs if job.task is not None}
    sessions = {job.task.session_id for job in jobs if job.task is not None and job.task.session_id}
    found: dict[str, TaskSnapshot] = {}
    sink = Recorder(Job(id="(tasks/list)", tool="", arguments={}, idle_timeout=None, max_duration=None))
    legacy = dataclasses.replace(target, protocol="legacy")
    with anyio.fail_after(LIST_PATIENCE):
        async with open_link(legacy, sink, "mcp-live-tasks") as link:
            for task in await link.list_tasks():
                found[task.id] = task
        for session_id in sorted(sessions):
            if not isinstance(target, HttpTarget):
                break
            try:
                async with open_session_link(target, sink, "mcp-live-tasks", session_id, "2025-11-25") as link:
                    for task in await link.list_tasks():
                        found.setdefault(task.id, task)
            except LinkError:
                continue  # that session is gone: its tasks with it
    listed = [ListedTask(task, ours.get(task.id)) for task in found.values()]
    return sorted(listed, key=lambda item: item.task.created_at or 0.0, reverse=True)
