"""What an operator's tools ask of a process: probes, metrics and the logs' shape. One home, called by the entry
points (`webapp.app` for web processes, `webapp.worker` for workers on --health-port).

- `GET /healthz`: the process is alive (200), without touching the store. A liveness probe.
- `GET /readyz`: the store answers within a second (200), else 503 at once, never hanging. A readiness probe.
  Both are open (no token, any Host: a load balancer or kubelet asks by address) and say nothing but the status.
- `GET /metrics`: the Prometheus text format (`webapp.metrics`), behind the token unless --metrics-open.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from webapp import metrics
from webapp.store import Store, StoreUnavailable

log = logging.getLogger(__name__)

READY_WITHIN = 1.0  # seconds the store has to answer /readyz
PROBES = ("/healthz", "/readyz")
METRICS = "/metrics"
StoreOf = Callable[[Scope], "Store | None"]


async def healthz() -> Response:
    return PlainTextResponse("ok")


async def readyz(store: Store | None) -> Response:
    if store is None:  # still starting, or stopping
        return PlainTextResponse("not ready", status_code=503, headers={"Retry-After": "1"})
    try:
        with anyio.fail_after(READY_WITHIN):
            await store.ping()
    except (StoreUnavailable, TimeoutError):
        return PlainTextResponse("not ready", status_code=503, headers={"Retry-After": "1"})
    return PlainTextResponse("ready")


async def metrics_response(store: Store | None, servers: list[str] | None = None) -> Response:
    """The metrics, the gauges of the shared state read from the store first (kept as they were when it does not
    answer within a second: a scrape never hangs on an outage)."""
    if store is not None:
        with anyio.move_on_after(READY_WITHIN), contextlib.suppress(StoreUnavailable):
            counts = await store.count_jobs()
            metrics.JOBS.clear()
            for state, count in counts.items():
                metrics.JOBS.labels(state).set(count)
            metrics.QUEUE_DEPTH.set(counts.get("queued", 0))
    if servers is not None:
        metrics.SERVERS.set(len(servers))
        metrics.SERVERS_CONNECTED.set(sum(state == "connected" for state in servers))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class OpenOperations:
    """Answers the probes (and /metrics when open) before any other layer: no Host check, no token, no limits.
    Everything else goes on to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store_of: StoreOf,
        servers_of: Callable[[Scope], list[str] | None] | None = None,
        metrics_open: bool = False,
    ) -> None:
        self.app = app
        self._store_of = store_of
        self._servers_of = servers_of
        self._paths = (*PROBES, METRICS) if metrics_open else PROBES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self._paths or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        response = await answer(scope, self._store_of, self._servers_of)
        await response(scope, receive, send)


async def answer(scope: Scope, store_of: StoreOf, servers_of: Callable[[Scope], list[str] | None] | None) -> Response:
    path = scope["path"]
    if path == "/healthz":
        return await healthz()
    if path == "/readyz":
        return await readyz(store_of(scope))
    return await metrics_response(store_of(scope), servers_of(scope) if servers_of else None)


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("not found", status_code=404)(scope, receive, send)


class _QuietServer(uvicorn.Server):
    """uvicorn serving inside a process that handles its own signals (the worker drains on SIGTERM)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_probes(store: Store, host: str, port: int, *, ready: anyio.Event | None = None) -> None:
    """A worker's probes and metrics on `host:port` (--health-port), until cancelled."""
    app = OpenOperations(not_found, store_of=lambda scope: store, metrics_open=True)
    config = uvicorn.Config(app, host=host, port=port, lifespan="off", log_config=None, access_log=False)
    server = _QuietServer(config)
    sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        if ready is not None:
            ready.set()
        await server.serve(sockets=[sock])
    finally:
        sock.close()


# -- Logs ------------------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message; a traceback only when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    """The root logger, which uvicorn's loggers reach too (they are started with log_config=None)."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_log = logging.getLogger(name)
        uvicorn_log.handlers.clear()
        uvicorn_log.propagate = True
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per MCP request is noise here
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)  # a line per reconnect try; the store says it once
