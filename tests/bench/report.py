"""The report: docs/benchmarks.md, a table per backend (median, every run, target, met?) and the machine."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.common import Figure, Reading, Sizes

YES, NO = "✅ yes", "❌ **no**"


@dataclass
class Outcome:
    """Everything measured on one backend."""

    backend: str
    description: str = ""
    skipped: str | None = None
    readings: dict[str, dict[int, Reading]] = field(default_factory=dict)  # figure key -> run -> reading
    errors: list[str] = field(default_factory=list)

    def add(self, run: int, readings: dict[str, Reading]) -> None:
        for key, reading in readings.items():
            self.readings.setdefault(key, {})[run] = reading


@dataclass(frozen=True)
class Section:
    """A scenario as the report presents it."""

    name: str
    what: str  # how it is measured, one or two sentences
    figures: Sequence[Figure]


def verdict(figure: Figure, readings: dict[int, Reading], runs: int) -> str:
    if figure.every_run:
        return YES if len(readings) == runs and all(r.ok for r in readings.values()) else NO
    if figure.check is None or not readings:
        return "—"
    return YES if figure.check(statistics.median(r.value for r in readings.values())) else NO


def table(outcome: Outcome, sections: Sequence[Section], runs: int) -> list[str]:
    lines = ["| figure | median | runs | target | met? |", "|---|---:|---|---|---|"]
    for section in sections:
        for figure in section.figures:
            readings = outcome.readings.get(figure.key, {})
            unit = f" {figure.unit}" if figure.unit else ""
            median = figure.show(statistics.median(r.value for r in readings.values())) + unit if readings else "—"
            each = ", ".join(figure.show(readings[r].value) if r in readings else "error" for r in range(1, runs + 1))
            lines.append(
                f"| {figure.label} | {median} | {each} | {figure.target} | {verdict(figure, readings, runs)} |"
            )
    return lines


# Issue 18's targets on one core: (label, figure key or a ratio of two, target, check on the median).
ONE_CORE_TARGETS: tuple[tuple[str, str, str, Callable[[float], bool]], ...] = (
    (
        "longest freeze of the job page in a 20,000-notification flood (ms)",
        "browser.stall",
        "≤ 500 ms",
        lambda v: v <= 500,
    ),
    ("last line shown after the job's end (s)", "browser.shown", "≤ 3 s", lambda v: v <= 3),
    ("relay / bare SDK `Client`", "flood.ratio", "≥ 0.6 (aim 0.8)", lambda v: v >= 0.6),
    ("CPU per event: flood / light rate", "flood.cpu/latency.cpu", "≤ 1.0", lambda v: v <= 1.0),
    ("job duration with 50 viewers / none", "viewers.slowdown", "≤ 1.25", lambda v: v <= 1.25),
    ("permalink to line 7 of a 100,000-event job, in view (s)", "reading.seq7", "≤ 1 s", lambda v: v <= 1),
    ("… lines in the DOM then", "reading.seq7_dom", "≤ data-max-lines (2,000)", lambda v: v <= 2000),
    ("regular-expression search over it (s)", "reading.regex", "≤ 1 s", lambda v: v <= 1),
)
ONE_CORE_HEADING = "## One core (issue 18)"


def one_core_median(outcome: Outcome, key: str) -> float | None:
    def median(name: str) -> float | None:
        readings = outcome.readings.get(name, {})
        return statistics.median(r.value for r in readings.values()) if readings else None

    if "/" in key:
        top, bottom = (median(name) for name in key.split("/"))
        return top / bottom if top is not None and bottom else None
    return median(key)


def one_core_section(
    outcomes: Sequence[Outcome], sections: Sequence[Section], runs: int, code: str | None
) -> list[str]:
    """`make bench ARGS="--cores 1"`: the bench and all it starts pinned to one core, judged by issue 18's targets."""
    lines = [
        ONE_CORE_HEADING,
        "",
        '`make bench ARGS="--cores 1"`: the bench process pins itself to one core (`os.sched_setaffinity`) before '
        "it starts anything, so the MCP server, the dashboard, PostgreSQL, Chromium and the bench's own readers all "
        f"share that core. Median of {runs} run(s); written by the bench (a two-core run keeps this section).",
        "",
    ]
    for outcome in outcomes:
        lines += [f"### {outcome.backend}, one core", ""]
        if outcome.skipped:
            lines += [f"Not measured: {outcome.skipped}.", ""]
            continue
        lines += ["| figure | median | target | met? |", "|---|---:|---|---|"]
        for label, key, target, check in ONE_CORE_TARGETS:
            value = one_core_median(outcome, key)
            shown = "—" if value is None else f"{value:,.3f}".rstrip("0").rstrip(".")
            met = "—" if value is None else (YES if check(value) else NO)
            lines.append(f"| {label} | {shown} | {target} | {met} |")
        lines += ["", "Every figure of the run:", "", *table(outcome, sections, runs), ""]
        if outcome.errors:
            lines += ["Runs that produced no figures:", "", *(f"- {error}" for error in outcome.errors), ""]
    lines += [f"Code measured: {code or _code_version()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.", ""]
    return lines


