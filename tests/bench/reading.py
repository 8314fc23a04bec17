"""Issue 8's test of a log viewer: on a 100,000-line job, show only the errors that say "timeout", export exactly
those lines, open one of them by its link in dark mode: each step within a second."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from tests.bench.common import Backend, BenchError, Figure, Reading, Sizes, read, setup, wait_connected, wait_for
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

EVENTS = 100_000  # a flood of 50,000 sends 50,000 log lines and 50,000 progress notifications
TIMEOUT_EVERY = 100  # every 100th line says "upstream timeout"; a quarter of those are at error (n % 8 == 4)
VIEW = {"levels": "error", "q": "timeout"}
WITHIN = 1.0


def _within(value: float) -> bool:
    return value <= WITHIN


PAGE = Figure(
    "reading.page",
    "100,000-line job: its page, whole (the newest 2,000 lines, counts)",
    "s",
    "≤ 1 s",
    _within,
    digits=3,
)
FILTERED = Figure("reading.filtered", "… only the errors saying “timeout”: the page", "s", "≤ 1 s", _within, digits=3)
EXPORT = Figure("reading.export", "… exporting exactly those lines (text)", "s", "≤ 1 s", _within, digits=3)
LINK = Figure(
    "reading.link",
    "… Chromium, dark theme: a link to one of them, until the line is shown and marked",
    "s",
    "≤ 1 s",
    _within,
    digits=3,
)
REGEX = Figure(
    "reading.regex",
    "… a regular-expression search over it (`q=upstream\\s+time.ut&regex=1`): the page",
    "s",
    "≤ 1 s",
    _within,
    digits=3,
)
SEQ7 = Figure(
    "reading.seq7",
    "… Chromium: a permalink to line 7 (no filter), until it is marked in view, the DOM within the window",
    "s",
    "≤ 1 s",
    _within,
    digits=3,
)
SEQ7_DOM = Figure("reading.seq7_dom", "… lines in the DOM then (`#log > li`)", "", "≤ data-max-lines", digits=0)
FIGURES = (PAGE, FILTERED, EXPORT, LINK, REGEX, SEQ7, SEQ7_DOM)


def timed(client: httpx.Client, url: str, **params: Any) -> tuple[float, httpx.Response]:
    began = time.perf_counter()
    response = client.get(url, params=params, headers={"Accept": "text/html"})
    elapsed = time.perf_counter() - began
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    return elapsed, response


def measure(backend: Backend, sizes: Sizes, scratch: Path) -> dict[str, Reading]:
    count = EVENTS // 2
    matching = [n for n in range(TIMEOUT_EVERY, count + 1, TIMEOUT_EVERY) if n % 8 == 4]
    with setup(backend, "reading", scratch) as app:
        asyncio.run(wait_connected(app))
        base = app.dashboard.url
        with httpx.Client(base_url=base, timeout=60) as client:
            arguments = {"count": count, "timeout_every": TIMEOUT_EVERY}
            job_id = client.post("/api/jobs", json={"tool": "flood", "arguments": arguments}).json()["id"]

            def ended() -> bool:
                return bool(client.get(f"/api/jobs/{job_id}").json()["state"] == "succeeded")

            wait_for(ended, what="the 100,000-line job to end", within=300, interval=0.5)
            page, _ = timed(client, f"/jobs/{job_id}")
            filtered, _ = timed(client, f"/jobs/{job_id}", **VIEW)
            export, response = timed(client, f"/api/jobs/{job_id}/export", format="text", **VIEW)
            regex, found = timed(client, f"/jobs/{job_id}", q=r"upstream\s+time.ut", regex="1")
            if f'data-matching="{EVENTS // 2 // TIMEOUT_EVERY}"' not in found.text:
                raise BenchError("the regular-expression search did not find every line that says timeout")
            lines = response.text.splitlines()
            if len(lines) != len(matching) or not all("upstream timeout" in line for line in lines):
                raise BenchError(f"the export held {len(lines)} lines, not the {len(matching)} errors with timeout")
        seq = 2 * matching[len(matching) // 2] - 1  # a line in the middle of them (log n is seq 2n - 1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1366, "height": 900})
                context.add_cookies([{"name": "theme", "value": "dark", "url": base}])
                tab = context.new_page()
                began = time.perf_counter()
                tab.goto(f"{base}/jobs/{job_id}?levels=error&q=timeout#seq-{seq}")
                tab.wait_for_function(
                    f"() => document.querySelector('#seq-{seq}.permalinked') !== null", timeout=30_000
                )
                link = time.perf_counter() - began
                dark = tab.evaluate("() => document.documentElement.dataset.theme")
                if dark != "dark":
                    raise BenchError(f"the page was not dark (data-theme={dark!r})")
                # Issue 18: line 7 of the whole job, straight from its link.
                tab = context.new_page()
                began = time.perf_counter()
                tab.goto(f"{base}/jobs/{job_id}#seq-7")
                tab.wait_for_function(
                    "() => { const l = document.querySelector('#seq-7.permalinked'); if (!l) return false;"
                    " const r = l.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }",
                    timeout=120_000,
                )
                seq7 = time.perf_counter() - began
                dom, cap = tab.evaluate(
                    "() => [document.querySelectorAll('#log > li').length,"
                    " Number(document.getElementById('log').dataset.maxLines)]"
                )
            finally:
                browser.close()
    return dict(
        [
            read(PAGE, page),
            read(FILTERED, filtered),
            read(EXPORT, export),
            read(LINK, link),
            read(REGEX, regex),
            read(SEQ7, seq7, ok=seq7 <= WITHIN and dom <= cap),
            read(SEQ7_DOM, dom, ok=dom <= cap),
        ]
    )
