"""A job of a million notifications: the dashboard's memory stays flat and the job page stays quick throughout."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.bench.common import (
    Backend,
    BenchError,
    Figure,
    Reading,
    Sizes,
    finished_job,
    read,
    rss_bytes,
    setup,
    start_job,
    wait_connected,
)
from tests.bench.sse import Tally, follow

RSS_EVERY = 0.5  # seconds between samples of the dashboard's resident memory
PAGE_EVERY = 2.0  # seconds between timed loads of the job page
MB = 1024 * 1024

RSS_GROWTH = Figure(
    "million.rss", "a 1,000,000-notification job: dashboard RSS growth", "MB", "< 50 MB", lambda v: v < 50, digits=1
)
PAGE = Figure("million.page", "… the job page's slowest load during it", "s", "< 1 s", lambda v: v < 1.0, digits=3)
RATE = Figure("million.rate", "… relayed end to end (POST to the viewer's `end`)", "events/s", digits=0)
FIGURES = (RSS_GROWTH, PAGE, RATE)


async def measure(backend: Backend, sizes: Sizes, scratch: Path) -> dict[str, Reading]:
    count = sizes.million_count
    rss: list[int] = []
    pages: list[float] = []
    with setup(backend, "million", scratch) as app:
        await wait_connected(app)
        async with app.client() as client:
            before = rss_bytes(app.pid)
            began = time.perf_counter()
            job_id = await start_job(client, "flood", count=count)
            viewer = asyncio.create_task(follow("127.0.0.1", app.port, job_id))

            async def sample_rss() -> None:
                while not viewer.done():
                    rss.append(rss_bytes(app.pid))
                    await asyncio.sleep(RSS_EVERY)  # a sampling rate, not a wait for anything

            async def time_page() -> None:
                while not viewer.done():
                    began = time.perf_counter()
                    page = await client.get(f"/jobs/{job_id}")
                    pages.append(time.perf_counter() - began)
                    if page.status_code != 200:
                        raise BenchError(f"GET /jobs/{job_id} answered {page.status_code}")
                    await asyncio.sleep(PAGE_EVERY)

            samplers = asyncio.gather(sample_rss(), time_page())
            try:
                tally: Tally = await asyncio.wait_for(asyncio.shield(viewer), timeout=60 + count / 500)
                elapsed = time.perf_counter() - began
            finally:
                viewer.cancel()
                await samplers
            job = await finished_job(client, job_id, within=60)
        rss.append(rss_bytes(app.pid))
    if not tally.lossless(job["events"]):
        raise BenchError(f"the viewer did not get seqs 1..{job['events']} in order: {tally}")
    return dict(
        [
            read(RSS_GROWTH, (max(rss) - before) / MB),
            read(PAGE, max(pages)),
            read(RATE, job["events"] / elapsed),
        ]
    )