def kept_one_core(path: Path) -> list[str]:
    """The one-core section of the report already there, kept by a run that does not measure it."""
    if not path.exists():
        return []
    text = path.read_text()
    at = text.find(ONE_CORE_HEADING)
    return [*text[at:].rstrip("\n").split("\n"), ""] if at >= 0 else []


def machine(postgres: str | None, code: str | None) -> list[str]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if line.startswith("model name")), "?"
    )
    memory = next((int(line.split()[1]) for line in _lines("/proc/meminfo") if line.startswith("MemTotal:")), 0)
    rows = [
        ("CPU", f"{cpu}, {os.cpu_count()} cores"),
        ("RAM", f"{memory / 1024 / 1024:.1f} GiB"),
        ("Kernel", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Chromium", _output("/usr/bin/chromium", "--version") or "not installed"),
        ("PostgreSQL", postgres or "not measured"),
        ("Code measured", code or _code_version()),
        ("Date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    return ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def _output(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _code_version() -> str:
    commit = _output("git", "rev-parse", "--short", "HEAD")
    if not commit:
        return "unknown (not a git checkout)"
    dirty = _output("git", "status", "--porcelain", "--", "webapp", "templates", "static")
    return f"commit {commit}" + (" with uncommitted changes to the app" if dirty else "")


def write(
    path: Path,
    outcomes: Sequence[Outcome],
    sections: Sequence[Section],
    *,
    runs_done: int,
    runs: int,
    sizes: Sizes,
    quick: bool,
    postgres: str | None,
    code: str | None = None,
    cores: int | None = None,
) -> None:
    if cores == 1:
        # Only the one-core section is replaced: the two-core figures beside it stay.
        text = path.read_text() if path.exists() else "# Benchmarks\n"
        at = text.find(ONE_CORE_HEADING)
        head = (text[:at] if at >= 0 else text).rstrip("\n") + "\n\n"
        path.write_text(head + "\n".join(one_core_section(outcomes, sections, runs_done, code)))
        return
    partial = f" **Partial: {runs_done} of {runs} runs so far.**" if runs_done < runs else ""
    lines = [
        "# Benchmarks",
        "",
        "How fast the relay is, end to end, on loopback: the bundled MCP server -> the dashboard (`python -m webapp`, "
        "its own process) -> the store -> SSE readers (and a real Chromium). Every scenario run gets a fresh MCP "
        "server, a fresh database and a fresh dashboard (on PostgreSQL, after a `CHECKPOINT`: the writes of the run "
        "before are flushed before, not during, the next). Runs are interleaved (run 1 of every scenario on every "
        "backend, then run 2, ...), so a slow spell of the machine spreads over all figures instead of sinking one. "
        f"The median of {runs_done} run(s) is judged against the target; correctness figures (lossless viewers, a "
        "bounded DOM) must hold in every run. The SSE readers are lean asyncio connections (`tests/bench/sse.py`) "
        f"that check every seq arrives once and in order.{partial}",
        "",
        "Re-run with `make bench` (all backends, 3 runs; it takes a while), or e.g. "
        '`make bench ARGS="--backends sqlite --runs 5"`; `--quick` is a smoke run with small sizes. '
        "Each run's figures are printed as they come.",
        "",
        f"Sizes{' (`--quick`)' if quick else ''}: `flood(count={sizes.flood_count:,})`; "
        f"`run_job(steps={sizes.latency_steps:,}, delay=0.002)` for latency; {sizes.viewers} viewers of "
        f"`run_job(steps={sizes.viewer_steps:,}, delay=0.004)`; `flood(count={sizes.million_count:,})` for the "
        f"long job; `flood(count={sizes.browser_count:,})` in Chromium.",
        "",
        "## What each figure means",
        "",
        *(f"- **{section.name}**: {section.what}" for section in sections),
        "",
    ]
    for outcome in outcomes:
        lines += [f"## {outcome.backend}", ""]
        if outcome.skipped:
            lines += [f"Not measured: {outcome.skipped}.", ""]
            continue
        if outcome.description:
            lines += [f"{outcome.description}.", ""]
        lines += [*table(outcome, sections, runs_done), ""]
        if outcome.errors:
            lines += ["Runs that produced no figures:", "", *(f"- {error}" for error in outcome.errors), ""]
    lines += ["## Machine", "", *machine(postgres, code), ""]
    lines += kept_one_core(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
