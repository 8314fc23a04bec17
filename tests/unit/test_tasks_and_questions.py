"""MCP Tasks and questions, piece by piece: what the server says of a task (checked), where its answer leaves the
call, the poll interval, and a job's questions on a real store: asked, answered (first answer wins), declined in
time, withdrawn, asked again after a restart."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.message import SessionMessage
from mcp.types import JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

from webapp.events import QUESTION, REFUSED, Job, JobState, ProgressNote, TaskInfo
from webapp.hub import Hub, job_topic
from webapp.mcp_link import Ask, Reply
from webapp.mcp_link.tap import Tap
from webapp.mcp_link.task_wire import TaskProtocolError, snapshot_of
from webapp.questions import InvalidAnswer, Questions, answer, waiting_questions
from webapp.recorder import Recorder
from webapp.store import Answer, Store, WorkerInfo, open_store
from webapp.tasks import POLL_BOUNDS, TaskRun, poll_interval

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


# ---- What a server says of a task ---------------------------------------------------------------------------


def test_a_task_is_read_from_either_revisions_shape() -> None:
    legacy = snapshot_of(
        {"taskId": "t1", "status": "working", "ttl": 60000, "pollInterval": 500, "createdAt": "2026-12-04T10:00:00Z"}
    )
    assert (legacy.id, legacy.status, legacy.ttl_ms, legacy.poll_interval_ms) == ("t1", "working", 60000, 500)
    assert legacy.created_at == 1796378400.0
    modern = snapshot_of(
        {
            "taskId": "t2",
            "status": "input_required",
            "statusMessage": "asking",
            "ttlMs": 1000,
            "pollIntervalMs": 250,
            "inputRequests": {"k": {"method": "elicitation/create", "params": {"message": "?"}}},
        }
    )
    assert (modern.status_message, modern.ttl_ms, modern.poll_interval_ms) == ("asking", 1000, 250)
    assert modern.input_requests == {"k": {"method": "elicitation/create", "params": {"message": "?"}}}


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ({"taskId": "x" * 257, "status": "working"}, "an id of 257 characters (at most 256)"),
        ({"taskId": "t", "status": "paused"}, "unknown status 'paused'"),
        ({"taskId": "", "status": "working"}, "no id"),
        ({"status": "working"}, "no id"),
        ("not a task", "not an object"),
    ],
)
def test_a_task_the_dashboard_cannot_keep_is_refused_with_a_reason(raw: Any, says: str) -> None:
    with pytest.raises(TaskProtocolError, match=re.escape(says)):
        snapshot_of(raw)


@pytest.mark.parametrize(("asked", "used"), [(0, POLL_BOUNDS[0]), (3_600_000, POLL_BOUNDS[1]), (500, 0.5), (None, 1.0)])
def test_the_servers_poll_interval_is_clamped(asked: int | None, used: float) -> None:
    assert poll_interval(TaskInfo("t", "2025-11-25", poll_interval_ms=asked)) == used


# ---- The tap: an answer that makes the call a task does not end it -------------------------------------------


def tap_for(recorder: Recorder) -> Tap:
    tap = Tap(recorder, "tok", None)
    tap.outgoing(SessionMessage(JSONRPCRequest(jsonrpc="2.0", id=7, method="tools/call", params={})))
    return tap


def progress(tap: Tap, n: int) -> None:
    params = {"progressToken": "tok", "progress": n, "total": 10}
    tap.incoming(SessionMessage(JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params=params)))


@pytest.mark.parametrize(
    ("result", "late"),
    [
        ({"task": {"taskId": "t", "status": "working"}}, False),  # 2025: the call goes on as a task
        ({"resultType": "task", "taskId": "t", "status": "working"}, False),  # 2026
        ({"content": [], "isError": False}, True),  # a plain answer: later progress is late
    ],
)
def test_progress_after_a_task_answer_still_moves_the_bar(result: dict[str, Any], late: bool) -> None:
    recorder = Recorder(Job(id="j", tool="t", arguments={}, idle_timeout=None, max_duration=None))
    tap = tap_for(recorder)
    tap.incoming(SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=7, result=result)))
    progress(tap, 1)
    events, _ = recorder.pending()
    assert events[-1].note == (ProgressNote.AFTER_END if late else None)


def test_a_2026_input_required_answer_records_each_request_as_a_line() -> None:
    recorder = Recorder(Job(id="j", tool="t", arguments={}, idle_timeout=None, max_duration=None))
    tap = tap_for(recorder)
    requests = {
        "ask": {"method": "elicitation/create", "params": {"message": "Ship it?", "requestedSchema": SCHEMA}},
        "model": {"method": "sampling/createMessage", "params": {"messages": []}},
    }
    tap.incoming(
        SessionMessage(
            JSONRPCResponse(
                jsonrpc="2.0",
                id=7,
                result={"resultType": "input_required", "inputRequests": requests, "requestState": "s"},
            )
        )
    )
    events, _ = recorder.pending()
    assert [(e.kind, e.method, e.note) for e in events] == [
        ("request", "elicitation/create", QUESTION),
        ("request", "sampling/createMessage", REFUSED),
    ]
    assert recorder.question_seq("Ship it?") == 1
    progress(tap, 1)
    assert recorder.pending()[0][-1].note is None  # the call goes on: the retry follows


def test_a_status_notification_goes_to_the_jobs_task_runner() -> None:
    recorder = Recorder(Job(id="j", tool="t", arguments={}, idle_timeout=None, max_duration=None))
    heard: list[dict[str, Any]] = []
    recorder.on_task_status = heard.append
    tap = Tap(recorder, "tok", None)
    params = {"taskId": "t", "status": "working"}
    assert tap.incoming(
        SessionMessage(JSONRPCNotification(jsonrpc="2.0", method="notifications/tasks/status", params=params))
    )
    assert heard == [params] and recorder.backlog == 0


# ---- Questions, on a real store ------------------------------------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(str(tmp_path / "jobs.sqlite3"), Hub()) as opened:
        yield opened


async def running_job(store: Store) -> Job:
    job = Job(id="j", tool="t", arguments={}, idle_timeout=None, max_duration=None)
    await store.create_job(job)
    await store.renew_lease(WORKER, 60)
    claimed = await store.claim_job(WORKER.id)
    assert claimed is not None
    claimed.state = JobState.RUNNING
    await store.save_job(claimed)
    return claimed


WORKER = WorkerInfo("w", "h", 1, 0.0)


def desk(job: Job, store: Store, timeout: float = 60.0) -> tuple[Questions, Recorder]:
    recorder = Recorder(job)

    async def save() -> None:
        events, snapshot = recorder.pending()
        await store.save_job(snapshot, events)
        recorder.committed(len(events))

    return Questions(job, recorder, store, store.hub, timeout=timeout, save=save), recorder


def ask(message: str = "Which colour?", key: str | None = None) -> Ask:
    return Ask(message, "form", SCHEMA, None, key, {"message": message, "requestedSchema": SCHEMA})


@pytest.mark.anyio
async def test_a_question_waits_for_a_persons_answer_checked_against_its_schema(store: Store) -> None:
    job = await running_job(store)
    questions, recorder = desk(job, store)
    recorder.request("elicitation/create", {"message": "Which colour?"}, QUESTION)
    replies: list[Reply] = []
    async with anyio.create_task_group() as tg:
        await asked(store, tg, lambda: _append(replies, questions.ask(ask())))
        stored = await store.get_job("j")
        assert stored is not None and stored.state is JobState.INPUT_REQUIRED
        assert [q.key for q in await waiting_questions(store, stored)] == ["q1"]
        assert stored.questions[0].seq == 1  # its request's line
        with pytest.raises(InvalidAnswer) as wrong:
            await answer(store, stored, "q1", "accept", {"answer": 7})
        assert wrong.value.status_code == 422 and "is not of type" in wrong.value.message
        with pytest.raises(InvalidAnswer) as unknown:
            await answer(store, stored, "q9", "accept", {})
        assert unknown.value.status_code == 404
        await answer(store, stored, "q1", "accept", {"answer": "blue"})
        with pytest.raises(InvalidAnswer) as twice:
            await answer(store, stored, "q1", "decline", None)
        assert twice.value.status_code == 409
    assert replies == [Reply("accept", {"answer": "blue"})]
    assert job.state is JobState.RUNNING and job.questions[0].state == "answered"
    events = await store.events_after("j", 0, 100)
    assert [(e.kind, e.data) for e in events if e.kind == "answer"] == [
        ("answer", {"key": "q1", "action": "accept", "content": {"answer": "blue"}})
    ]


async def _append(replies: list[Reply], waiting: Any) -> None:
    replies.append(await waiting)


async def asked(store: Store, tg: Any, asking: Any) -> None:
    """Start `asking` and wait (bounded) until the question is written down: the job's news says so."""
    news = store.hub.watch(job_topic("j"))
    tg.start_soon(asking)
    with anyio.fail_after(5):
        await news.wait()


