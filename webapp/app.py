"""The FastAPI application: `create_app(settings)` wires the parts together in its lifespan."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from functools import partial

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import Response
from starlette.types import Scope

from webapp import api, jobs_stream, operations, pages, stream
from webapp.events import json_safe
from webapp.feeds import Feeds
from webapp.guards import Attempts, BodyLimit, StreamCap
from webapp.listener import ServerListener
from webapp.monitor import ServerMonitor, Servers
from webapp.rendering import STATIC_DIR, build_templates
from webapp.runtime import open_runtime
from webapp.security import CrossSiteGuard, Gate, SecurityHeaders, allowed_hosts, is_loopback
from webapp.services import Services
from webapp.sessions import SessionKeeper
from webapp.settings import Settings
from webapp.sign_in import SignInDesk
from webapp.store import Store, StoreUnavailable, is_shared
from webapp.worker import Janitor, Worker, limits_of

log = logging.getLogger(__name__)
INTERRUPTED_AT_START = "the dashboard stopped while the job was running"
FAILED_LOGINS_PER_MINUTE = 5  # wrong tokens one address may send a minute; then 429 until the minute is over


def create_app(settings: Settings | None = None, *, with_worker: bool = True) -> FastAPI:
    """The web role: pages, the JSON API and the streams. `with_worker`: run jobs in this process too
    (`python -m webapp`), rather than leave them to `python -m webapp worker` processes."""
    settings = settings or Settings()
    templates = build_templates(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Services]]:
        async with open_runtime(settings) as runtime, anyio.create_task_group() as background:
            store, hub = runtime.store, runtime.hub
            if is_shared(settings.db):
                background.start_soon(Janitor(store).run)
            else:
                # One process per SQLite file: whatever it left running when it stopped is over.
                interrupted = await store.interrupt_unfinished(INTERRUPTED_AT_START, time.time())
                if interrupted:
                    log.warning("marked %d unfinished job(s) interrupted", len(interrupted))
            servers = Servers([ServerMonitor(t, interval=settings.status_interval) for t in runtime.targets])
            # Know the servers before the first page is served, so the page never guesses.
            await servers.refresh()
            background.start_soon(servers.run)
            listeners = {
                t.name: ServerListener(
                    t,
                    store,
                    limits=limits_of(settings),
                    keep=settings.max_server_lines,
                    per_second=settings.max_server_lines_per_second,
                    on_tools_changed=partial(servers.recheck, t.name),
                )
                for t in runtime.targets
            }
            for listener in listeners.values():
                background.start_soon(listener.run)
            feeds = Feeds(store, hub, templates, background, message_bytes=settings.max_message_bytes)
            services = Services(
                settings,
                store,
                hub,
                servers,
                templates,
                feeds,
                Attempts(settings.max_starts_per_minute),
                listeners,
                SessionKeeper(await store.secret("sessions"), settings.token, settings.session_hours * 3600),
                Attempts(FAILED_LOGINS_PER_MINUTE),
                SignInDesk(runtime.sign_ins, settings),
            )
            background.start_soon(keep_within_retention, store, settings)
            if runtime.sign_ins.sealer.in_the_clear:
                log.warning("server sign-ins are kept in the store in the clear: give --secret-key to seal them")
            worker = (
                Worker(
                    store,
                    hub,
                    runtime.targets,
                    max_jobs=settings.max_jobs,
                    limits=limits_of(settings),
                    store_patience=settings.store_patience,
                    input_timeout=settings.input_timeout,
                    on_server_news=servers.recheck,
                )
                if with_worker
                else contextlib.nullcontext()
            )
            async with worker:
                yield {"services": services}
                hub.close()  # streams say goodbye before the jobs are stopped
            background.cancel_scope.cancel()

    if settings.token is None and not is_loopback(settings.host):
        raise ValueError(f"refusing to serve {settings.host} without a token: give --token (or let the CLI make one)")
    # No documentation page: Swagger's would load scripts from a CDN into this origin. /openapi.json stays.
    app = FastAPI(title="MCP Live", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router)
    app.include_router(stream.router)
    app.include_router(jobs_stream.router)
    app.include_router(pages.router)
    app.add_exception_handler(RequestValidationError, explain_invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, pages.explain_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnavailable, pages.explain_store_unavailable)  # type: ignore[arg-type]

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Behind the token (the gate), unless --metrics-open has OpenOperations answer it first."""
        return await operations.answer(request.scope, store_of, servers_of)

    # Outermost last: the headers go on every response, the Host check comes before anything else reads it, the
    # body is read (and bounded) before the gate looks for a CSRF token in it.
    hosts = allowed_hosts(settings.host, settings.allowed_host)
    app.add_middleware(StreamCap, per_client=settings.max_streams_per_client)
    app.add_middleware(Gate, token=settings.token, templates=templates)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(CrossSiteGuard)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    # Probes come by address (a load balancer, a kubelet), before the lifespan is done and without the token.
    app.add_middleware(
        operations.OpenOperations, store_of=store_of, servers_of=servers_of, metrics_open=settings.metrics_open
    )
    app.add_middleware(SecurityHeaders)
    return app


def store_of(scope: Scope) -> Store | None:
    services: Services | None = scope.get("state", {}).get("services")
    return None if services is None else services.store


def servers_of(scope: Scope) -> list[str] | None:
    services: Services | None = scope.get("state", {}).get("services")
    return None if services is None else [status.state for status in services.servers.statuses]


RETENTION_EVERY = 600.0  # seconds between rounds of deleting ended jobs past --keep-days / --keep-jobs


async def keep_within_retention(store: Store, settings: Settings) -> None:
    """Delete ended jobs older than --keep-days, and beyond the newest --keep-jobs; at start, then now and then."""
    if settings.keep_days is None and settings.keep_jobs is None:
        return
    while True:
        before = None if settings.keep_days is None else time.time() - settings.keep_days * 86_400
        try:
            deleted = await store.delete_ended_jobs(before, settings.keep_jobs)
            lines = 0 if before is None else await store.delete_server_events(before)
        except StoreUnavailable as exc:
            log.warning("could not delete old jobs: %s", exc)
        else:
            if deleted:
                log.info("deleted %d ended job(s) past the retention (--keep-days, --keep-jobs)", deleted)
            if lines:
                log.info("deleted %d server line(s) outside jobs older than --keep-days", lines)
        await anyio.sleep(RETENTION_EVERY)


async def explain_invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's validation errors, as one sentence a person can act on (and the raw list beside it)."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse({"detail": "The request body is not valid JSON.", "errors": _plain(errors)}, 400)
    parts = []
    for e in errors:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
    return JSONResponse({"detail": "Invalid request: " + "; ".join(parts) + ".", "errors": _plain(errors)}, 422)


def _plain(errors: object) -> object:
    # Errors echo the input (which may hold NaN) and may carry exception objects: keep what JSON can say.
    return json_safe(json.loads(json.dumps(errors, default=str)))
