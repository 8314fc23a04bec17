from __future__ import annotations

import anyio
import pytest

from webapp.hub import Hub, job_topic, wait_any

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
