"""Relay speed, reported as figures (`make bench`; not part of the test suite).

Starts the bundled server and the dashboard as processes and measures, end to end
(server -> dashboard -> SQLite -> SSE viewer):
- throughput: `flood` notifications back to back;
- latency: for a steady job, the delay from the dashboard receiving a notification to a viewer reading it.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from tests.helpers import Dashboard, follow, read_sse, start_job
from webapp.bundled import ChildServer

RECEIVED = re.compile(r'<time datetime="([^"]+)"')


def throughput(client: httpx.Client, count: int) -> str:
    began = time.perf_counter()
    job_id = start_job(client, "flood", count=count)
    messages = follow(client, job_id, timeout=300)
    elapsed = time.perf_counter() - began
    seqs = [s for m in messages for s in m.seqs]
    assert seqs == list(range(1, 2 * count + 1)), "lost, duplicated or reordered events"
    return f"{len(seqs)} events in {elapsed:.2f} s = {len(seqs) / elapsed:,.0f} events/s ({len(messages)} SSE messages)"


def latency(client: httpx.Client, steps: int, delay: float) -> str:
    job_id = start_job(client, steps=steps, delay=delay)
    delays = []
    with client.stream("GET", f"/jobs/{job_id}/events", timeout=60) as response:
        for message in read_sse(response.iter_lines()):
            now = time.time()
            delays += [now - datetime.fromisoformat(r).timestamp() for r in RECEIVED.findall(message.data)]
            if message.event == "end":
                break
    ms = sorted(d * 1000 for d in delays)
    p99 = ms[int(len(ms) * 0.99) - 1]
    rate = f"{len(ms)} events at ~{2 / delay:.0f}/s"
    return f"{rate}: receive-to-viewer p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description="Relay speed, end to end.")
    parser.add_argument("--count", type=int, default=10000, help="flood: log lines (and as many progress)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = ChildServer()
    server.start()
    with tempfile.TemporaryDirectory() as tmp:
        app = Dashboard(Path(tmp) / "bench.sqlite3", mcp_url=server.url).start()
        try:
            with app.client() as client:
                for run in range(1, args.runs + 1):
                    print(f"throughput run {run}: {throughput(client, args.count)}", flush=True)
                print(f"latency: {latency(client, steps=1000, delay=0.01)}", flush=True)
        finally:
            app.stop()
            server.stop()


if __name__ == "__main__":
    main()
