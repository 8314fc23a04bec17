from __future__ import annotations

import anyio
import pytest

from webapp.feeds import READ_PACE
from webapp.hub import Hub, Pacer, job_topic, wait_any

pytestmark = pytest.mark.anyio


async def test_publish_wakes_every_watcher_of_that_topic_only() -> None:
    hub = Hub()
    a1, a2, b = hub.watch(job_topic("a")), hub.watch(job_topic("a")), hub.watch(job_topic("b"))
    assert a1 is a2
    hub.publish(job_topic("a"))
    with anyio.fail_after(1):
        await a1.wait()
    assert not b.is_set()
    assert not hub.watch(job_topic("a")).is_set()  # the next watch waits for the next news


async def test_news_published_between_watch_and_wait_is_not_missed() -> None:
    hub = Hub()
    news = hub.watch("queue")
    hub.publish("queue")  # e.g. while the watcher reads the store
    with anyio.fail_after(1):
        await news.wait()


async def test_publish_all_wakes_every_topic_after_news_may_have_been_lost() -> None:
    hub = Hub()
    topics = [hub.watch(t) for t in ("queue", "jobs", job_topic("x"))]
    hub.publish_all()
    assert all(event.is_set() for event in topics)


async def test_close_wakes_everyone_and_later_watches_do_not_wait() -> None:
    hub = Hub()
    news = hub.watch("x")
    hub.close()
    assert news.is_set() and hub.closing.is_set()
    assert hub.watch("y").is_set()


async def test_wait_any_returns_when_one_is_set() -> None:
    first, second = anyio.Event(), anyio.Event()
    second.set()
    with anyio.fail_after(1):
        await wait_any(first, second)
    assert not first.is_set()


def test_a_feed_waits_for_its_items_or_its_readers_whichever_is_longer() -> None:
    pacer = Pacer(**READ_PACE)
    assert pacer.pause(2, readers=1) == pytest.approx(0.0005)  # one viewer: the items set the pace, as for a write
    assert pacer.pause(2, readers=50) == pytest.approx(0.02)
    assert pacer.pause(2000, readers=1) == pytest.approx(0.05)  # never longer than at_most
    # However many viewers (till the longest wait), a busy job's messages to them stay under 2,500 a second in all.
    for readers in (1, 10, 50, 125):
        assert readers / pacer.pause(1, readers) <= 2500 * 1.000001
