"""`flood`: notifications back to back, relayed end to end, against the bare SDK client on the same server."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import anyio
from mcp import Client
from mcp.types import LoggingMessageNotificationParams

from tests.bench.common import Backend, BenchError, Figure, Reading, Sizes, cpu_seconds, read, setup, start_job
from tests.bench.common import wait_connected as wait_for_server
from tests.bench.sse import follow

RATIO = Figure(
    "flood.ratio",
    "`flood` end to end / bare SDK `Client` (same run)",
    "",
    "≥ 0.8",
    lambda v: v >= 0.8,
)
DASHBOARD_RATE = Figure("flood.dashboard", "`flood` end to end (POST to the viewer's `end`)", "events/s", digits=0)
BARE_RATE = Figure(
    "flood.bare",
    "`flood` through the bare SDK `Client` (mean of the runs before and after)",
    "notifications/s",
    digits=0,
)
CPU = Figure("flood.cpu", "dashboard CPU per 1,000 events relayed", "ms", digits=0)
FIGURES = (RATIO, DASHBOARD_RATE, BARE_RATE, CPU)


async def bare_rate(url: str, count: int) -> float:
    """Notifications/s for one `flood` call read by the SDK alone: connect, call, every notification counted."""
    expected = 2 * count
    seen = 0
    all_seen = anyio.Event()

    def tick() -> None:
        nonlocal seen
        seen += 1
        if seen == expected:
            all_seen.set()

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        tick()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        tick()

    began = time.perf_counter()
    async with Client(url, log_level="debug", logging_callback=on_log) as client:
        await client.call_tool("flood", {"count": count}, progress_callback=on_progress)
        # The SDK runs each callback in a task of its own: some may still be pending when the call returns.
        with anyio.fail_after(30):
            await all_seen.wait()
        elapsed = time.perf_counter() - began
    return expected / elapsed


async def measure(backend: Backend, sizes: Sizes, scratch: Path) -> dict[str, Reading]:
    count = sizes.flood_count
    with setup(backend, "flood", scratch) as app:
        await wait_for_server(app)
        # The bare client runs just before and just after the dashboard, on the same server: a slow spell of the
        # machine during one of the three then weighs on both sides of the ratio.
        bare_before = await bare_rate(app.server.url, count)
        cpu_before = cpu_seconds(app.pid)
        async with app.client() as client:
            began = time.perf_counter()
            job_id = await start_job(client, "flood", count=count)
            tally = await asyncio.wait_for(follow("127.0.0.1", app.port, job_id), timeout=600)
            elapsed = time.perf_counter() - began
        cpu = cpu_seconds(app.pid) - cpu_before
        bare = (bare_before + await bare_rate(app.server.url, count)) / 2
    if not tally.lossless(2 * count):
        raise BenchError(f"the viewer did not get seqs 1..{2 * count} in order: {tally}")
    rate = 2 * count / elapsed
    return dict(
        [
            read(RATIO, rate / bare),
            read(DASHBOARD_RATE, rate),
            read(BARE_RATE, bare),
            read(CPU, cpu * 1000 / (2 * count / 1000)),
        ]
    )
