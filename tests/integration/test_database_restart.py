"""PostgreSQL restarting under a running job: nothing lost, nothing doubled, and the pages say so meanwhile."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from tests.helpers import Dashboard, SseMessage, all_events, follow, read_until, start_job, wait_until
from tests.postgres import TempPostgres
from webapp.bundled import ChildServer
from webapp.hub import Hub
from webapp.store.postgres import PostgresStore

OUTAGE = 15.0  # seconds: less than --store-patience (30), more than a worker's lease (10) and its renewal (2)


def follow_through_outages(client: httpx.Client, job_id: str, last_event_id: str) -> list[SseMessage]:
    """Read the job's stream to its end as a browser does: reconnect with Last-Event-ID whenever it ends early."""
    messages: list[SseMessage] = []
    for _ in range(20):
        try:
            part = follow(client, job_id, last_event_id=last_event_id, timeout=30)
        except (httpx.HTTPStatusError, httpx.TransportError):
            part = []  # refused or cut while the database is away: try again
        messages += part
        last_event_id = next((m.id for m in reversed(messages) if m.id is not None), last_event_id)
        if messages and messages[-1].event == "end":
            return messages
    raise AssertionError("the stream never reached the job's end")


def test_a_database_restart_mid_job_loses_nothing_doubles_nothing_and_is_said_meanwhile(
    own_server: ChildServer,
) -> None:
    with TempPostgres(fast=True) as database:
        app = Dashboard(database.create_database("restart"), mcp_url=own_server.url).start()
        try:
            with app.client() as client:
                job_id = start_job(client, steps=150, delay=0.02)
                with client.stream("GET", f"/jobs/{job_id}/events", timeout=30) as response:
                    seen = read_until(response.iter_lines(), 20)
                database.halt()
                try:
                    response = client.get(f"/api/jobs/{job_id}")
                    assert response.status_code == 503
                    assert response.json()["detail"].startswith("The job store is unavailable right now")
                    assert response.headers["retry-after"] == "5"
                    # The job goes on: its events wait in memory while each write is retried.
                    wait_until(
                        lambda: "could not write to the store, retrying" in app.output(),
                        what="a write to fail",
                        timeout=20,
                    )
                finally:
                    database.resume()
                last_id = next(m.id for m in reversed(seen) if m.id is not None)
                assert last_id is not None
                rest = follow_through_outages(client, job_id, last_id)
                job = client.get(f"/api/jobs/{job_id}").json()
                assert (job["state"], job["events"]) == ("succeeded", 300)
                shown = [s for m in seen + rest for s in m.seqs]
                assert shown == list(range(1, 301))  # every line once, in order, across the outage
                assert [e["seq"] for e in all_events(client, job_id)] == list(range(1, 301))
        finally:
            app.stop()


def test_a_15_s_outage_under_four_jobs_on_two_workers_loses_no_job_and_no_line_and_readyz_says_so(
    own_server: ChildServer,
) -> None:
    """Issue 17: every lease lapses during the outage, and the first janitor back used to take live workers for
    dead. Now each job succeeds whole, and /readyz is 503 (at once, never hanging) while the database is away."""
    with TempPostgres(fast=True) as database:
        db = database.create_database("outage")
        web = Dashboard(db, mcp_url=own_server.url, role="web").start()
        workers = [
            Dashboard(db, mcp_url=own_server.url, role="worker", args=("--max-jobs", "2")).start() for _ in range(2)
        ]
        try:
            with web.client() as client:
                ids = [start_job(client, steps=800, delay=0.03) for _ in range(4)]
                for job_id in ids:
                    with client.stream("GET", f"/jobs/{job_id}/events", timeout=30) as response:
                        read_until(response.iter_lines(), 4)
                assert len({client.get(f"/api/jobs/{job_id}").json()["worker"] for job_id in ids}) == 2
                database.halt()
                halted_at = time.monotonic()
                try:
                    with httpx.Client(base_url=web.url, timeout=2) as probe:  # a hanging probe fails the test
                        wait_until(lambda: probe.get("/readyz").status_code == 503, what="/readyz to say 503")
                        assert probe.get("/healthz").status_code == 200
                        # The outage's length is what is tested here: it is held, not waited out for a condition.
                        threading.Event().wait(max(0.0, OUTAGE - (time.monotonic() - halted_at)))
                        assert probe.get("/readyz").status_code == 503
                        assert probe.get("/healthz").status_code == 200
                finally:
                    database.resume()
                # The pool's connections all died with the server: each is checked before use, so the very first
                # request after the restart is answered, not failed on a stale connection.
                assert client.get("/api/jobs").status_code == 200
                with httpx.Client(base_url=web.url, timeout=5) as probe:
                    wait_until(lambda: probe.get("/readyz").status_code == 200, what="/readyz to say 200 again")
                    assert probe.get("/healthz").status_code == 200
                for job_id in ids:
                    assert follow_through_outages(client, job_id, "0")[-1].data == "succeeded"
                for job_id in ids:
                    job = client.get(f"/api/jobs/{job_id}").json()
                    assert (job["state"], job["events"], job["error"]) == ("succeeded", 1600, None)
                    assert [e["seq"] for e in all_events(client, job_id)] == list(range(1, 1601))
        finally:
            for process in [web, *workers]:
                process.stop()
        for process in [web, *workers]:
            assert "was lost" not in process.output()
            assert "Traceback" not in process.output(), process.output()  # an outage is expected: one line each


@pytest.mark.anyio
async def test_the_first_calls_after_a_database_restart_succeed_on_a_pool_of_stale_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 17: after PostgreSQL came back, the first requests failed on the pool's dead connections. Issue 18: the
    check costs no round trip while the server has said nothing (it was one for every write)."""
    asked: list[object] = []
    ask = AsyncConnectionPool.check_connection

    async def counted(conn: psycopg.AsyncConnection[Any]) -> None:
        asked.append(conn)
        await ask(conn)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", staticmethod(counted))
    with TempPostgres(fast=True) as database:
        async with PostgresStore(database.create_database("stale"), Hub(), pool_size=4) as store:
            async with anyio.create_task_group() as tg:  # four calls at once: four connections in the pool
                for _ in range(4):
                    tg.start_soon(store.ping)
            for _ in range(20):
                await store.ping()
            assert asked == []  # connections in use, a server with nothing to say: none asked
            database.halt()  # nothing asks meanwhile: every connection the pool holds is now dead
            database.resume()
            with anyio.fail_after(30):
                for _ in range(8):
                    await store.ping()
            assert asked  # the dead ones were asked, and replaced
