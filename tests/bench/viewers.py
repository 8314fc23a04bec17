"""Many SSE viewers of one job at ~500 notifications/s: all lossless, the job not slowed, none left behind.

The viewers run in a process of their own (`python -m tests.bench.viewers`, driven over stdin/stdout), so the
bench's own work does not share their CPU; each is a bare asyncio connection (see `tests.bench.sse`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from tests.bench.common import (
    FULL,
    Backend,
    BenchError,
    Figure,
    Reading,
    Sizes,
    cpu_seconds,
    epoch,
    finished_job,
    job_seconds,
    read,
    setup,
    start_job,
    wait_connected,
)
from tests.bench.sse import follow

DELAY = 0.004  # a log and a progress per step: ~500 notifications/s
PROJECT = Path(__file__).resolve().parents[2]

LOSSLESS = Figure(
    "viewers.lossless", f"{FULL.viewers} SSE viewers of one job: lossless ones", "", "all", every_run=True, digits=0
)
SLOWDOWN = Figure("viewers.slowdown", "job duration watched / unwatched", "", "≤ 1.25", lambda v: v <= 1.25, digits=3)
LAST_DONE = Figure(
    "viewers.last", "last viewer's `end` after the job's end", "s", "≤ 2 s", lambda v: v <= 2.0, digits=3
)
UNWATCHED = Figure("viewers.unwatched", "job duration, unwatched", "s")
WATCHED = Figure("viewers.watched", "job duration, watched", "s")
DASHBOARD_CPU = Figure("viewers.cpu", "dashboard CPU while watched (share of one core)", "%", digits=0)
VIEWERS_CPU = Figure("viewers.viewers_cpu", "the viewers' own process CPU (share of one core)", "%", digits=0)
FIGURES = (LOSSLESS, SLOWDOWN, LAST_DONE, UNWATCHED, WATCHED, DASHBOARD_CPU, VIEWERS_CPU)


async def measure(backend: Backend, sizes: Sizes, scratch: Path) -> dict[str, Reading]:
    # Generous: a dashboard that slows the job tenfold should still be measured, not cut off.
    steps, bound = sizes.viewer_steps, 60 + sizes.viewer_steps * DELAY * 50
    with setup(backend, "viewers", scratch) as app:
        await wait_connected(app)
        async with app.client() as client:
            alone = await finished_job(
                client, await start_job(client, "run_job", steps=steps, delay=DELAY), within=bound
            )
            crowd = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "tests.bench.viewers", "--port", str(app.port), "--viewers", str(sizes.viewers)),
                *("--timeout", str(bound)),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                cwd=PROJECT,
            )
            assert crowd.stdin is not None and crowd.stdout is not None
            try:
                # Only once the viewers' process is up, so the job starts with its audience ready to connect.
                if await asyncio.wait_for(crowd.stdout.readline(), timeout=30) != b"ready\n":
                    raise BenchError("the viewers' process did not start")
                cpu_before, began = cpu_seconds(app.pid), time.monotonic()
                job_id = await start_job(client, "run_job", steps=steps, delay=DELAY)
                crowd.stdin.write(job_id.encode() + b"\n")
                await crowd.stdin.drain()
                out, _ = await asyncio.wait_for(crowd.communicate(), timeout=bound + 30)
            finally:
                if crowd.returncode is None:
                    crowd.kill()
                    await crowd.wait()
            watched = await finished_job(client, job_id, within=30)
            cpu, wall = cpu_seconds(app.pid) - cpu_before, time.monotonic() - began
    report: dict[str, Any] = json.loads(out)
    seen: list[dict[str, Any]] = report["viewers"]
    events = watched["events"]
    lossless = sum(
        1
        for v in seen
        if v["error"] is None and v["fault"] is None and v["count"] == v["last"] == events and v["ended_at"]
    )
    ends = [v["ended_at"] for v in seen if v["ended_at"]]
    last = max(ends) - epoch(watched["finished_at"]) if len(ends) == len(seen) else float("inf")
    return dict(
        [
            read(LOSSLESS, lossless, ok=lossless == sizes.viewers),
            read(SLOWDOWN, job_seconds(watched) / job_seconds(alone)),
            read(LAST_DONE, last),
            read(UNWATCHED, job_seconds(alone)),
            read(WATCHED, job_seconds(watched)),
            read(DASHBOARD_CPU, 100 * cpu / wall),
            read(VIEWERS_CPU, 100 * report["cpu"] / wall),
        ]
    )


# ---- The viewers' process ----


async def watch(port: int, job_id: str, within: float) -> dict[str, Any]:
    try:
        tally = await asyncio.wait_for(follow("127.0.0.1", port, job_id), timeout=within)
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "fault": None, "count": 0, "last": 0, "ended_at": None}
    return {"error": None, "fault": tally.fault, "count": tally.count, "last": tally.last, "ended_at": tally.ended_at}


async def crowd(port: int, job_id: str, viewers: int, within: float) -> dict[str, Any]:
    began = time.process_time()
    seen = await asyncio.gather(*(watch(port, job_id, within) for _ in range(viewers)))
    return {"viewers": seen, "cpu": time.process_time() - began}


def main() -> None:
    parser = argparse.ArgumentParser(description="SSE viewers of one job: reads the job id on stdin, prints JSON.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--viewers", type=int, required=True)
    parser.add_argument("--timeout", type=float, required=True)
    args = parser.parse_args()
    print("ready", flush=True)
    job_id = sys.stdin.readline().strip()
    print(json.dumps(asyncio.run(crowd(args.port, job_id, args.viewers, args.timeout))), flush=True)


if __name__ == "__main__":
    main()