@pytest.mark.anyio
async def test_a_question_no_one_answers_in_time_is_declined_and_a_line_says_so(store: Store) -> None:
    job = await running_job(store)
    questions, _ = desk(job, store, timeout=0.2)
    with anyio.fail_after(5):
        reply = await questions.ask(ask())
    assert reply == Reply("decline")
    assert job.questions[0].state == "declined"
    line = [e for e in await store.events_after("j", 0, 100) if e.kind == "answer"][-1]
    assert line.note == "declined: no answer within 0.2 s (--input-timeout)"
    kept = await store.answer_of("j", "q1")
    assert kept is not None and (kept.action, kept.by) == ("decline", "timeout")  # a person's answer now is a 409


@pytest.mark.anyio
async def test_a_withdrawn_question_is_cancelled_and_one_asked_again_after_a_restart_is_the_same(store: Store) -> None:
    job = await running_job(store)
    questions, _ = desk(job, store)
    replies: list[Reply] = []
    async with anyio.create_task_group() as tg:
        await asked(store, tg, lambda: _append(replies, questions.ask(ask(key="srv-1"))))
        questions.withdraw("q1")
    assert replies == [Reply("cancel")] and job.questions[0].state == "withdrawn"
    # A question still waiting when its worker stopped is asked again by the next one: the same question.
    job.questions[0].state = "waiting"
    again, _ = desk(job, store)
    async with anyio.create_task_group() as tg:
        await asked(store, tg, lambda: _append(replies, again.ask(ask(key="srv-1"))))
        await store.answer_question("j", "q1", Answer("accept", {"answer": "red"}, time.time()))
    assert replies[-1] == Reply("accept", {"answer": "red"})
    assert [q.key for q in job.questions] == ["q1"]


