"""Past one process: web processes and workers sharing one PostgreSQL, as on several machines."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass

import anyio
import httpx
import pytest

from tests.helpers import (
    Dashboard,
    all_events,
    follow,
    read_sse,
    read_until,
    run_to_end,
    server_stats,
    start_job,
    wait_until,
)
from tests.postgres import TempPostgres
from webapp.bundled import ChildServer


@dataclass
class Cluster:
    server: ChildServer
    web_a: Dashboard
    web_b: Dashboard
    workers: list[Dashboard]

    def worker(self, worker_id: str) -> Dashboard:
        return next(w for w in self.workers if w.worker_id == worker_id)


def start_cluster(db: str, server: ChildServer, *, webs: int, workers: int) -> list[Dashboard]:
    processes: list[Dashboard] = []
    try:
        for _ in range(webs):
            processes.append(Dashboard(db, mcp_url=server.url, role="web").start())
        for _ in range(workers):
            # One job at a time each: which worker runs what is then up to the queue, not to chance.
            processes.append(Dashboard(db, mcp_url=server.url, role="worker", args=("--max-jobs", "1")).start())
    except BaseException:
        for process in processes:
            process.stop()
        raise
    return processes


@pytest.fixture(scope="module")
def cluster(postgres: TempPostgres) -> Iterator[Cluster]:
    server = ChildServer()
    server.start()
    processes = start_cluster(postgres.create_database("cluster"), server, webs=2, workers=2)
    try:
        yield Cluster(server, processes[0], processes[1], processes[2:])
    finally:
        for process in processes:
            process.stop()
        server.stop()


async def watch(url: str, job_id: str) -> list[int]:
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as client,
        client.stream("GET", f"/jobs/{job_id}/events") as response,
    ):
        lines = [line async for line in response.aiter_lines()]
    return [seq for message in read_sse(iter([*lines, ""])) for seq in message.seqs]


@pytest.mark.anyio
async def test_a_job_started_on_one_web_process_is_seen_whole_on_every_web_process(cluster: Cluster) -> None:
    with cluster.web_a.client() as client:
        job_id = start_job(client, steps=40, delay=0.02)
    seen: dict[str, list[int]] = {}

    async def viewer(name: str, url: str) -> None:
        seen[name] = await watch(url, job_id)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for n in range(3):
                tg.start_soon(viewer, f"a{n}", cluster.web_a.url)
                tg.start_soon(viewer, f"b{n}", cluster.web_b.url)
    assert len(seen) == 6
    assert all(seqs == list(range(1, 81)) for seqs in seen.values()), {k: len(v) for k, v in seen.items()}
    with cluster.web_b.client() as client:
        job = client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "succeeded"
    assert job["worker"] in {w.worker_id for w in cluster.workers}


def test_a_viewer_resumes_on_the_other_web_process_with_last_event_id_exactly_once(cluster: Cluster) -> None:
    with cluster.web_a.client() as a, cluster.web_b.client() as b:
        job_id = start_job(a, steps=60, delay=0.02)
        with a.stream("GET", f"/jobs/{job_id}/events", timeout=30) as response:
            first = read_until(response.iter_lines(), 25)  # then this connection drops
        last_id = next(m.id for m in reversed(first) if m.seqs)
        assert last_id is not None
        rest = follow(b, job_id, last_event_id=last_id)
    seqs = [s for m in first for s in m.seqs] + [s for m in rest for s in m.seqs]
    assert seqs == list(range(1, 121))


def test_cancels_sent_to_the_other_web_process_reach_the_tool_on_whichever_worker_runs_it(cluster: Cluster) -> None:
    cancelled_before = server_stats(cluster.server)["cancelled"]
    with cluster.web_a.client() as a, cluster.web_b.client() as b:
        ids = [start_job(a, steps=10_000, delay=0.02) for _ in range(2)]
        for job_id in ids:
            with a.stream("GET", f"/jobs/{job_id}/events", timeout=30) as response:
                read_until(response.iter_lines(), 5)
        workers = {a.get(f"/api/jobs/{job_id}").json()["worker"] for job_id in ids}
        assert workers == {w.worker_id for w in cluster.workers}  # one job on each
        for job_id in ids:
            response = b.post(f"/api/jobs/{job_id}/cancel")
            assert response.status_code == 202 and response.json()["state"] == "cancelling"
        for job_id in ids:
            assert follow(a, job_id)[-1].data == "cancelled"
            assert a.get(f"/api/jobs/{job_id}").json()["error"] == "cancelled by the user"
    wait_until(
        lambda: server_stats(cluster.server)["cancelled"] == cancelled_before + 2,
        what="the server to see both cancels",
    )


def test_a_job_waits_queued_while_every_worker_is_busy_and_starts_when_one_is_free(cluster: Cluster) -> None:
    with cluster.web_a.client() as a:
        busy = [start_job(a, steps=10_000, delay=0.02) for _ in range(2)]
        for job_id in busy:
            with a.stream("GET", f"/jobs/{job_id}/events", timeout=30) as response:
                read_until(response.iter_lines(), 2)
        waiting = start_job(a, steps=3, delay=0)
        assert a.get(f"/api/jobs/{waiting}").json()["state"] == "queued"  # both workers run a job each
        a.post(f"/api/jobs/{busy[0]}/cancel")
        follow(a, waiting)
        assert a.get(f"/api/jobs/{waiting}").json()["state"] == "succeeded"
        a.post(f"/api/jobs/{busy[1]}/cancel")
        follow(a, busy[1])


def test_a_worker_killed_mid_job_has_it_interrupted_within_15_s_and_the_other_takes_the_next(
    postgres: TempPostgres, own_server: ChildServer
) -> None:
    web, *workers = start_cluster(postgres.create_database("killed"), own_server, webs=1, workers=2)
    try:
        with web.client() as client:
            job_id = start_job(client, steps=10_000, delay=0.02)
            with client.stream("GET", f"/jobs/{job_id}/events", timeout=30) as response:
                seen = read_until(response.iter_lines(), 20)
            worker_id = client.get(f"/api/jobs/{job_id}").json()["worker"]
            victim = next(w for w in workers if w.worker_id == worker_id)
            survivor = next(w for w in workers if w is not victim)
            victim.stop(signal.SIGKILL)

            wait_until(
                lambda: client.get(f"/api/jobs/{job_id}").json()["state"] == "interrupted",
                what="the job of the killed worker to be interrupted",
                timeout=15,
            )
            job = client.get(f"/api/jobs/{job_id}").json()
            assert job["error"].startswith(f"the worker {worker_id} on ")
            assert "was lost while running the job" in job["error"]
            events = all_events(client, job_id)
            assert [e["seq"] for e in events] == list(range(1, job["events"] + 1))
            assert job["events"] >= max(s for m in seen for s in m.seqs)
            assert follow(client, job_id)[-1].data == "interrupted"  # viewers are told the end

            after = run_to_end(client, steps=3, delay=0)
            assert (after["state"], after["worker"]) == ("succeeded", survivor.worker_id)
    finally:
        for process in [web, *workers]:
            process.stop()
