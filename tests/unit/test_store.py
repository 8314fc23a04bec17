from __future__ import annotations

from pathlib import Path

import pytest

from webapp.events import Event, Job, JobState
from webapp.store import SQLiteStore

pytestmark = pytest.mark.anyio


def make_job(job_id: str, created_at: float) -> Job:
    return Job(
        id=job_id, tool="run_job", arguments={"steps": 3}, idle_timeout=10, max_duration=60, created_at=created_at
    )


async def test_jobs_and_events_survive_reopening_the_file(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    job = make_job("a1", 100.0)
    await store.create_job(job)
    job.state, job.last_seq, job.progress, job.total = JobState.RUNNING, 2, 1, 3
    events = [
        Event("a1", 1, "log", 101.0, level="warning", logger="w", data={"nested": ["x", 1, None]}),
        Event("a1", 2, "progress", 102.0, progress=1, total=3, message="one of three"),
    ]
    await store.save_job(job, events)
    store.close()

    reopened = SQLiteStore(db_path)
    loaded = await reopened.get_job("a1")
    assert loaded == job
    assert await reopened.events_after("a1", 0, 10) == events
    reopened.close()


async def test_events_after_pages_in_seq_order(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    job = make_job("p", 1.0)
    await store.create_job(job)
    for start in (1, 4):
        batch = [Event("p", seq, "log", float(seq), level="info", data=seq) for seq in range(start, start + 3)]
        job.last_seq = batch[-1].seq
        await store.save_job(job, batch)
    assert [e.seq for e in await store.events_after("p", 0, 4)] == [1, 2, 3, 4]
    assert [e.seq for e in await store.events_after("p", 4, 100)] == [5, 6]
    assert await store.events_after("p", 6, 100) == []
    assert await store.events_after("other", 0, 100) == []


async def test_a_seq_is_stored_once(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    job = make_job("d", 1.0)
    await store.create_job(job)
    await store.save_job(job, [Event("d", 1, "log", 1.0, level="info")])
    with pytest.raises(Exception, match="UNIQUE"):
        await store.save_job(job, [Event("d", 1, "log", 2.0, level="info")])


async def test_jobs_are_listed_newest_first(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    for job_id, created in [("old", 1.0), ("new", 3.0), ("mid", 2.0)]:
        await store.create_job(make_job(job_id, created))
    assert [j.id for j in await store.list_jobs()] == ["new", "mid", "old"]
    assert [j.id for j in await store.list_jobs(limit=1)] == ["new"]


async def test_unfinished_jobs_are_interrupted_and_finished_ones_kept(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    states = {"s": JobState.STARTING, "r": JobState.RUNNING, "c": JobState.CANCELLING, "ok": JobState.SUCCEEDED}
    for job_id, state in states.items():
        job = make_job(job_id, 1.0)
        job.state = state
        await store.create_job(job)
    interrupted = await store.interrupt_unfinished("the dashboard stopped", 9.0)
    assert sorted(interrupted) == ["c", "r", "s"]
    for job_id in interrupted:
        loaded = await store.get_job(job_id)
        assert loaded is not None
        assert (loaded.state, loaded.error, loaded.finished_at) == (JobState.INTERRUPTED, "the dashboard stopped", 9.0)
    done = await store.get_job("ok")
    assert done is not None and done.state is JobState.SUCCEEDED
