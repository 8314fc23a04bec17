"""The bundled server's tools, through the SDK's in-process client/server pair."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client, MCPDeprecationWarning
from mcp.types import CallToolResult, LoggingMessageNotificationParams, TextContent

from webapp.demo_server import LEVELS, build_server

pytestmark = pytest.mark.anyio


class Collector:
    def __init__(self) -> None:
        self.logs: list[LoggingMessageNotificationParams] = []
        self.progress: list[tuple[float, float | None, str | None]] = []

    async def log(self, params: LoggingMessageNotificationParams) -> None:
        self.logs.append(params)

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, total, message))


async def call(tool: str, arguments: dict[str, Any]) -> tuple[CallToolResult, Collector]:
    seen = Collector()
    async with Client(build_server(), log_level="debug", logging_callback=seen.log) as client:
        result = await client.call_tool(tool, arguments, progress_callback=seen.on_progress)
    return result, seen


async def test_run_job_cycles_through_all_eight_levels_with_structured_data() -> None:
    result, seen = await call("run_job", {"steps": 16, "delay": 0})
    assert not result.is_error
    assert [p.level for p in seen.logs] == list(LEVELS) * 2
    assert all(isinstance(p.data, dict) and p.logger for p in seen.logs)
    assert [(p, t) for p, t, _ in seen.progress] == [(n, 16) for n in range(1, 17)]
    assert all(m for _, _, m in seen.progress)


async def test_run_job_fails_at_the_requested_step_with_a_tool_error() -> None:
    result, seen = await call("run_job", {"steps": 10, "delay": 0, "fail_at": 3})
    assert result.is_error
    assert isinstance(result.content[0], TextContent)
    assert "step 3 failed" in result.content[0].text
    assert len(seen.logs) == 3 and len(seen.progress) == 2


async def test_process_items_reports_each_item_by_name() -> None:
    result, seen = await call("process_items", {"items": ["a.txt", "b.pdf"], "delay": 0})
    assert not result.is_error
    assert seen.progress == [
        (1, 2, "processed a.txt"),
        (2, 2, "processed b.pdf"),
    ]
    assert len(seen.logs) == 2


async def test_flood_sends_count_logs_and_count_progress() -> None:
    result, seen = await call("flood", {"count": 300})
    assert not result.is_error
    assert len(seen.logs) == 300 and len(seen.progress) == 300


async def levels_sent(mode: Any, level: Any) -> list[str]:
    """The levels of the logs run_job sends through a client that asked for `level`, on each revision the way it
    asks there: per request on 2026-07-28, with logging/setLevel on a 2025-era session."""
    seen = Collector()
    async with Client(build_server(), mode=mode, log_level=level, logging_callback=seen.log) as client:
        if mode == "legacy":
            assert client.server_capabilities.logging is not None  # advertised, as the handler exists
            with pytest.warns(MCPDeprecationWarning):
                await client.set_logging_level(level)
        await client.call_tool("run_job", {"steps": 8, "delay": 0})
    return [p.level for p in seen.logs]


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
async def test_the_server_sends_only_the_asked_level_and_above_on_both_revisions(mode: str) -> None:
    assert await levels_sent(mode, "warning") == ["warning", "error", "critical", "alert", "emergency"]
    assert await levels_sent(mode, "debug") == list(LEVELS)  # and each session keeps its own level
