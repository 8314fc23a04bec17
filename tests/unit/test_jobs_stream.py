"""The live recent-jobs list over a real SQLite store: rendered once per change for all the viewers of a filter,
at a bounded pace, and ended with a farewell when the dashboard closes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import anyio
import pytest

from webapp.events import Job, JobState
from webapp.hub import JOBS, Hub
from webapp.jobs_stream import PACE, JobsLists, follow_jobs
from webapp.pages import JobsView, ago
from webapp.rendering import build_templates
from webapp.services import Services
from webapp.store import Store, WorkerInfo, open_store
from webapp.stream import FAREWELL

pytestmark = pytest.mark.anyio


class CountingStore:
    """The store, counting the reads of the list: one read is one render."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = 0

    async def list_jobs(self, limit: int = 50, **filters: Any) -> list[Job]:
        self.reads += 1
        return await self.store.list_jobs(limit, **filters)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(str(tmp_path / "jobs.sqlite3"), Hub()) as opened:
        yield opened


def services_of(store: Store) -> tuple[Services, CountingStore]:
    counting = CountingStore(store)
    services = SimpleNamespace(
        store=counting, hub=store.hub, templates=build_templates(), servers=SimpleNamespace(statuses=[])
    )
    return cast(Services, services), counting


async def running_job(store: Store, job_id: str) -> Job:
    await store.renew_lease(WorkerInfo("w", "h", 1, 0.0), 60)
    await store.create_job(Job(id=job_id, tool="run_job", arguments={}, idle_timeout=None, max_duration=None))
    job = await store.claim_job("w")
    assert job is not None
    job.state = JobState.RUNNING
    await store.save_job(job)
    return job


async def test_viewers_of_one_filter_share_one_render_and_the_very_same_bytes(store: Store) -> None:
    services, counting = services_of(store)
    await running_job(store, "a")
    lists = JobsLists()
    with (
        lists.follow(JobsView()) as first,
        lists.follow(JobsView()) as second,
        lists.follow(JobsView(tool="x")) as other,
    ):
        assert first is second and other is not first
        messages: list[bytes] = []

        async def view(shared: Any) -> None:
            await shared.refresh(services)
            messages.append(shared.message)

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(view, first)
        assert counting.reads == 1 and len({id(m) for m in messages}) == 1
        assert b'id="job-row-a"' in messages[0]
        await other.refresh(services)
        assert counting.reads == 2 and b"No recent job matches these filters." in other.message
    # The last viewer gone, the list goes: a new viewer reads it afresh.
    with lists.follow(JobsView()) as again:
        assert again is not first


async def test_a_list_is_sent_again_only_when_it_reads_differently(store: Store) -> None:
    services, counting = services_of(store)
    job = await running_job(store, "a")
    with JobsLists().follow(JobsView()) as shared:
        await shared.refresh(services)
        assert shared.version == 1
        store.hub.publish(JOBS)  # news, but nothing any viewer would see changed
        await shared.refresh(services)
        assert (counting.reads, shared.version) == (2, 1)
        job.progress, job.total = 1, 4
        await store.save_job(job)  # publishes `jobs` itself
        await shared.refresh(services)
        assert (counting.reads, shared.version) == (3, 2)
        assert b"25 %" in shared.message


async def test_a_burst_of_changes_is_rendered_at_most_once_per_pace(store: Store) -> None:
    services, counting = services_of(store)
    job = await running_job(store, "flood")
    received: list[bytes] = []
    shutdown, ended = anyio.Event(), anyio.Event()

    async def viewer() -> None:
        async for message in follow_jobs(services, JobsView(), shutdown):
            received.append(message)
            if b"succeeded" in message:
                ended.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(viewer)
        started = time.monotonic()
        for step in range(1, 301):
            job.progress, job.total = step, 300
            await store.save_job(job)
        job.state, job.finished_at = JobState.SUCCEEDED, time.time()
        await store.save_job(job)
        with anyio.fail_after(5):
            await ended.wait()
        elapsed = time.monotonic() - started
        shutdown.set()
    # Renders are PACE apart at least, whatever the rate of changes: 302 changes, a handful of renders.
    assert counting.reads <= 2 + elapsed / PACE
    assert len(received) <= counting.reads + 1  # (+1: the farewell)
    assert received[-1] == FAREWELL and b"100 %" in received[-2]


async def test_a_viewer_says_goodbye_when_the_dashboard_closes(store: Store) -> None:
    services, _ = services_of(store)
    stream = follow_jobs(services, JobsView(), anyio.Event())
    with anyio.fail_after(5):
        assert b"No jobs yet." in await stream.__anext__()
        store.hub.close()
        assert await stream.__anext__() == FAREWELL
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()


def test_start_times_are_said_as_a_person_says_them() -> None:
    said = [ago(s) for s in (-3, 0, 4.9, 5, 59.9, 60, 3599, 3600, 86_399, 86_400, 2 * 86_400 + 5)]
    assert said == [
        "just now",
        "just now",
        "just now",
        "5 s ago",
        "59 s ago",
        "1 min ago",
        "59 min ago",
        "1 h ago",
        "23 h ago",
        "1 day ago",
        "2 days ago",
    ]
