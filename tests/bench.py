"""Relay throughput, reported as figures (`make bench`; not part of the test suite).

Starts the bundled server and the dashboard as processes, runs `flood`, and measures how fast
notifications go server -> dashboard -> SQLite -> SSE viewer, end to end.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.helpers import Dashboard, follow, start_job
from webapp.bundled import ChildServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10000, help="log lines (and as many progress notifications)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = ChildServer()
    server.start()
    with tempfile.TemporaryDirectory() as tmp:
        app = Dashboard(Path(tmp) / "bench.sqlite3", mcp_url=server.url).start()
        try:
            with app.client() as client:
                for run in range(1, args.runs + 1):
                    began = time.perf_counter()
                    job_id = start_job(client, "flood", count=args.count)
                    messages = follow(client, job_id, timeout=300)
                    elapsed = time.perf_counter() - began
                    seqs = [s for m in messages for s in m.seqs]
                    assert seqs == list(range(1, 2 * args.count + 1)), "lost, duplicated or reordered events"
                    print(
                        f"run {run}: {len(seqs)} events live to an SSE viewer in {elapsed:.2f} s "
                        f"= {len(seqs) / elapsed:,.0f} events/s over {len(messages)} SSE messages"
                    )
        finally:
            app.stop()
            server.stop()


if __name__ == "__main__":
    main()
