"""A real Chromium on a job page during a `flood`: it keeps up, stays responsive, and keeps its DOM bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

from tests.bench.common import (
    TERMINAL_STATES,
    Backend,
    BenchError,
    Figure,
    Reading,
    Sizes,
    epoch,
    read,
    setup,
    wait_connected,
    wait_for,
)
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

# Installed before the page's own scripts. It records, in the page's clock (epoch ms), when the log's last
# line and the state badge last changed; stalls seen two ways (long tasks, and the longest gap between the
# ticks of a 10 ms timer); and the size of the log, sampled between tasks and at every DOM mutation.
WATCH_PAGE = """
(() => {
  const bench = {
    lastSeq: 0, lastSeqAt: null, state: null, stateAt: null, cap: null,
    longTask: 0, longestGap: 0, maxLines: 0, maxLinesAnyTime: 0,
  };
  window.__bench = bench;
  const now = () => performance.timeOrigin + performance.now();
  try {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) bench.longTask = Math.max(bench.longTask, entry.duration);
    }).observe({ type: "longtask", buffered: true });
  } catch (error) {
    bench.longTask = -1;
  }
  let tick = performance.now();
  const beat = () => {
    const t = performance.now();
    bench.longestGap = Math.max(bench.longestGap, t - tick);
    tick = t;
    const log = document.getElementById("log");
    if (log) bench.maxLines = Math.max(bench.maxLines, log.children.length);
    setTimeout(beat, 10);
  };
  setTimeout(beat, 10);
  const look = () => {
    const log = document.getElementById("log");
    if (log) {
      bench.cap = Number(log.dataset.maxLines);
      bench.maxLinesAnyTime = Math.max(bench.maxLinesAnyTime, log.children.length);
      const seq = log.lastElementChild ? Number(log.lastElementChild.dataset.seq) : 0;
      if (seq !== bench.lastSeq) { bench.lastSeq = seq; bench.lastSeqAt = now(); }
    }
    const badge = document.querySelector("#job-status [data-state]");
    const state = badge ? badge.dataset.state : null;
    if (state !== bench.state) { bench.state = state; bench.stateAt = now(); }
  };
  new MutationObserver(look).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"],
  });
})();
"""

SHOWN = Figure(
    "browser.shown",
    "Chromium during a 40,000-notification `flood`: last line and final state shown, after the job's end",
    "s",
    "≤ 2 s",
    lambda v: v <= 2.0,
    digits=3,
)
STALL = Figure("browser.stall", "… longest main-thread stall", "ms", "≤ 500 ms", lambda v: v <= 500, digits=0)
DOM = Figure(
    "browser.dom", "… most `#log > li` at once (sampled every 10 ms)", "", "≤ data-max-lines", every_run=True, digits=0
)
LONG_TASK = Figure("browser.longtask", "… longest long task (PerformanceObserver)", "ms", digits=0)
GAP = Figure("browser.gap", "… longest gap between 10 ms timer ticks", "ms", digits=0)
DOM_ANY = Figure("browser.dom_any", "… most `#log > li` seen by a MutationObserver (mid-task)", "", digits=0)
FIGURES = (SHOWN, STALL, DOM, LONG_TASK, GAP, DOM_ANY)


def measure(backend: Backend, sizes: Sizes, scratch: Path) -> dict[str, Reading]:
    errors: list[str] = []
    with setup(backend, "browser", scratch) as app:
        asyncio.run(wait_connected(app))  # before Playwright: its sync API keeps an event loop running
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.add_init_script(WATCH_PAGE)
                job, bench = watch_flood(page, app.dashboard.url, sizes.browser_count)
            finally:
                browser.close()
    if errors:
        raise BenchError(f"JavaScript errors on the page: {errors[:3]}")
    shown_at = max(bench["lastSeqAt"], bench["stateAt"]) / 1000
    stall = max(bench["longTask"], bench["longestGap"])
    return dict(
        [
            read(SHOWN, shown_at - epoch(job["finished_at"])),
            read(STALL, stall),
            read(DOM, bench["maxLines"], ok=bench["maxLines"] <= bench["cap"]),
            read(LONG_TASK, bench["longTask"]),
            read(GAP, bench["longestGap"]),
            read(DOM_ANY, bench["maxLinesAnyTime"]),
        ]
    )


def watch_flood(page: Page, base_url: str, count: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start a `flood`, open its page at once, and return the ended job and what the page recorded."""
    job: dict[str, Any] = {}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post("/api/jobs", json={"tool": "flood", "arguments": {"count": count}})
        if response.status_code != 201:
            raise BenchError(f"POST /api/jobs answered {response.status_code}: {response.text[:300]}")
        job_id = response.json()["id"]
        page.goto(f"{base_url}/jobs/{job_id}")

        def ended() -> bool:
            nonlocal job
            job = client.get(f"/api/jobs/{job_id}").json()
            return job.get("state") in TERMINAL_STATES

        wait_for(ended, what=f"job {job_id} to end", within=60 + count / 200, interval=0.25)
    if job["state"] != "succeeded":
        raise BenchError(f"job {job_id} ended {job['state']}: {job.get('error')}")
    bench: dict[str, Any] = {}

    def shown() -> bool:
        nonlocal bench
        bench = page.evaluate("() => window.__bench")
        return bool(bench["state"] == "succeeded" and bench["lastSeq"] == job["events"])

    wait_for(shown, what="the page to show the last line and `succeeded`", within=120)
    return job, bench
