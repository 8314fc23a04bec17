"""Progress that arrives after the server answered is kept, marked late, and never moves the bar."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from webapp.bundled import ChildServer
from webapp.events import Job, ProgressNote
from webapp.mcp_link import HttpTarget, open_link
from webapp.recorder import Recorder

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_late_progress_is_recorded_once_and_marked_after_end(late_server: ChildServer, protocol: Any) -> None:
    target = HttpTarget(late_server.url.removesuffix("/mcp") + "/sse", protocol)
    recorder = Recorder(Job(id="j", tool="answer_then_report", arguments={}, idle_timeout=None, max_duration=None))
    async with open_link(target, recorder, token="late") as link:
        outcome = await link.call_tool("answer_then_report", {})
        with anyio.fail_after(10):
            while recorder.job.last_seq < 23:  # wait (bounded) for the late ones, connection still open
                await recorder.news.wait()
                recorder.news = anyio.Event()
    assert not outcome.is_error
    events, job = recorder.pending()
    assert [e.progress for e in events] == list(range(1, 24))  # each once, in order
    assert [e.note for e in events] == [None] * 3 + [ProgressNote.AFTER_END] * 20
    assert (job.progress, job.message) == (3, "in time 3")
