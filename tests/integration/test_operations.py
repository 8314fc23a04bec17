"""What an operator relies on (issue 17): probes, metrics, a worker's drain, a read-only database, logs, migrations."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import Dashboard, all_events, follow, read_until, server_stats, start_job, wait_until
from tests.postgres import TempPostgres
from webapp.bundled import ChildServer, free_port
from webapp.store import latest_schema

TOKEN = "operations-test-token-0123456789"
WRITABLE = "postgres?options=-c%20default_transaction_read_only%3Doff"  # psql's session, writable whatever the system


def metric(text: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    """A sample's value from the Prometheus text, read with prometheus_client's own parser."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and (labels is None or all(sample.labels.get(k) == v for k, v in labels.items())):
                return float(sample.value)
    return None


@pytest.fixture(scope="module")
def guarded(mcp_server: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """A dashboard with a token and JSON logs."""
    db = tmp_path_factory.mktemp("operations") / "jobs.sqlite3"
    app = Dashboard(db, mcp_url=mcp_server.url, args=("--token", TOKEN, "--log-format", "json")).start()
    yield app
    app.stop()


def test_probes_answer_without_the_token_from_any_host_and_say_only_the_status(guarded: Dashboard) -> None:
    with httpx.Client(base_url=guarded.url, timeout=5) as client:
        for path, body in (("/healthz", "ok"), ("/readyz", "ready")):
            response = client.get(path, headers={"Host": "10.1.2.3:8000"})  # a kubelet asks by address
            assert (response.status_code, response.text) == (200, body)
        assert client.get("/api/jobs").status_code == 401  # everything else still needs the token


def test_metrics_need_the_token_parse_and_count_a_jobs_events(guarded: Dashboard) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=guarded.url, timeout=10) as client:
        assert client.get("/metrics").status_code == 401
        before = client.get("/metrics", headers=bearer)
        assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
        recorded_before = metric(before.text, "mcp_live_events_recorded_total") or 0.0
        client.headers.update(bearer)
        job_id = start_job(client, steps=12, delay=0)
        follow(client, job_id)
        events = client.get(f"/api/jobs/{job_id}").json()["events"]
        assert events == 24
        after = client.get("/metrics").text
    assert metric(after, "mcp_live_events_recorded_total") == recorded_before + events
    assert (metric(after, "mcp_live_event_write_seconds_count") or 0) > 0
    assert (metric(after, "mcp_live_jobs", {"state": "succeeded"}) or 0) >= 1
    assert metric(after, "mcp_live_mcp_servers_connected") == 1
    assert metric(after, "mcp_live_sse_streams") == 0  # the stream followed above is closed


def test_json_logs_are_one_object_a_line_and_never_carry_the_token(guarded: Dashboard) -> None:
    with httpx.Client(base_url=guarded.url, timeout=10) as client:
        client.get("/", params={"token": TOKEN})  # the login link: its request line is logged
    wait_until(lambda: "GET /?token=" in guarded.output(), what="the login link's access log line")
    records = [json.loads(line) for line in guarded.output().splitlines() if line.startswith("{")]
    assert records and all({"time", "level", "logger", "message"} <= set(record) for record in records)
    assert any(record["logger"] == "uvicorn.access" for record in records)
    assert TOKEN not in guarded.output()


@pytest.fixture
def cluster_db(postgres: TempPostgres, request: pytest.FixtureRequest) -> str:
    return postgres.create_database("ops_" + request.node.name.split("[")[0][-40:].lower())


def test_sigterm_to_a_worker_mid_job_lets_it_succeed_takes_no_new_job_and_exits_after(
    cluster_db: str, own_server: ChildServer
) -> None:
    health_port = free_port()
    web = Dashboard(cluster_db, mcp_url=own_server.url, role="web").start()
    worker = Dashboard(
        cluster_db, mcp_url=own_server.url, role="worker", args=("--health-port", str(health_port))
    ).start()
    try:
        probes = f"http://127.0.0.1:{health_port}"
        assert httpx.get(f"{probes}/healthz", timeout=5).text == "ok"
        assert httpx.get(f"{probes}/readyz", timeout=5).text == "ready"
        assert "mcp_live_lease_renewals" in httpx.get(f"{probes}/metrics", timeout=5).text
        with web.client() as client:
            running = start_job(client, steps=150, delay=0.02)
            with client.stream("GET", f"/jobs/{running}/events", timeout=30) as response:
                read_until(response.iter_lines(), 10)
            assert worker.process is not None
            worker.process.send_signal(signal.SIGTERM)
            wait_until(lambda: "taking no more jobs" in worker.output(), what="the worker to start draining")
            waiting = start_job(client, steps=2, delay=0)
            assert follow(client, running)[-1].data == "succeeded"
            worker.process.wait(timeout=30)
            job = client.get(f"/api/jobs/{running}").json()
            assert (job["state"], job["events"]) == ("succeeded", 300)
            assert [e["seq"] for e in all_events(client, running)] == list(range(1, 301))
            assert client.get(f"/api/jobs/{waiting}").json()["state"] == "queued"  # left for another worker
        assert worker.process.returncode == 0, worker.output()
    finally:
        worker.stop()
        web.stop()