@pytest.mark.anyio
async def test_a_status_older_than_one_taken_is_stale_and_an_ended_task_never_runs_again(store: Store) -> None:
    # A status notification and a poll's answer come by different streams: the older can arrive last.
    job = await running_job(store)
    job.task = TaskInfo("t1", "2025-11-25")
    questions, recorder = desk(job, store)
    run = TaskRun(job, recorder, questions, alive=lambda: None)

    def said(status: str, message: str, second: int) -> dict[str, Any]:
        stamp = f"2026-12-05T08:00:0{second}Z"
        return {"taskId": "t1", "status": status, "statusMessage": message, "lastUpdatedAt": stamp}

    run.heard(said("working", "step 2/4", 2))
    run.note(snapshot_of(said("working", "step 3/4", 3)), "tasks/get")
    run.heard(said("working", "step 2/4", 2))  # late: older than step 3
    run.note(snapshot_of(said("completed", "done", 4)), "tasks/get")
    run.heard(said("working", "step 3/4", 3))  # late: after the end
    run.heard({"taskId": "t1", "status": "working", "statusMessage": "no stamp"})  # an ended task stays ended
    lines = [(e.data["status"], e.data["statusMessage"]) for e in recorder.pending()[0] if e.kind == "task"]
    assert lines == [("working", "step 2/4"), ("working", "step 3/4"), ("completed", "done")]
    assert (job.task.status, job.task.status_message) == ("completed", "done")
