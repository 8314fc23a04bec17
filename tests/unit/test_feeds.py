"""A job's feed over a real SQLite store: rendered once, shared by every viewer at the tail."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from webapp.events import Event, Job, JobState
from webapp.feeds import Feeds, JobFeed, Seen
from webapp.hub import Hub, job_topic
from webapp.rendering import build_templates
from webapp.store import Store, WorkerInfo, open_store

pytestmark = pytest.mark.anyio
SEQ = re.compile(rb'data-seq="(\d+)"')


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(str(tmp_path / "jobs.sqlite3"), Hub()) as opened:
        yield opened


async def running_job(store: Store) -> Job:
    await store.renew_lease(WorkerInfo("w", "h", 1, 0.0), 60)
    await store.create_job(Job(id="j", tool="t", arguments={}, idle_timeout=None, max_duration=None))
    job = await store.claim_job("w")
    assert job is not None
    job.state = JobState.RUNNING
    await store.save_job(job)
    return job


async def write(store: Store, job: Job, count: int) -> None:
    first = job.last_seq + 1
    job.last_seq += count
    events = [Event(job.id, seq, "log", 0.0, level="info", data=seq) for seq in range(first, job.last_seq + 1)]
    await store.save_job(job, events)


async def caught_up(feed: JobFeed, last_seq: int) -> None:
    with anyio.fail_after(5):
        while feed.last_seq < last_seq:
            await feed.changed.wait()


async def test_viewers_at_the_tail_get_the_same_bytes_and_status_only_when_it_changes(store: Store) -> None:
    job = await running_job(store)
    async with anyio.create_task_group() as tg:
        feeds = Feeds(store, store.hub, build_templates(), tg)
        async with feeds.follow("j") as feed, feeds.follow("j") as same:
            assert feed is same
            viewers = [Seen(0), Seen(0), Seen(0)]
            await write(store, job, 3)
            await caught_up(feed, 3)
            first = [feed.message_for(seen) for seen in viewers]
            assert first[0] is first[1] is first[2]  # composed once, written to each socket
            assert first[0] is not None
            assert SEQ.findall(first[0]) == [b"1", b"2", b"3"]
            assert b'hx-target="#job-status"' in first[0] and b"id: 3\n" in first[0]
            assert all(feed.message_for(seen) is None for seen in viewers)  # nothing new

            await write(store, job, 2)
            await caught_up(feed, 5)
            second = feed.message_for(viewers[0])
            assert second is not None and SEQ.findall(second) == [b"4", b"5"]
            assert b'hx-target="#job-status"' not in second  # unchanged: the Cancel button is left alone

            job.state, job.finished_at = JobState.SUCCEEDED, 1.0
            await store.save_job(job)
            with anyio.fail_after(5):
                while not feed.ended:
                    await feed.changed.wait()
            last = feed.message_for(viewers[0])
            assert last is not None and b'data-state="succeeded"' in last and SEQ.findall(last) == []
        tg.cancel_scope.cancel()


async def test_a_message_holds_at_most_its_byte_budget_of_lines(store: Store) -> None:
    job = await running_job(store)
    async with anyio.create_task_group() as tg:
        feeds = Feeds(store, store.hub, build_templates(), tg)
        async with feeds.follow("j") as feed:
            await write(store, job, 40)
            await caught_up(feed, 40)
            lines, last = feed.lines_after(0, max_bytes=2000)
            assert 1 <= len(lines) < 40 and last == len(lines)
            assert sum(len(line) for line in lines) <= 2000
            rest, end = feed.lines_after(last)
            assert end == 40 and len(lines) + len(rest) == 40
        tg.cancel_scope.cancel()


async def test_a_round_that_brings_nothing_new_wakes_no_viewer(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """With PostgreSQL every write wakes a feed twice (its own NOTIFY comes back): the second round reads nothing, and
    must not send every viewer looking for a message (nor hold the next round back for them)."""
    job = await running_job(store)
    reads: list[int] = []
    read = store.job_and_events_after

    async def counted(job_id: str, after: int, limit: int) -> tuple[Job | None, list[Event]]:
        reads.append(after)
        return await read(job_id, after, limit)

    monkeypatch.setattr(store, "job_and_events_after", counted)

    async def rounds(count: int) -> None:
        with anyio.fail_after(5):
            while len(reads) < count:
                await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        feeds = Feeds(store, store.hub, build_templates(), tg)
        async with feeds.follow("j") as feed:
            await write(store, job, 2)
            await caught_up(feed, 2)
            changed, done = feed.changed, len(reads)
            store.hub.publish(job_topic("j"))  # news, but nothing new in the store
            await rounds(done + 1)
            store.hub.publish(job_topic("j"))
            await rounds(done + 2)  # the feed has finished the round before, and read again
            assert not changed.is_set()
            await write(store, job, 1)
            await caught_up(feed, 3)
            assert changed.is_set()
        tg.cancel_scope.cancel()
