"""`python -m tests.bench` (`make bench`): run every scenario on every backend, interleaved, and write the report."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench import browser, flood, latency, million, pages, reading, viewers
from tests.bench.common import (
    FULL,
    ONE_CORE,
    QUICK,
    Backend,
    PostgresBackend,
    Reading,
    Sizes,
    SQLiteBackend,
    check_backend,
)
from tests.bench.report import Outcome, Section, write

Measure = Callable[[Backend, Sizes, Path], dict[str, Reading]]


def in_loop(measure: Callable[[Backend, Sizes, Path], Coroutine[Any, Any, dict[str, Reading]]]) -> Measure:
    return lambda backend, sizes, scratch: asyncio.run(measure(backend, sizes, scratch))


@dataclass(frozen=True)
class Scenario:
    section: Section
    measure: Measure


SCENARIOS = {
    "flood": Scenario(
        Section(
            "flood",
            "the bundled server's `flood(count)` sends count log lines and count progress notifications back to "
            "back. The dashboard's rate is 2 x count over the time from `POST /api/jobs` to a viewer reading "
            "`event: end` (the viewer checks seqs 1..2 x count, in order); the bare rate is the MCP SDK's `Client` "
            "in the bench process counting the same call's notifications, on the same server: the mean of a call "
            "just before the dashboard's and one just after.",
            flood.FIGURES,
        ),
        in_loop(flood.measure),
    ),
    "latency": Scenario(
        Section(
            "latency",
            "`run_job(delay=0.002)` (a log and a progress per step). For every event: the wall time a viewer read "
            "its SSE message minus the `received_at` the dashboard stored for it (read from the database).",
            latency.FIGURES,
        ),
        in_loop(latency.measure),
    ),
    "viewers": Scenario(
        Section(
            "viewers",
            "`run_job(delay=0.004)` once unwatched, then again with 200 SSE viewers connecting as it starts (from "
            "a separate process). Durations are the job's `finished_at - created_at`; a viewer is lossless when it "
            "read every seq once, in order, and the `end` event.",
            viewers.FIGURES,
        ),
        in_loop(viewers.measure),
    ),
    "pages": Scenario(
        Section(
            "pages",
            "issue 18's viewers at their own browsers: `run_job(delay=0.004)` (twice the viewers' steps) once "
            "unwatched, then again watched by as many viewers as the `viewers` scenario: two job pages in Chromium "
            "and the rest SSE readers (in a process of their own, all of them checked lossless). While it runs, each "
            "page in turn is brought to the front and its “Keys (?)” button pressed with the mouse, round after "
            "round. A click is "
            "timed in its page: from the event's time stamp to the first task after the frame that followed it.",
            pages.FIGURES,
        ),
        pages.measure,
    ),
    "million": Scenario(
        Section(
            "million",
            "a `flood` of a million notifications with one viewer following. The RSS of the dashboard's process "
            "and any children (`/proc/PID/status`) is sampled every 0.5 s: growth is the largest sample minus the "
            "one before the job. The job page (`GET /jobs/{id}`) is timed every 2 s.",
            million.FIGURES,
        ),
        in_loop(million.measure),
    ),
    "browser": Scenario(
        Section(
            "browser",
            "headless Chromium (Playwright) opens the job page as a `flood` starts. A script installed before the "
            "page's own records when the last line and the `succeeded` badge appeared (compared with the job's "
            "`finished_at`), long tasks, the longest gap between ticks of a 10 ms timer (it spans back-to-back "
            "tasks, so it can exceed the longest one), and the number of `#log > li`. The stall is the larger of "
            "the longest task and the longest gap.",
            browser.FIGURES,
        ),
        browser.measure,
    ),
    "reading": Scenario(
        Section(
            "reading",
            "issue 8's test: a `flood(50000, timeout_every=100)` (100,000 lines, 250 of them errors that say "
            "“timeout”). Then, one after the other: its page; the page of only those errors "
            "(`levels=error&q=timeout`); "
            "exporting them (text, checked to be exactly those lines); and Chromium with the dark theme opening "
            "that view with `#seq-N` of one of them, until the line is marked. Each is wall time from the request "
            "to the whole answer (or to the marked line).",
            reading.FIGURES,
        ),
        reading.measure,
    ),
}
BACKENDS: dict[str, Callable[[Path], Backend]] = {
    "sqlite": SQLiteBackend,
    "postgres": lambda scratch: PostgresBackend(),
}


def names(choices: dict[str, Any]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        picked = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in picked if name not in choices]
        if unknown or not picked:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)} (comma-separated), not {text!r}")
        return picked

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--backends", type=names(BACKENDS), default=list(BACKENDS), help="default: all")
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario per backend (default: 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", type=names(SCENARIOS), default=list(SCENARIOS), help="scenarios (default: all)")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"), help="the report to write")
    parser.add_argument("--code", help="names the code measured in the report (default: the git commit)")
    parser.add_argument(
        "--cores",
        type=int,
        help="pin this process, and so everything it starts (the MCP server, the dashboard, PostgreSQL, Chromium),"
        " to this many cores (os.sched_setaffinity) before starting anything: a slow or busy machine (issue 18)."
        " With 1: the one-core sizes (a 20,000-notification flood in Chromium, 50 viewers)",
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        help="also start this many processes that each keep a core busy (a loop), on the same cores, for the whole"
        " bench: a machine that is doing other work too (issue 18). Its figures are not written to the report's"
        " main tables: give --out",
    )
    args = parser.parse_args(argv)
    if args.busy < 0:
        parser.error("--busy must not be negative")
    if args.busy and args.out == parser.get_default("out"):
        parser.error("--busy figures are not the report's: give --out")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.cores is not None and not 1 <= args.cores <= len(os.sched_getaffinity(0)):
        parser.error(f"--cores must be between 1 and {len(os.sched_getaffinity(0))}")
    return args


def show(reading: Reading, unit: str, digits: int) -> str:
    mark = "" if reading.ok is None else (" ok" if reading.ok else " MISSED")
    return f"{reading.value:,.{digits}f}{' ' + unit if unit else ''}{mark}"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.cores is not None:
        # Children inherit the affinity: everything the bench starts shares these cores with it.
        cores = sorted(os.sched_getaffinity(0))[: args.cores]
        os.sched_setaffinity(0, set(cores))
        print(f"pinned to core(s) {cores}", flush=True)
        if args.cores == 1 and not args.quick:
            sizes = ONE_CORE
    scenarios = [SCENARIOS[name] for name in args.only]
    # Started after the pinning: they share the bench's cores, at the same priority as everything it starts.
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    if burners:
        print(f"{len(burners)} busy process(es) running beside the bench", flush=True)
    try:
        run_all(args, sizes, scenarios)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def run_all(args: argparse.Namespace, sizes: Sizes, scenarios: list[Scenario]) -> None:
    with tempfile.TemporaryDirectory(prefix="mcp-live-bench-") as tmp:
        scratch = Path(tmp)
        backends = [BACKENDS[name](scratch) for name in args.backends]
        outcomes = [Outcome(backend.name) for backend in backends]

        def report(runs_done: int) -> None:
            postgres = next((o.description.split(" (")[0] for o in outcomes if o.backend == "PostgreSQL"), "")
            sections = [s.section for s in scenarios]
            write(
                args.out,
                outcomes,
                sections,
                runs_done=runs_done,
                runs=args.runs,
                sizes=sizes,
                quick=args.quick,
                postgres=postgres or None,
                code=args.code,
                cores=args.cores,
            )
            print(f"wrote {args.out} after {runs_done} of {args.runs} run(s)", flush=True)

        try:
            ready = [prepare(backend, outcome, scratch) for backend, outcome in zip(backends, outcomes, strict=True)]
            if not any(ready):
                report(0)
                return
            for run in range(1, args.runs + 1):
                for scenario in scenarios:
                    for backend, outcome, ok in zip(backends, outcomes, ready, strict=True):
                        if ok:
                            measure_once(scenario, backend, sizes, scratch, run, args.runs, outcome)
                # After every round, so a long bench that is stopped still leaves its figures so far.
                report(run)
        finally:
            for backend in backends:
                backend.close()


def prepare(backend: Backend, outcome: Outcome, scratch: Path) -> bool:
    """Start the backend and prove the dashboard really runs on it; otherwise say why it is skipped."""
    try:
        backend.open()
        outcome.skipped = asyncio.run(check_backend(backend, scratch))
        if outcome.skipped is None:
            outcome.description = backend.describe()
    except Exception as exc:
        outcome.skipped = f"{backend.name} could not be set up: {exc}".splitlines()[0]
    if outcome.skipped:
        print(f"skipping {backend.name}: {outcome.skipped}", flush=True)
    return outcome.skipped is None


def measure_once(
    scenario: Scenario, backend: Backend, sizes: Sizes, scratch: Path, run: int, runs: int, outcome: Outcome
) -> None:
    name = scenario.section.name
    began = time.monotonic()
    try:
        backend.settle()
        readings = scenario.measure(backend, sizes, scratch)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        outcome.errors.append(f"run {run}, {name}: {reason}")
        print(f"run {run}/{runs} {backend.name} {name}: FAILED {reason}", flush=True)
        return
    outcome.add(run, readings)
    figures = {figure.key: figure for figure in scenario.section.figures}
    shown = " | ".join(
        f"{figures[key].key.split('.', 1)[1]} {show(reading, figures[key].unit, figures[key].digits)}"
        for key, reading in readings.items()
    )
    print(f"run {run}/{runs} {backend.name} {name} ({time.monotonic() - began:.0f} s): {shown}", flush=True)


if __name__ == "__main__":
    main()
