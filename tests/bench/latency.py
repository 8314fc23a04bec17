"""Latency the dashboard adds at ~1,000 notifications/s: a viewer's read time minus the event's `received_at`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.bench.common import (
    Backend,
    BenchError,
    Figure,
    Reading,
    Sizes,
    cpu_seconds,
    finished_job,
    percentile,
    read,
    setup,
    start_job,
    wait_connected,
)
from tests.bench.sse import follow

DELAY = 0.002  # run_job sends a log and a progress per step: ~1,000 notifications/s
P99 = Figure("latency.p99", "added latency at ~1,000 notifications/s, p99", "ms", "≤ 5 ms", lambda v: v <= 5.0)
P50 = Figure("latency.p50", "added latency at ~1,000 notifications/s, p50", "ms")
RATE = Figure("latency.rate", "notifications/s the job actually sent", "/s", digits=0)
# Beside flood.cpu (issue 18): a flood must cost no more per event than this light rate.
CPU = Figure("latency.cpu", "dashboard CPU per 1,000 events relayed at this light rate", "ms", digits=0)
FIGURES = (P99, P50, RATE, CPU)


async def measure(backend: Backend, sizes: Sizes, scratch: Path) -> dict[str, Reading]:
    steps = sizes.latency_steps
    seen_at: dict[int, float] = {}
    with setup(backend, "latency", scratch) as app:
        await wait_connected(app)
        cpu_before = cpu_seconds(app.pid)
        async with app.client() as client:
            job_id = await start_job(client, "run_job", steps=steps, delay=DELAY)
            tally = await asyncio.wait_for(follow("127.0.0.1", app.port, job_id, seq_times=seen_at), timeout=600)
            job = await finished_job(client, job_id, within=30)
        cpu = cpu_seconds(app.pid) - cpu_before
        received = app.backend.event_times(app.db, job_id)
    if not tally.lossless(job["events"]):
        raise BenchError(f"the viewer did not get seqs 1..{job['events']} in order: {tally}")
    if set(received) != set(seen_at):
        raise BenchError(f"the store has {len(received)} events, the viewer read {len(seen_at)}")
    delays = [(seen_at[seq] - received[seq]) * 1000 for seq in seen_at]
    span = max(received.values()) - min(received.values())
    return dict(
        [
            read(P99, percentile(delays, 0.99)),
            read(P50, percentile(delays, 0.50)),
            read(RATE, len(received) / span if span > 0 else 0.0),
            read(CPU, cpu * 1000 / (len(received) / 1000) if received else 0.0),
        ]
    )
