"""The viewers' pages answer clicks while many watch one job, and the job is not slowed.

Issue 18: "with 50 viewers open, the job takes no more than 1.25x against no viewer, and every viewer's page still
answers a click within 0.5 s". Each viewer is a person at their own browser: the dashboard serves them all, and each
page runs on its own machine. So the job is watched by the `viewers` scenario's lean SSE readers (in a process of
their own) and by PAGES job pages in a real Chromium, together as many as the `viewers` scenario's; while the job
runs, each page in turn is brought to the front and its "Keys (?)" button pressed with the mouse, round after
round. A click is timed in its page: from the event's own time stamp (when the browser took the press in) to the
first task after the frame that followed its handler.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

from tests.bench.common import (
    TERMINAL_STATES,
    Backend,
    BenchError,
    Figure,
    Reading,
    Sizes,
    job_seconds,
    read,
    setup,
    wait_connected,
    wait_for,
)
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

DELAY = 0.004  # a log and a progress per step, as the `viewers` scenario: ~500 notifications/s
PAGES = 2  # job pages in Chromium; the other viewers are SSE readers
VIEWERS_MOST = 50  # the issue's
PROJECT = Path(__file__).resolve().parents[2]
CLICK_PAUSE_MS = 500
ANSWER_WITHIN = 30.0  # s, after the job: a press not answered by then is not answered
BUTTON = "#keys-toggle"

# Installed before the page's own scripts: every press of the button, timed in the page's clock.
TIME_CLICKS = """
(() => {
  const clicks = [];
  window.__clicks = clicks;
  document.addEventListener("click", (event) => {
    if (!(event.target instanceof Element) || !event.target.closest("BUTTON")) return;
    const start = event.timeStamp;
    requestAnimationFrame(() => setTimeout(() => clicks.push(performance.now() - start), 0));
  }, true);
})();
""".replace("BUTTON", BUTTON)

SLOWDOWN = Figure(
    "pages.slowdown", "job duration with the viewers and pages / none", "", "≤ 1.25", lambda v: v <= 1.25, digits=3
)
SLOWEST = Figure(
    "pages.slowest", "… slowest click of a page, to its next frame", "ms", "≤ 500 ms", lambda v: v <= 500, digits=0
)
ANSWERED = Figure(
    "pages.answered", "… pages whose every click was answered", "", f"all {PAGES}", every_run=True, digits=0
)
VIEWERS = Figure("pages.viewers", "… viewers (SSE readers and pages)", "", digits=0)
CLICKS = Figure("pages.clicks", "… clicks made", "", digits=0)
MEDIAN = Figure("pages.median", "… median click, to its next frame", "ms", digits=0)
FIGURES = (SLOWDOWN, SLOWEST, ANSWERED, VIEWERS, CLICKS, MEDIAN)


def measure(backend: Backend, sizes: Sizes, scratch: Path) -> dict[str, Reading]:
    steps = 2 * sizes.viewer_steps  # long enough for the pages to open and each to be pressed many times
    bound = 60 + steps * DELAY * 50
    with setup(backend, "pages", scratch) as app:
        asyncio.run(wait_connected(app))  # before Playwright: its sync API keeps an event loop running
        crowd = subprocess.Popen(
            [
                *(sys.executable, "-m", "tests.bench.viewers", "--port", str(app.port)),
                *("--viewers", str(VIEWERS_MOST - PAGES), "--timeout", str(bound)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=PROJECT,
            text=True,
        )
        assert crowd.stdin is not None and crowd.stdout is not None
        try:
            with httpx.Client(base_url=app.dashboard.url, timeout=30) as client:
                alone = run_job(client, steps)
                wait_for(lambda: ended(client, alone), what="the unwatched job to end", within=bound)
                if crowd.stdout.readline() != "ready\n":
                    raise BenchError("the viewers' process did not start")
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    try:
                        context = browser.new_context(viewport={"width": 1280, "height": 800})
                        context.add_init_script(TIME_CLICKS)
                        pages = [context.new_page() for _ in range(PAGES)]
                        watched = run_job(client, steps)
                        crowd.stdin.write(watched + "\n")
                        crowd.stdin.flush()
                        for page in pages:
                            page.goto(f"{app.dashboard.url}/jobs/{watched}", wait_until="commit")
                        clicks, made = press_until_ended(client, watched, pages)
                    finally:
                        browser.close()
                jobs = [client.get(f"/api/jobs/{job_id}").json() for job_id in (alone, watched)]
            out, _ = crowd.communicate(timeout=bound)
        finally:
            if crowd.poll() is None:
                crowd.kill()
                crowd.wait()
    for job in jobs:
        if job["state"] != "succeeded":
            raise BenchError(f"job {job['id']} ended {job['state']}: {job.get('error')}")
    seen = json.loads(out)["viewers"]
    lossless = sum(1 for v in seen if v["error"] is None and v["fault"] is None and v["count"] == jobs[1]["events"])
    if lossless != len(seen):
        raise BenchError(f"{len(seen) - lossless} of the {len(seen)} SSE viewers lost or doubled lines")
    answered = sum(1 for page_clicks, page_made in zip(clicks, made, strict=True) if len(page_clicks) == page_made)
    times = sorted(t for page_clicks in clicks for t in page_clicks)
    if not times:
        raise BenchError("no click was answered")
    return dict(
        [
            read(SLOWDOWN, job_seconds(jobs[1]) / job_seconds(jobs[0])),
            read(SLOWEST, times[-1] if answered == PAGES else float("inf")),
            read(ANSWERED, answered, ok=answered == PAGES),
            read(VIEWERS, len(seen) + PAGES),
            read(CLICKS, sum(made)),
            read(MEDIAN, times[len(times) // 2]),
        ]
    )


def run_job(client: httpx.Client, steps: int) -> str:
    response = client.post("/api/jobs", json={"tool": "run_job", "arguments": {"steps": steps, "delay": DELAY}})
    if response.status_code != 201:
        raise BenchError(f"POST /api/jobs answered {response.status_code}: {response.text[:300]}")
    job_id: str = response.json()["id"]
    return job_id


def ended(client: httpx.Client, job_id: str) -> bool:
    return client.get(f"/api/jobs/{job_id}").json().get("state") in TERMINAL_STATES


def press_until_ended(client: httpx.Client, job_id: str, pages: list[Page]) -> tuple[list[list[float]], list[int]]:
    """Press every page's button in turn, round after round, until the job ends; then collect each page's times."""
    made = [0] * len(pages)
    while not any(made) or not ended(client, job_id):  # one round at least
        for index, page in enumerate(pages):
            # As a person does: the page's tab to the front (the browser draws a page behind another about once
            # a second), then a mouse press where the button is, once it stands still.
            page.bring_to_front()
            page.locator(BUTTON).click(timeout=30_000)
            made[index] += 1
            page.wait_for_timeout(CLICK_PAUSE_MS)  # a person's pace, not a machine's
    # Every press is answered within a bound, or counted as not answered.
    deadline = time.monotonic() + ANSWER_WITHIN
    clicks: list[list[float]] = []
    for index, page in enumerate(pages):
        times: list[float] = []
        while True:
            times = [float(t) for t in page.evaluate("() => window.__clicks")]
            if len(times) >= made[index] or time.monotonic() > deadline:
                break
            page.wait_for_timeout(100)
        clicks.append(times)
    return clicks, made
