"""The janitor's patience after an outage, the JSON log lines and the metrics' names (issue 17)."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from webapp import metrics
from webapp.operations import JsonFormatter, OpenOperations, not_found
from webapp.store import StoreUnavailable
from webapp.worker import LEASE_SECONDS, RENEW_EVERY, TRUSTED_AFTER, Janitor


class FlakyStore:
    """Just what the janitor asks of a store: whether it can write, and to settle lost workers' jobs."""

    def __init__(self) -> None:
        self.writable = True
        self.sweeps = 0

    async def check_writable(self) -> None:
        if not self.writable:
            raise StoreUnavailable("the database cannot be used right now: it is restarting")

    async def interrupt_jobs_of_lost_workers(self) -> list[str]:
        self.sweeps += 1
        return []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_janitor_waits_longer_than_a_lease_and_a_renewal() -> None:
    assert TRUSTED_AFTER > LEASE_SECONDS + RENEW_EVERY - 1e-9


@pytest.mark.anyio
async def test_a_janitor_settles_no_one_until_it_has_been_connected_a_lease_and_a_renewal_without_a_break() -> None:
    store, clock = FlakyStore(), Clock()
    janitor = Janitor(store, trusted_after=12.0, clock=clock)  # type: ignore[arg-type]
    await janitor.round()
    clock.now += 6
    await janitor.round()
    assert store.sweeps == 0  # connected 6 s: a live worker may not have renewed yet
    clock.now += 7
    await janitor.round()
    assert store.sweeps == 1

    store.writable = False  # the database restarts
    clock.now += 15
    await janitor.round()
    store.writable = True
    await janitor.round()
    clock.now += 11
    await janitor.round()
    assert store.sweeps == 1  # back for 11 s only: every lease lapsed meanwhile, live workers' too
    clock.now += 2
    await janitor.round()
    assert store.sweeps == 2


def test_json_log_lines_are_one_object_each_with_a_traceback_only_for_an_exception() -> None:
    formatter = JsonFormatter()
    plain = logging.LogRecord("webapp.worker", logging.WARNING, __file__, 1, "lost %s", ("x\ny",), None)
    entry = json.loads(formatter.format(plain))
    assert entry["level"] == "warning" and entry["logger"] == "webapp.worker" and entry["message"] == "lost x\ny"
    assert entry["time"].endswith("Z") and "traceback" not in entry
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("webapp", logging.ERROR, __file__, 1, "crashed", (), sys.exc_info())
    line = formatter.format(failed)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["traceback"]


def test_every_metric_of_the_dashboard_is_named_mcp_live() -> None:
    ours = {name for name in dir(metrics) if name.isupper()}
    assert len(ours) >= 10
    names = {collector._name for collector in (getattr(metrics, name) for name in ours)}
    assert all(name.startswith("mcp_live_") for name in names)
    registered = {family.name for family in REGISTRY.collect()}
    assert names <= registered


class DownStore:
    async def ping(self) -> None:
        raise StoreUnavailable("the database cannot be used right now: it is restarting")

    async def count_jobs(self) -> dict[str, int]:
        raise StoreUnavailable("the database cannot be used right now: it is restarting")


def test_metrics_pass_to_the_app_behind_the_token_unless_open_and_never_wait_for_a_down_store() -> None:
    down = DownStore()
    opened = TestClient(OpenOperations(not_found, store_of=lambda scope: down, metrics_open=True))  # type: ignore[arg-type,return-value]
    closed = TestClient(OpenOperations(not_found, store_of=lambda scope: down))  # type: ignore[arg-type,return-value]
    response = opened.get("/metrics")
    assert response.status_code == 200 and "mcp_live_events_recorded_total" in response.text
    assert closed.get("/metrics").status_code == 404  # left to the app, whose route is behind the gate
    for client in (opened, closed):
        assert (client.get("/healthz").status_code, client.get("/healthz").text) == (200, "ok")
        ready = client.get("/readyz")
        assert (ready.status_code, ready.text) == (503, "not ready")
        assert client.post("/healthz").status_code == 404  # only GET and HEAD are probes


def test_readyz_is_503_while_the_process_has_no_store_yet() -> None:
    client = TestClient(OpenOperations(not_found, store_of=lambda scope: None))
    assert client.get("/readyz").status_code == 503
