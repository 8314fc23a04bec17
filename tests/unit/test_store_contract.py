"""The contract every store keeps, run on each backend: SQLite and a real PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence

import anyio
import pytest

from webapp.events import Event, Job, JobState, Question, TaskInfo
from webapp.hub import JOBS, QUEUE, Hub, answer_topic, cancel_topic, job_topic, server_topic
from webapp.store import Answer, EventCounts, EventFilter, JobLost, Store, WorkerInfo, counts_of, open_store
from webapp.store.postgres import PostgresStore

pytestmark = pytest.mark.anyio

WORKER = WorkerInfo("w1", "host-a", 101, 1.0)
OTHER = WorkerInfo("w2", "host-b", 202, 2.0)


def make_job(job_id: str, created_at: float = 1.0) -> Job:
    return Job(
        id=job_id, tool="run_job", arguments={"steps": 3}, idle_timeout=10, max_duration=60, created_at=created_at
    )


@pytest.fixture
async def store(db: str) -> AsyncIterator[Store]:
    async with open_store(db, Hub()) as opened:
        yield opened


async def running(store: Store, job_id: str, worker: WorkerInfo = WORKER) -> Job:
    """A job as a worker holds it once it has taken it from the queue."""
    await store.renew_lease(worker, 60)
    await store.create_job(make_job(job_id))
    job = await store.claim_job(worker.id)
    assert job is not None and job.id == job_id
    job.state = JobState.RUNNING
    await store.save_job(job)
    return job


def logs(job_id: str, seqs: range) -> list[Event]:
    return [Event(job_id, seq, "log", float(seq), level="info", logger="l", data={"n": seq}) for seq in seqs]


async def test_jobs_and_events_survive_reopening(db: str) -> None:
    events = [
        Event("a1", 1, "log", 101.0, level="warning", logger="w", data={"nested": ["x", 1, None], "nan": math.nan}),
        Event("a1", 2, "progress", 102.0, progress=1, total=3, message="one of three"),
        Event("a1", 3, "notification", 103.0, data={"uri": "x://y"}, method="notifications/resources/updated"),
        Event("a1", 4, "request", 104.0, data={}, method="roots/list", note="refused"),
    ]
    async with open_store(db, Hub()) as store:
        job = await running(store, "a1")
        job.last_seq, job.progress, job.total = 4, 1, 3
        await store.save_job(job, events)
    async with open_store(db, Hub()) as reopened:
        assert await reopened.get_job("a1") == job
        stored = await reopened.events_after("a1", 0, 10)
    assert stored[1:] == events[1:]
    assert stored[0].data == {"nested": ["x", 1, None], "nan": "nan"}  # JSON has no NaN: kept as text


async def test_events_after_pages_in_seq_order(store: Store) -> None:
    job = await running(store, "p")
    for start in (1, 4):
        job.last_seq = start + 2
        await store.save_job(job, logs("p", range(start, start + 3)))
    assert [e.seq for e in await store.events_after("p", 0, 4)] == [1, 2, 3, 4]
    assert [e.seq for e in await store.events_after("p", 4, 100)] == [5, 6]
    assert await store.events_after("p", 6, 100) == []
    assert await store.events_after("other", 0, 100) == []


async def test_a_job_and_its_events_are_read_as_one_snapshot(store: Store) -> None:
    job = await running(store, "s")
    job.last_seq, job.message = 3, "three"
    await store.save_job(job, logs("s", range(1, 4)))
    read, events = await store.job_and_events_after("s", 1, 10)
    assert read is not None and (read.last_seq, read.message) == (3, "three")
    assert [e.seq for e in events] == [2, 3]
    assert await store.job_and_events_after("nope", 0, 10) == (None, [])


async def test_a_retried_save_stores_each_event_once(store: Store) -> None:
    job = await running(store, "d")
    job.last_seq = 2
    await store.save_job(job, logs("d", range(1, 3)))
    # The worker never heard that this commit was made (a lost answer, a dropped connection): it writes the
    # same events again, with the ones recorded since.
    job.last_seq, job.message = 4, "kept"
    await store.save_job(job, logs("d", range(1, 5)))
    stored = await store.get_job("d")
    assert stored is not None and (stored.last_seq, stored.message) == (4, "kept")
    assert [e.seq for e in await store.events_after("d", 0, 10)] == [1, 2, 3, 4]


async def test_a_failed_save_writes_nothing_at_all(store: Store) -> None:
    job = await running(store, "f")
    job.last_seq, job.message = 2, "not kept"
    bad = logs("f", range(1, 3))
    bad[1] = Event("f", 2, None, 1.0)  # type: ignore[arg-type]  # a row the table refuses: no kind
    with pytest.raises(Exception, match=r"(?i)not.null|null value"):
        await store.save_job(job, bad)
    stored = await store.get_job("f")
    assert stored is not None and (stored.last_seq, stored.message) == (0, None)
    assert await store.events_after("f", 0, 10) == []


async def test_a_jobs_count_of_warnings_and_worse_is_written_with_its_fields_and_read_everywhere(db: str) -> None:
    async with open_store(db, Hub()) as store:
        job = await running(store, "w")
        assert job.warnings == 0  # a new job, and a job of a store made before the count existed
        job.last_seq, job.warnings = 3, 2
        await store.save_job(job, logs("w", range(1, 4)))
        job.last_seq, job.warnings, job.state = 4, 3, JobState.SUCCEEDED
        await store.save_job(job, logs("w", range(4, 5)))
        listed = await store.list_jobs(10)
        assert [(j.id, j.warnings) for j in listed] == [("w", 3)]
    async with open_store(db, Hub()) as reopened:  # read from the database itself, not what its writer kept
        stored = await reopened.get_job("w")
        assert stored is not None and stored.warnings == 3
        snapshot, _ = await reopened.job_and_events_after("w", 0, 10)
        assert snapshot is not None and snapshot.warnings == 3
        assert [j.warnings for j in await reopened.list_jobs(10, tool="run_job")] == [3]


async def test_jobs_are_listed_newest_first(store: Store) -> None:
    for job_id, created in [("old", 1.0), ("new", 3.0), ("mid", 2.0)]:
        await store.create_job(make_job(job_id, created))
    assert [j.id for j in await store.list_jobs()] == ["new", "mid", "old"]
    assert [j.id for j in await store.list_jobs(limit=1)] == ["new"]


async def test_a_new_job_is_queued_and_wakes_workers_lists_and_viewers(store: Store) -> None:
    hub = store.hub
    woken = [hub.watch(QUEUE), hub.watch(JOBS), hub.watch(job_topic("q"))]
    await store.create_job(make_job("q"))
    with anyio.fail_after(5):
        for event in woken:
            await event.wait()
    job = await store.get_job("q")
    assert job is not None and (job.state, job.worker) == (JobState.QUEUED, None)


async def test_workers_take_the_oldest_job_first_and_never_the_same_one(store: Store) -> None:
    for n in range(12):
        await store.create_job(make_job(f"j{n:02d}", created_at=100.0 + n))
    first = await store.claim_job("w1")
    assert first is not None and (first.id, first.state, first.worker) == ("j00", JobState.STARTING, "w1")
    taken: list[tuple[str, str]] = []

    async def take_all(worker_id: str) -> None:
        while (job := await store.claim_job(worker_id)) is not None:
            taken.append((job.id, worker_id))

    async with anyio.create_task_group() as tg:
        for worker_id in ("w1", "w2", "w3"):
            tg.start_soon(take_all, worker_id)
    assert sorted(job_id for job_id, _ in taken) == [f"j{n:02d}" for n in range(1, 12)]
    assert await store.claim_job("w1") is None


async def test_only_the_worker_that_took_a_job_may_write_it(store: Store) -> None:
    job = await running(store, "mine")
    stranger = job.copy()
    stranger.worker, stranger.last_seq = "w2", 1
    with pytest.raises(JobLost):
        await store.save_job(stranger, logs("mine", range(1, 2)))
    assert await store.events_after("mine", 0, 10) == []


async def test_a_job_once_ended_takes_no_more_writes(store: Store) -> None:
    job = await running(store, "done")
    job.state, job.finished_at = JobState.SUCCEEDED, 5.0
    await store.save_job(job)
    job.last_seq = 1
    with pytest.raises(JobLost):
        await store.save_job(job, logs("done", range(1, 2)))


async def test_a_queued_job_is_cancelled_at_once(store: Store) -> None:
    await store.create_job(make_job("q"))
    job = await store.request_cancel("q", 7.0)
    assert job is not None
    assert (job.state, job.error, job.finished_at) == (JobState.CANCELLED, "cancelled by the user before it started", 7)
    assert await store.claim_job("w1") is None  # no worker will start it


async def test_a_running_job_reads_cancelling_and_its_worker_is_told(store: Store) -> None:
    job = await running(store, "r")
    hub = store.hub
    told = hub.watch(cancel_topic("r"))
    shown = await store.request_cancel("r", 7.0)
    assert shown is not None and (shown.state, shown.cancel_requested) == (JobState.CANCELLING, True)
    with anyio.fail_after(5):
        await told.wait()
    # The worker writes on, unaware of the flag; readers still see `cancelling` until it ends the job.
    job.last_seq = 1
    await store.save_job(job, logs("r", range(1, 2)))
    stored = await store.get_job("r")
    assert stored is not None and stored.state is JobState.CANCELLING
    job.state, job.error, job.finished_at = JobState.CANCELLED, "cancelled by the user", 8.0
    await store.save_job(job)
    stored = await store.get_job("r")
    assert stored is not None and stored.state is JobState.CANCELLED


async def test_cancelling_an_ended_or_unknown_job_changes_nothing(store: Store) -> None:
    job = await running(store, "e")
    job.state, job.finished_at = JobState.SUCCEEDED, 3.0
    await store.save_job(job)
    ended = await store.request_cancel("e", 9.0)
    assert ended is not None and (ended.state, ended.finished_at) == (JobState.SUCCEEDED, 3.0)
    assert await store.request_cancel("nope", 9.0) is None


async def test_jobs_of_a_worker_whose_lease_lapsed_are_interrupted_and_keep_their_events(store: Store) -> None:
    lost = await running(store, "lost", WORKER)
    lost.last_seq = 3
    await store.save_job(lost, logs("lost", range(1, 4)))
    await running(store, "alive", OTHER)
    await store.renew_lease(WORKER, -1)  # its last renewal has run out
    assert await store.interrupt_jobs_of_lost_workers() == ["lost"]
    job = await store.get_job("lost")
    assert job is not None and job.state is JobState.INTERRUPTED
    assert job.error == (
        "the worker w1 on host-a (pid 101) was lost while running the job: it stopped renewing its lease"
    )
    assert [e.seq for e in await store.events_after("lost", 0, 10)] == [1, 2, 3]
    alive = await store.get_job("alive")
    assert alive is not None and alive.state is JobState.RUNNING
    assert await store.interrupt_jobs_of_lost_workers() == []
    with pytest.raises(JobLost):  # should the lost worker come back, its writes are refused
        await store.save_job(lost)


async def test_interrupt_unfinished_leaves_queued_and_ended_jobs_alone(store: Store) -> None:
    await running(store, "r")
    await store.create_job(make_job("q"))
    await store.create_job(make_job("c"))
    await store.request_cancel("c", 2.0)
    assert await store.interrupt_unfinished("the dashboard stopped", 9.0) == ["r"]
    states = {job.id: job.state for job in await store.list_jobs()}
    assert states == {"r": JobState.INTERRUPTED, "q": JobState.QUEUED, "c": JobState.CANCELLED}


@pytest.mark.parametrize("backend", ["postgres"])
async def test_news_reaches_every_process_that_shares_the_database(db: str) -> None:
    web_hub, worker_hub = Hub(), Hub()
    async with open_store(db, web_hub) as web, open_store(db, worker_hub) as worker_side:
        queue = worker_hub.watch(QUEUE)
        await web.create_job(make_job("x"))
        with anyio.fail_after(5):
            await queue.wait()
        await worker_side.renew_lease(WORKER, 60)
        job = await worker_side.claim_job(WORKER.id)
        assert job is not None
        line = web_hub.watch(job_topic("x"))
        job.state, job.last_seq = JobState.RUNNING, 1
        await worker_side.save_job(job, logs("x", range(1, 2)))
        with anyio.fail_after(5):
            await line.wait()
        cancel = worker_hub.watch(cancel_topic("x"))
        await web.request_cancel("x", 3.0)
        with anyio.fail_after(5):
            await cancel.wait()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_the_writers_own_reads_see_a_change_made_by_another_process(db: str) -> None:
    writer_hub = Hub()
    async with open_store(db, writer_hub) as writer_side, open_store(db, Hub()) as web:
        job = await running(writer_side, "x")
        job.last_seq = 2
        await writer_side.save_job(job, logs("x", range(1, 3)))
        read, events = await writer_side.job_and_events_after("x", 1, 10)  # what it just wrote
        assert read is not None and read.state is JobState.RUNNING and [e.seq for e in events] == [2]
        # The cancel's own news (after its plain `job:x`, as NOTIFYs come in commit order); a wake-up on `job:x`
        # might be the worker's write arriving late. Until then the writer's row may lag a moment behind.
        heard = writer_hub.watch(cancel_topic("x"))
        await web.request_cancel("x", 5.0)
        with anyio.fail_after(5):
            await heard.wait()
        read, events = await writer_side.job_and_events_after("x", 0, 10)
        assert read is not None and (read.state, read.cancel_requested) == (JobState.CANCELLING, True)
        assert [e.seq for e in events] == [1, 2]
        job.last_seq = 3  # the worker writes on, unaware: the row it gets back carries the flag
        await writer_side.save_job(job, logs("x", range(3, 4)))
        read, events = await writer_side.job_and_events_after("x", 2, 10)
        assert read is not None and read.state is JobState.CANCELLING and [e.seq for e in events] == [3]


class _ReadJustBeforeRemembered(PostgresStore):
    """The moment that hung viewers: a reader, woken by the write's own NOTIFY arriving early, has read just
    before the store remembered the write, found nothing new, and waits for the next news."""

    waiting: anyio.Event | None = None

    def _remember(self, job: Job, events: Sequence[Event]) -> None:
        self.waiting = self.hub.watch(job_topic(job.id))
        super()._remember(job, events)


@pytest.mark.parametrize("backend", ["postgres"])
async def test_regression_a_reader_that_read_just_before_a_write_was_remembered_is_woken_again(db: str) -> None:
    async with _ReadJustBeforeRemembered(db, Hub()) as store:
        job = await running(store, "x")
        job.state, job.last_seq, job.finished_at = JobState.SUCCEEDED, 1, 2.0  # a last write: no news after it
        await store.save_job(job, logs("x", range(1, 2)))
        assert store.waiting is not None and store.waiting.is_set()  # at once, not only if the NOTIFY came
        read, _ = await store.job_and_events_after("x", 1, 10)
        assert read is not None and read.state is JobState.SUCCEEDED


async def lingering(store: Store, job_id: str, worker: WorkerInfo = WORKER) -> Job:
    """A job whose call has returned (succeeded) while its worker keeps listening for what comes late."""
    job = await running(store, job_id, worker)
    job.state, job.finished_at, job.lingering_until = JobState.SUCCEEDED, 5.0, 65.0
    await store.save_job(job)
    return job


async def test_a_lingering_job_takes_its_workers_late_events_and_cannot_be_deleted_until_it_settles(
    store: Store,
) -> None:
    job = await lingering(store, "l")
    job.last_seq = 2
    await store.save_job(job, logs("l", range(1, 3)))  # written after its state was set
    assert await store.delete_job("l") is False
    assert await store.delete_ended_jobs(finished_before=100.0, keep=0) == 0
    shown = await store.get_job("l")
    assert shown is not None and (shown.state, shown.lingering_until) == (JobState.SUCCEEDED, 65.0)
    assert not shown.settled
    job.lingering_until = None
    await store.save_job(job)  # the linger is over: the last write settles it
    settled = await store.get_job("l")
    assert settled is not None and settled.settled and settled.last_seq == 2
    with pytest.raises(JobLost):  # settled: nothing more is written
        await store.save_job(job)
    assert await store.delete_job("l") is True


async def test_a_lingering_job_whose_worker_is_lost_or_stopped_settles_in_the_state_its_call_gave(
    store: Store,
) -> None:
    await lingering(store, "lost", WORKER)
    await lingering(store, "left", OTHER)
    await store.renew_lease(WORKER, -1)
    assert await store.interrupt_jobs_of_lost_workers() == ["lost"]
    assert await store.interrupt_unfinished("the dashboard stopped", 9.0) == ["left"]
    for job_id in ("lost", "left"):
        job = await store.get_job(job_id)
        assert job is not None and (job.state, job.settled, job.finished_at) == (JobState.SUCCEEDED, True, 5.0)


async def test_filters_run_in_the_store_and_combine(store: Store) -> None:
    job = await running(store, "f")
    events = [
        Event("f", 1, "log", 1.0, level="info", logger="db", data={"msg": "connected"}),
        Event("f", 2, "log", 2.0, level="error", logger="db.pool", data={"msg": "Timeout after 5 s"}),
        Event("f", 3, "progress", 3.0, progress=1, total=2, message="waiting for a timeout"),
        Event("f", 4, "log", 4.0, level="warning", logger="dbx", data="100% of 50_000 rows"),
        Event("f", 5, "notification", 5.0, data={}, method="notifications/tools/list_changed"),
        Event("f", 6, "log", 6.0, level="error", logger="web", data="ok"),
    ]
    job.last_seq = 6
    await store.save_job(job, events)

    async def seqs(only: EventFilter, after: int = 0, limit: int = 10) -> list[int]:
        return [e.seq for e in await store.events_after("f", after, limit, only)]

    assert await seqs(EventFilter()) == [1, 2, 3, 4, 5, 6]
    assert await seqs(EventFilter(levels=("error", "warning"))) == [2, 4, 6]  # progress has no level: out
    assert await seqs(EventFilter(kinds=("progress", "notification"))) == [3, 5]
    assert await seqs(EventFilter(logger="db")) == [1, 2]  # db and below it, not dbx
    assert await seqs(EventFilter(q="TIMEOUT")) == [2, 3]  # data and progress message, any case
    assert await seqs(EventFilter(q="100%")) == [4] and await seqs(EventFilter(q="50_0")) == [4]  # literal % and _
    assert await seqs(EventFilter(levels=("error",), q="timeout")) == [2]  # AND
    assert await seqs(EventFilter(levels=("error",)), after=2) == [6]
    assert await seqs(EventFilter(levels=("error",)), limit=1) == [2]
    # Level and above: warning takes warning and error, never info nor a line without a level; with the others, AND.
    assert await seqs(EventFilter(min_level="warning")) == [2, 4, 6]
    assert await seqs(EventFilter(min_level="error")) == [2, 6]
    assert await seqs(EventFilter(min_level="warning", logger="db")) == [2]
    assert await seqs(EventFilter(min_level="warning", levels=("info", "error"))) == [2, 6]
    # A regular expression, any case, in linear time: a pattern that backtracks exponentially elsewhere is harmless.
    assert await seqs(EventFilter(q=r"time\w+ after \d+", regex=True)) == [2]
    assert await seqs(EventFilter(q="^(db|web)$", regex=True)) == [1, 6]  # the logger, whole
    assert await seqs(EventFilter(q="(a+)+$", regex=True)) == []
    # Every filter means the same in Python, for a line on its way to a filtered live view.
    for only in (
        EventFilter(levels=("error", "warning")),
        EventFilter(kinds=("progress", "notification")),
        EventFilter(logger="db"),
        EventFilter(q="TIMEOUT"),
        EventFilter(q="50_0"),
        EventFilter(q=r"time\w+ after \d+", regex=True),
        EventFilter(q="^(db|web)$", regex=True),
        EventFilter(levels=("error",), q="timeout"),
        EventFilter(min_level="warning"),
        EventFilter(min_level="warning", logger="db"),
    ):
        assert [e.seq for e in events if only.matches(e)] == await seqs(only), only

    # Pages of older lines, newest first taken, in seq order; and counts, in all and by filter.
    assert [e.seq for e in await store.events_before("f", 6, 2)] == [4, 5]
    assert [e.seq for e in await store.events_before("f", 6, 2, EventFilter(levels=("error", "info")))] == [1, 2]
    counts = await store.count_events("f", 5)
    assert counts.by_level == {"info": 1, "error": 1, "warning": 1}
    assert counts.by_kind == {"log": 3, "progress": 1, "notification": 1}
    assert await store.count_matching("f", 5, EventFilter(q="timeout")) == 2
    assert await store.count_matching("f", 6, EventFilter(levels=("error",))) == 2
    assert await store.count_matching("f", 6, EventFilter(min_level="warning")) == 3
    # A job kept without its counts (from before they were kept) is counted from its events.
    stored = await store.get_job("f")
    assert stored is not None and not stored.kind_counts
    assert (await counts_of(store, stored)).by_kind == {"log": 4, "progress": 1, "notification": 1}
    stored.kind_counts, stored.level_counts = {"log": 9}, {"info": 9}  # kept: taken as they are
    assert await counts_of(store, stored) == EventCounts({"info": 9}, {"log": 9})


async def test_jobs_are_listed_by_state_as_shown_and_by_tool(store: Store) -> None:
    await running(store, "r")
    await running(store, "c")
    await store.request_cancel("c", 2.0)
    await store.create_job(make_job("q"))
    assert [j.id for j in await store.list_jobs(state="running")] == ["r"]
    assert [j.id for j in await store.list_jobs(state="cancelling")] == ["c"]
    assert [j.id for j in await store.list_jobs(state="queued", tool="run_job")] == ["q"]
    assert await store.list_jobs(tool="other") == []


async def test_a_servers_lines_outside_jobs_have_their_own_sequence_and_retention(store: Store) -> None:
    assert await store.last_server_seq("demo") == 0
    watching = store.hub.watch(server_topic("demo"))
    lines = [Event("demo", seq, "log", float(seq), level="info", logger="bg", data={"n": seq}) for seq in (1, 2, 3)]
    await store.save_server_events("demo", lines[:2])
    with anyio.fail_after(5):
        await watching.wait()  # the news reaches readers
    await store.save_server_events("demo", lines[1:])  # a line kept already is not kept twice
    await store.save_server_events("other", [Event("other", 1, "stderr", 1.0, data="elsewhere")])
    assert await store.server_events_after("demo", 0, 10) == lines
    assert [e.seq for e in await store.server_events_after("demo", 1, 1)] == [2]
    assert [e.seq for e in await store.server_events_after("demo", 0, 10, EventFilter(q='"n": 3'))] == [3]
    assert (await store.last_server_seq("demo"), await store.last_server_seq("other")) == (3, 1)
    assert await store.events_after("demo", 0, 10) == []  # not a job's
    assert await store.delete_server_events(2.5) == 3  # demo 1 and 2, other 1
    assert [e.seq for e in await store.server_events_after("demo", 0, 10)] == [3]


async def test_one_process_at_a_time_listens_to_a_server(db: str) -> None:
    async with open_store(db, Hub()) as first, open_store(db, Hub()) as second:
        async with first.listening_to("demo") as mine:
            assert mine
            if isinstance(first, PostgresStore):  # SQLite has one process per file: it is always the one
                async with second.listening_to("demo") as theirs:
                    assert not theirs
                async with second.listening_to("another") as theirs:
                    assert theirs
        async with second.listening_to("demo") as theirs:
            assert theirs


async def test_a_servers_lines_are_trimmed_to_the_newest_ones_and_their_sequence_goes_on(store: Store) -> None:
    lines = [Event("demo", seq, "log", float(seq), level="info", data=seq) for seq in range(1, 11)]
    await store.save_server_events("demo", lines)
    await store.save_server_events("other", [Event("other", 1, "log", 1.0, level="info", data=1)])
    assert await store.trim_server_events("demo", 3) == 7
    assert [e.seq for e in await store.server_events_after("demo", 0, 100)] == [8, 9, 10]
    assert await store.trim_server_events("demo", 3) == 0
    assert await store.last_server_seq("demo") == 10  # the next line is 11, not a seq used before
    assert [e.seq for e in await store.server_events_after("other", 0, 100)] == [1]  # another server's are its own


async def test_a_secret_is_made_once_and_every_process_gets_the_same(db: str) -> None:
    async with open_store(db, Hub()) as first, open_store(db, Hub()) as second:
        made = await first.secret("sessions")
        assert len(made) == 32
        assert await second.secret("sessions") == made
        assert await first.secret("another") != made
    async with open_store(db, Hub()) as reopened:
        assert await reopened.secret("sessions") == made


async def test_a_sign_in_is_kept_per_server_replaced_seen_by_every_process_and_forgotten(db: str) -> None:
    async with open_store(db, Hub()) as web, open_store(db, Hub()) as worker:
        assert await web.sign_in("remote") is None
        await web.keep_sign_in("remote", "sealed-1", 1.0)
        await web.keep_sign_in("other", "sealed-other", 1.0)
        await web.keep_sign_in("remote", "sealed-2", 2.0)
        assert await worker.sign_in("remote") == "sealed-2"
        assert await worker.forget_sign_in("remote") is True
        assert await worker.forget_sign_in("remote") is False
        assert await web.sign_in("remote") is None
        assert await web.sign_in("other") == "sealed-other"


async def task_job(store: Store, job_id: str, worker: WorkerInfo = WORKER) -> Job:
    """A job whose call runs as an MCP task, with a question waiting."""
    job = await running(store, job_id, worker)
    job.task = TaskInfo(job_id + "-task", "2025-11-25", "input_required", "asking", 10.0, 60_000, 500, "sess-1")
    job.state = JobState.INPUT_REQUIRED
    job.questions = [Question("q1", "Which one?", {"type": "object"}, 11.0, seq=1, server_key="k1")]
    job.last_seq = 1
    await store.save_job(job, logs(job_id, range(1, 2)))
    return job


async def test_a_jobs_task_and_questions_are_written_with_its_fields_and_read_back(store: Store) -> None:
    job = await task_job(store, "t")
    stored = await store.get_job("t")
    assert stored is not None
    assert stored.task == job.task and stored.questions == job.questions
    assert stored.state is JobState.INPUT_REQUIRED
    assert [j.id for j in await store.list_jobs(state="input_required")] == ["t"]
    assert (await store.request_cancel("t", 12.0)).state is JobState.CANCELLING  # type: ignore[union-attr]


async def test_a_task_job_of_a_lost_worker_is_handed_over_and_another_worker_takes_it_as_it_was(store: Store) -> None:
    job = await task_job(store, "t", WORKER)
    await running(store, "plain", WORKER)
    await store.renew_lease(WORKER, -1)
    queue = store.hub.watch(QUEUE)
    assert sorted(await store.interrupt_jobs_of_lost_workers()) == ["plain", "t"]
    with anyio.fail_after(5):
        await queue.wait()  # a worker is told there is one to take
    handed = await store.get_job("t")
    assert handed is not None and (handed.state, handed.worker) == (JobState.INPUT_REQUIRED, None)
    with pytest.raises(JobLost):  # the lost worker, should it come back, writes nothing more
        await store.save_job(job)
    await store.renew_lease(OTHER, 60)
    taken = await store.claim_job(OTHER.id)
    assert taken is not None and (taken.id, taken.worker, taken.state) == ("t", OTHER.id, JobState.INPUT_REQUIRED)
    assert taken.task == job.task and taken.last_seq == 1  # its events go on from the next seq
    plain = await store.get_job("plain")
    assert plain is not None and plain.state is JobState.INTERRUPTED


async def test_a_stopping_worker_hands_its_task_job_over_and_at_a_start_task_jobs_wait_to_be_taken(
    store: Store,
) -> None:
    await task_job(store, "t", WORKER)
    await running(store, "plain", WORKER)
    await task_job(store, "t2", WORKER)
    assert not await store.release_job("t", OTHER.id)  # not that worker's
    assert not await store.release_job("plain", WORKER.id)  # no task to re-attach to
    assert await store.release_job("t", WORKER.id)
    assert not await store.release_job("t", WORKER.id)
    assert sorted(await store.interrupt_unfinished("the dashboard stopped", 20.0)) == ["plain", "t2"]
    states = {job.id: (job.state, job.worker) for job in await store.list_jobs()}
    assert states["t"] == states["t2"] == (JobState.INPUT_REQUIRED, None)
    assert states["plain"] == (JobState.INTERRUPTED, WORKER.id)
    taken = await store.claim_job(OTHER.id)
    assert taken is not None and taken.id == "t"  # the oldest first


async def test_the_first_answer_to_a_question_wins_and_wakes_the_worker(store: Store) -> None:
    await task_job(store, "t")
    told = store.hub.watch(answer_topic("t"))
    first = Answer("accept", {"answer": "blue"}, 30.0)
    assert await store.answer_question("t", "q1", first)
    with anyio.fail_after(5):
        await told.wait()
    assert not await store.answer_question("t", "q1", Answer("decline", None, 31.0, "timeout"))
    assert await store.answer_of("t", "q1") == first
    assert await store.answer_of("t", "q2") is None
    assert await store.answered_keys("t") == {"q1"}
    job = await store.get_job("t")
    assert job is not None
    job.state, job.finished_at = JobState.SUCCEEDED, 40.0
    await store.save_job(job)
    assert await store.delete_job("t")
    assert await store.answered_keys("t") == set()  # gone with its job
