"""Many viewers, slow viewers and many jobs: everyone sees everything, once, in order, and only their own."""

from __future__ import annotations

import socket

import anyio
import httpx
import pytest

from tests.helpers import Dashboard, follow, read_sse, start_job

pytestmark = pytest.mark.anyio


async def watch(client: httpx.AsyncClient, job_id: str) -> list[int]:
    """One viewer: the seqs it was shown, in order, until the stream ended."""
    seqs: list[int] = []
    async with client.stream("GET", f"/jobs/{job_id}/events", timeout=30) as response:
        lines: list[str] = []
        async for line in response.aiter_lines():
            lines.append(line)
            if line == "event: end":
                break
    for message in read_sse(iter([*lines, ""])):
        seqs += message.seqs
    return seqs


async def test_a_hundred_viewers_of_one_job_each_see_every_event_once_in_order(any_dashboard: Dashboard) -> None:
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=any_dashboard.url, limits=limits, timeout=30) as client:
        response = await client.post("/api/jobs", json={"tool": "run_job", "arguments": {"steps": 30, "delay": 0.05}})
        job_id = response.json()["id"]
        results: list[list[int]] = []

        async def viewer() -> None:
            results.append(await watch(client, job_id))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for _ in range(100):
                    tg.start_soon(viewer)
    assert len(results) == 100
    assert all(seqs == list(range(1, 61)) for seqs in results)


async def test_twenty_jobs_at_once_keep_their_lines_apart_and_gapless(any_dashboard: Dashboard) -> None:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=any_dashboard.url, limits=limits, timeout=30) as client:
        ids = []
        for n in range(20):
            items = [f"job{n:02d}-item{i}" for i in range(8)]
            response = await client.post(
                "/api/jobs", json={"tool": "process_items", "arguments": {"items": items, "delay": 0.02}}
            )
            ids.append(response.json()["id"])
        seen: dict[tuple[str, int], list[int]] = {}

        async def viewer(job_id: str, k: int) -> None:
            seen[job_id, k] = await watch(client, job_id)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for job_id in ids:
                    for k in range(2):
                        tg.start_soon(viewer, job_id, k)
        for n, job_id in enumerate(ids):
            assert seen[job_id, 0] == seen[job_id, 1] == list(range(1, 17))
            events = (await client.get(f"/api/jobs/{job_id}/events")).json()["events"]
            texts = [e["data"] if e["kind"] == "log" else e["message"] for e in events]
            assert all(f"job{n:02d}-" in t for t in texts), texts


def test_a_viewer_that_reads_nothing_for_a_whole_flood_slows_no_one_and_loses_nothing(any_dashboard: Dashboard) -> None:
    # The slow viewer: a small fixed receive buffer (so the server must hold back),
    # and it reads nothing at all until the job is over.
    small_buffer = httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)])
    with (
        any_dashboard.client() as client,
        httpx.Client(base_url=any_dashboard.url, transport=small_buffer) as slow_client,
    ):
        job_id = start_job(client, "flood", count=8000)
        with slow_client.stream("GET", f"/jobs/{job_id}/events", timeout=60) as slow:
            fast = follow(client, job_id, timeout=60)  # another viewer, unhindered
            assert [s for m in fast for s in m.seqs] == list(range(1, 16001))
            assert client.get(f"/api/jobs/{job_id}").json()["state"] == "succeeded"

            # Only now does the slow viewer read: it catches up from the store, everything once, in order.
            seqs = []
            for message in read_sse(slow.iter_lines()):
                seqs += message.seqs
                if message.event == "end":
                    break
    assert seqs == list(range(1, 16001))