def test_a_second_sigterm_interrupts_a_draining_workers_job_at_once(cluster_db: str, own_server: ChildServer) -> None:
    web = Dashboard(cluster_db, mcp_url=own_server.url, role="web").start()
    worker = Dashboard(cluster_db, mcp_url=own_server.url, role="worker").start()
    try:
        with web.client() as client:
            job_id = start_job(client, steps=10_000, delay=0.02)
            with client.stream("GET", f"/jobs/{job_id}/events", timeout=30) as response:
                read_until(response.iter_lines(), 5)
            assert worker.process is not None
            worker.process.send_signal(signal.SIGTERM)
            wait_until(lambda: "taking no more jobs" in worker.output(), what="the worker to start draining")
            worker.process.send_signal(signal.SIGTERM)
            worker.process.wait(timeout=30)
            job = client.get(f"/api/jobs/{job_id}").json()
            assert job["state"] == "interrupted" and "shut down while the job was running" in job["error"]
    finally:
        worker.stop()
        web.stop()


def test_a_read_only_database_gives_503_with_retry_after_and_a_running_job_goes_on_after(
    postgres: TempPostgres, own_server: ChildServer, cluster_db: str
) -> None:
    app = Dashboard(cluster_db, mcp_url=own_server.url).start()
    try:
        with app.client() as client:
            job_id = start_job(client, steps=200, delay=0.02)
            with client.stream("GET", f"/jobs/{job_id}/events", timeout=30) as response:
                read_until(response.iter_lines(), 10)
            # Read-only for every session, those of the app's pool included (as a full disk's database is).
            postgres.psql("ALTER SYSTEM SET default_transaction_read_only = on")
            postgres.psql("SELECT pg_reload_conf()")
            try:
                api = client.post("/api/jobs", json={"tool": "run_job", "arguments": {"steps": 1}})
                page = client.post("/jobs", data={"tool": "run_job"}, headers={"Accept": "text/html"})
                wait_until(lambda: "could not write to the store, retrying" in app.output(), what="a write to fail")
            finally:
                postgres.psql("ALTER SYSTEM RESET default_transaction_read_only", database=WRITABLE)
                postgres.psql("SELECT pg_reload_conf()", database=WRITABLE)
            for response in (api, page):
                assert response.status_code == 503 and response.headers["retry-after"] == "5"
                assert "ReadOnlySqlTransaction" not in response.text and "Traceback" not in response.text
                assert "read-only" not in response.text  # what the database said goes to the log only
            assert api.json()["detail"].startswith("The job store is unavailable right now")
            assert page.headers["content-type"].startswith("text/html") and "Unavailable for a moment" in page.text
            assert follow(client, job_id)[-1].data == "succeeded"
            assert [e["seq"] for e in all_events(client, job_id)] == list(range(1, 401))
    finally:
        app.stop()
    assert "Traceback" not in app.output()


def run_webapp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webapp", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrate_check_says_pending_then_current_after_migrate(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = str(tmp_path / "jobs.sqlite3") if backend == "sqlite" else request.getfixturevalue("cluster_db")
    before = run_webapp("migrate", "--check", "--db", db)
    assert before.returncode == 1 and "pending" in before.stdout
    done = run_webapp("migrate", "--db", db)
    assert done.returncode == 0, done.stderr
    assert f"to {latest_schema(db)}" in done.stdout
    after = run_webapp("migrate", "--check", "--db", db)
    assert (after.returncode, after.stdout.strip()) == (0, f"The schema is current (version {latest_schema(db)}).")


def test_a_schema_newer_than_the_code_is_refused_at_start_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    assert run_webapp("migrate", "--db", str(db)).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version={latest_schema(str(db)) + 1}")
    started = run_webapp("--db", str(db), "--port", str(free_port()))
    assert started.returncode != 0
    assert "newer than this version of MCP Live knows" in started.stderr and "Traceback" not in started.stderr
    assert run_webapp("migrate", "--check", "--db", str(db)).returncode == 2


def test_a_draining_worker_hands_its_task_job_over_at_once_and_another_worker_finishes_it(
    cluster_db: str, own_server: ChildServer
) -> None:
    web = Dashboard(cluster_db, mcp_url=own_server.url, role="web").start()
    workers = [
        Dashboard(cluster_db, mcp_url=own_server.url, role="worker", args=("--max-jobs", "1")).start() for _ in range(2)
    ]
    tasks_before = server_stats(own_server)["tasks_started"]
    try:
        with web.client() as client:
            response = client.post("/api/jobs", json={"tool": "long_task", "arguments": {"steps": 80, "delay": 0.1}})
            assert response.status_code == 201, response.text
            job_id = response.json()["id"]
            wait_until(
                lambda: bool((client.get(f"/api/jobs/{job_id}").json()["task"] or {}).get("id")), what="the task"
            )
            first = client.get(f"/api/jobs/{job_id}").json()["worker"]
            draining = next(w for w in workers if w.worker_id == first)
            other = next(w for w in workers if w is not draining)
            assert draining.process is not None
            draining.process.send_signal(signal.SIGTERM)
            draining.process.wait(timeout=30)  # it does not wait for the task, which goes on elsewhere
            assert "handed over" in draining.output() and draining.process.returncode == 0
            assert follow(client, job_id, timeout=90)[-1].data == "succeeded"
            job = client.get(f"/api/jobs/{job_id}").json()
            assert job["worker"] == other.worker_id
            assert [e["seq"] for e in all_events(client, job_id)] == list(range(1, job["events"] + 1))
        assert server_stats(own_server)["tasks_started"] == tasks_before + 1  # re-attached, never called twice
    finally:
        for process in [web, *workers]:
            process.stop()
