from __future__ import annotations

import anyio
import pytest

from webapp.hub import Hub

pytestmark = pytest.mark.anyio


async def test_publish_wakes_every_watcher_of_that_job_only() -> None:
    hub = Hub()
    a1, a2, b = hub.watch("a"), hub.watch("a"), hub.watch("b")
    assert a1 is a2
    hub.publish("a")
    with anyio.fail_after(1):
        await a1.wait()
    assert not b.is_set()
    assert not hub.watch("a").is_set()  # the next watch waits for the next news


async def test_news_published_between_watch_and_wait_is_not_missed() -> None:
    hub = Hub()
    news = hub.watch("a")
    hub.publish("a")  # e.g. while the viewer reads the store
    with anyio.fail_after(1):
        await news.wait()


async def test_close_wakes_everyone() -> None:
    hub = Hub()
    news = hub.watch("x")
    hub.close()
    assert news.is_set() and hub.closing.is_set()
