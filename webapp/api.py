"""The JSON API: the same jobs and events as the pages, for scripts and tests."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from webapp.events import KINDS, LEVELS, MAX_SEQ, Event, Job, JobState, LogLevel, iso_time
from webapp.export import MEDIA_TYPES, ExportFormat, export_lines, file_name
from webapp.monitor import ServerMonitor, ServerStatus
from webapp.questions import InvalidAnswer, Waiting, answer, waiting_questions
from webapp.services import MAX_LINGER, InvalidJob, Services, client_of, get_services, server_tasks
from webapp.sign_in import SignInRefused
from webapp.store import BadPattern, EventFilter, pattern

router = APIRouter(prefix="/api")
ServicesDep = Annotated[Services, Depends(get_services)]
RefreshQuery = Annotated[bool, Query(description="No longer taken: a check is a POST to .../refresh (400 if true).")]


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: str | None = Field(
        None, min_length=1, description="The server's name (GET /api/servers); needed when there are several."
    )
    tool: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    idle_timeout: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Seconds without a notification before timing out."
    )
    max_duration: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="Longest the job may run, in seconds."
    )
    log_level: LogLevel = Field("debug", description="The least severe log level to ask of the server.")
    linger: float = Field(
        0,
        ge=0,
        le=MAX_LINGER,
        allow_inf_nan=False,
        description="Seconds to keep listening after the call returns, for what the server sends late.",
    )
    as_task: bool | None = Field(
        None,
        description="Run the call as an MCP task where the tool lets the client choose (execution.taskSupport "
        "optional, on 2025-11-25); unset: yes. A tool that requires it always runs as one.",
    )


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["accept", "decline", "cancel"] = Field(description="What to tell the server.")
    content: dict[str, Any] | None = Field(
        None, description="With accept, on a form question: the answer, an object that fits the question's schema."
    )


def read_filter(
    levels: list[str], kinds: list[str], logger: str, q: str, regex: bool, min_level: str = ""
) -> tuple[EventFilter, list[str]]:
    """The filters of a log view from its query parameters, and what is wrong with them: each part that is wrong
    (an unknown level, a pattern RE2 cannot run) is left out of the filter and said in the list."""
    errors: list[str] = []
    chosen_levels = tuple(dict.fromkeys(level for text in levels for level in text.split(",") if level))
    chosen_kinds = tuple(dict.fromkeys(kind for text in kinds for kind in text.split(",") if kind))
    for name, chosen, known in (("levels", chosen_levels, LEVELS), ("kinds", chosen_kinds, KINDS)):
        unknown = [value for value in chosen if value not in known]
        if unknown:
            errors.append(f"{name}: {', '.join(map(repr, unknown))} is not one of {', '.join(known)}.")
    if min_level and min_level not in LEVELS:
        errors.append(f"min_level: {min_level!r} is not one of {', '.join(LEVELS)}.")
        min_level = ""
    if q and regex:
        try:
            pattern(q)
        except BadPattern as exc:
            errors.append(str(exc))
            q = ""
    only = EventFilter(
        tuple(level for level in chosen_levels if level in LEVELS),
        tuple(kind for kind in chosen_kinds if kind in KINDS),
        logger or None,
        q or None,
        regex=bool(q) and regex,
        min_level=min_level or None,
    )
    return only, errors


LevelsQuery = Annotated[
    list[str], Query(description="Comma list (or the parameter repeated): log lines of these levels only.")
]
KindsQuery = Annotated[list[str], Query(description="Comma list (or repeated): events of these kinds only.")]
LoggerQuery = Annotated[
    str,
    Query(
        max_length=500,
        description="A logger, and the loggers below it, by whole dotted segments (a.b takes a.b and a.b.c, not a.bc).",
    ),
]
SearchQuery = Annotated[str, Query(max_length=500, description="Case-insensitive text in data, logger or message.")]
RegexQuery = Annotated[bool, Query(description="q is a regular expression (RE2 syntax).")]
MinLevelQuery = Annotated[
    str,
    Query(
        max_length=20,
        description="Log lines at this level or more severe only (debug < info < notice < warning < error < "
        "critical < alert < emergency): `warning` takes warning and worse. Combines with the others (AND).",
    ),
]


def event_filter(
    levels: LevelsQuery = [],  # noqa: B006 - FastAPI copies its defaults
    kinds: KindsQuery = [],  # noqa: B006
    logger: LoggerQuery = "",
    q: SearchQuery = "",
    regex: RegexQuery = False,
    min_level: MinLevelQuery = "",
) -> EventFilter:
    """The filters of a log view, as query parameters: the same on the pages, the streams, the API and the
    downloads. A wrong one is a 422 that says why."""
    only, errors = read_filter(levels, kinds, logger, q, regex, min_level)
    if errors:
        raise HTTPException(422, " ".join(errors))
    return only


FilterDep = Annotated[EventFilter, Depends(event_filter)]


def filter_query(only: EventFilter) -> str:
    """The filters as the query string of a link to the same view ("" without filters)."""
    pairs = {
        "levels": ",".join(only.levels),
        "kinds": ",".join(only.kinds),
        "logger": only.logger or "",
        "q": only.q or "",
        "regex": "1" if only.regex else "",
        "min_level": only.min_level or "",
    }
    return urlencode({name: value for name, value in pairs.items() if value})


async def find_job(services: Services, job_id: str) -> Job:
    job = await services.store.get_job(job_id)
    if job is None:
        raise HTTPException(404, f"No job with id {job_id!r}.")
    return job


@router.post("/jobs", status_code=201)
async def create_job(body: JobRequest, request: Request, services: ServicesDep) -> JSONResponse:
    try:
        job = await services.start_job(
            body.tool,
            body.arguments,
            client=client_of(request),
            server=body.server,
            idle_timeout=body.idle_timeout,
            max_duration=body.max_duration,
            log_level=body.log_level,
            linger=body.linger,
            as_task=body.as_task,
        )
    except InvalidJob as exc:
        raise HTTPException(exc.status_code, exc.message, headers=exc.headers or None) from exc
    return JSONResponse(job.to_json(), status_code=201, headers={"Location": f"/api/jobs/{job.id}"})


@router.get("/jobs/{job_id}/input")
async def list_input(job_id: str, services: ServicesDep) -> list[dict[str, Any]]:
    """The job's questions that wait for a person (the server asked them: elicitation), oldest first."""
    job = await find_job(services, job_id)
    return [Waiting(question).to_json() for question in await waiting_questions(services.store, job)]


@router.post("/jobs/{job_id}/input/{key}", status_code=202)
async def answer_input(
    job_id: str, key: Annotated[str, Path(max_length=64)], body: AnswerRequest, services: ServicesDep
) -> dict[str, Any]:
    """Answer one of the job's questions: checked against its schema first (422, and nothing is sent), then sent
    by the job's worker. A question answered already, or no longer waiting, is a 409."""
    job = await find_job(services, job_id)
    try:
        kept = await answer(services.store, job, key, body.action, body.content)
    except InvalidAnswer as exc:
        raise HTTPException(exc.status_code, exc.message) from exc
    return {"key": key, "action": kept.action, "content": kept.content, "answered_at": iso_time(kept.answered_at)}


@router.post("/jobs/{job_id}/rerun", status_code=201)
async def rerun_job(job_id: str, request: Request, services: ServicesDep) -> JSONResponse:
    """A new job like this one: the same tool, arguments, time limits, log level and linger."""
    try:
        job = await services.rerun_job(job_id, client=client_of(request))
    except InvalidJob as exc:
        raise HTTPException(exc.status_code, exc.message, headers=exc.headers or None) from exc
    return JSONResponse(job.to_json(), status_code=201, headers={"Location": f"/api/jobs/{job.id}"})


@router.get("/jobs")
async def list_jobs(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    state: Annotated[JobState | None, Query(description="Only jobs in this state.")] = None,
    tool: Annotated[str | None, Query(description="Only jobs of this tool.")] = None,
) -> list[dict[str, Any]]:
    """Newest first."""
    jobs = await services.store.list_jobs(limit, state=state and state.value, tool=tool)
    return [job.to_json() for job in jobs]


@router.get("/jobs/{job_id}")
async def get_job(job_id: str, services: ServicesDep) -> dict[str, Any]:
    return (await find_job(services, job_id)).to_json()


@router.post("/jobs/{job_id}/cancel", status_code=202)
async def cancel_job(job_id: str, services: ServicesDep) -> dict[str, Any]:
    before = await find_job(services, job_id)
    if before.state.is_terminal:
        raise HTTPException(409, f"Job {job_id} has already ended ({before.state}); there is nothing to cancel.")
    job = await services.cancel_job(job_id)
    assert job is not None  # jobs are never deleted while the dashboard runs
    return job.to_json()


@router.delete("/jobs/{job_id}", status_code=204)
async def delete_job(job_id: str, services: ServicesDep) -> Response:
    """An ended job and all its events, gone for good."""
    try:
        await services.delete_job(job_id)
    except InvalidJob as exc:
        raise HTTPException(exc.status_code, exc.message) from exc
    return Response(status_code=204)


@router.get("/jobs/{job_id}/events")
async def list_events(
    job_id: str,
    services: ServicesDep,
    only: FilterDep,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 10000,
) -> dict[str, Any]:
    await find_job(services, job_id)
    return page_of(await services.store.events_after(job_id, after, limit + 1, only), limit)


@router.get("/jobs/{job_id}/export")
async def export_job(
    job_id: str,
    services: ServicesDep,
    only: FilterDep,
    export_format: Annotated[ExportFormat, Query(alias="format")] = "jsonl",
) -> StreamingResponse:
    """The job's events (those the filters let through) as a file: JSON Lines (the events' API shape) or text;
    streamed from the store."""
    job = await find_job(services, job_id)
    return StreamingResponse(
        export_lines(services.store, job.id, export_format, only),
        media_type=MEDIA_TYPES[export_format],
        headers={"Content-Disposition": f'attachment; filename="{file_name(job, export_format)}"'},
    )


@router.get("/jobs/{job_id}/events/{seq}")
async def get_event(job_id: str, seq: Annotated[int, Path(ge=1, le=MAX_SEQ)], services: ServicesDep) -> dict[str, Any]:
    """One event, whole as it was kept: what a line too long for the page links to."""
    await find_job(services, job_id)
    events = await services.store.events_after(job_id, seq - 1, 1)
    if not events or events[0].seq != seq:
        raise HTTPException(404, f"Job {job_id} has no event {seq}.")
    return events[0].to_json()


AROUND_MOST = 500  # events on each side of an "around" window, at most


@router.get("/jobs/{job_id}/events/{seq}/around")
async def events_around(
    job_id: str,
    seq: Annotated[int, Path(ge=1, le=MAX_SEQ)],
    services: ServicesDep,
    only: FilterDep,
    before: Annotated[int, Query(ge=0, le=AROUND_MOST, description="Events before `seq`, at most.")] = 50,
    after: Annotated[int, Query(ge=0, le=AROUND_MOST, description="Events after `seq`, at most.")] = 50,
) -> dict[str, Any]:
    """The events around `seq` that the filters let through (`seq` itself among them, if they let it through):
    a window on the log that a permalink opens (issue 18). `more_before`/`more_after`: the view goes on past it.
    A seq the job does not have is a 404."""
    job = await find_job(services, job_id)
    store = services.store
    if seq > job.last_seq or not (found := await store.events_after(job_id, seq - 1, 1)) or found[0].seq != seq:
        raise HTTPException(404, f"Job {job_id} has no event {seq} (its events are 1 to {job.last_seq}).")
    older = await store.events_before(job_id, seq, before + 1, only) if before else []
    newer = await store.events_after(job_id, seq - 1, after + 2, only)
    at = newer[:1] if newer and newer[0].seq == seq else []
    newer = newer[len(at) :]
    return {
        "seq": seq,
        "events": [e.to_json() for e in [*older[max(0, len(older) - before) :], *at, *newer[:after]]],
        "more_before": len(older) > before,
        "more_after": len(newer) > after,
    }


@router.get("/servers")
async def list_servers(services: ServicesDep, refresh: RefreshQuery = False) -> list[dict[str, Any]]:
    """Every configured server's status as last checked, in the config's order (`POST /api/servers/refresh` checks
    them now)."""
    refuse_refresh_by_get(refresh, "/api/servers/refresh")
    return [server_json(services, monitor.status) for monitor in services.servers]


@router.post("/servers/refresh")
async def refresh_servers(services: ServicesDep) -> list[dict[str, Any]]:
    """Check every server now (a check under way is joined; one just made is answered as it is)."""
    await services.servers.refresh_on_request()
    return [server_json(services, monitor.status) for monitor in services.servers]


@router.get("/servers/{name}")
async def get_server(name: str, services: ServicesDep, refresh: RefreshQuery = False) -> dict[str, Any]:
    refuse_refresh_by_get(refresh, f"/api/servers/{name}/refresh")
    return server_json(services, find_server(services, name).status)


@router.post("/servers/{name}/refresh")
async def refresh_server(name: str, services: ServicesDep) -> dict[str, Any]:
    """Check the server now: for a stdio server, that starts its process. A check under way is joined, and one made
    in the last seconds is answered as it is, so many asking at once start one check."""
    return server_json(services, await find_server(services, name).refresh_on_request())


@router.post("/servers/{name}/sign-in")
async def sign_in(name: str, request: Request, services: ServicesDep) -> dict[str, Any]:
    """Start signing in to a server that needs it: `{"authorize_url"}`, where the person signs in; the authorization
    server then sends the browser back to /oauth/callback. Bound to the caller's browser session (its cookie)."""
    monitor = find_server(services, name)
    try:
        url = await services.desk.start(monitor, session_of(request), str(request.base_url))
    except SignInRefused as exc:
        raise HTTPException(exc.status_code, exc.message) from exc
    return {"authorize_url": url}


@router.post("/servers/{name}/sign-out")
async def sign_out(name: str, services: ServicesDep) -> dict[str, Any]:
    """Forget the server's tokens (every process's: they live in the store); then check the server again."""
    monitor = find_server(services, name)
    forgotten = await services.desk.sign_out(name)
    return {"signed_out": forgotten, **server_json(services, await monitor.refresh())}


def session_of(request: Request) -> str | None:
    """The browser session the request belongs to (see webapp.security.Gate), if any."""
    session_id: str | None = getattr(request.state, "session_id", None)
    return session_id


@router.get("/servers/{name}/tasks")
async def list_server_tasks(name: str, services: ServicesDep) -> dict[str, Any]:
    """The MCP tasks a 2025-11-25 server lists (tasks/list), each with the job it belongs to when it is one of ours:
    `{"tasks": [{"id", "status", "status_message", "created_at", "ttl_ms", "job"}], "note"}`."""
    return (await server_tasks(services, find_server(services, name))).to_json()


@router.get("/servers/{name}/events")
async def list_server_events(
    name: str,
    services: ServicesDep,
    only: FilterDep,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 10000,
) -> dict[str, Any]:
    """What the server sent outside any job, in the shape of a job's events: its own sequence, from 1."""
    find_server(services, name)
    return page_of(await services.store.server_events_after(name, after, limit + 1, only), limit)


@router.get("/servers/{name}/events/{seq}")
async def get_server_event(
    name: str, seq: Annotated[int, Path(ge=1, le=MAX_SEQ)], services: ServicesDep
) -> dict[str, Any]:
    find_server(services, name)
    events = await services.store.server_events_after(name, seq - 1, 1)
    if not events or events[0].seq != seq:
        raise HTTPException(404, f"Server {name} has no line {seq}.")
    return events[0].to_json()


@router.get("/server")
async def server_status(services: ServicesDep, refresh: RefreshQuery = False) -> dict[str, Any]:
    """The first server's status as last checked."""
    refuse_refresh_by_get(refresh, f"/api/servers/{services.monitor.target.name}/refresh")
    return server_json(services, services.monitor.status)


def refuse_refresh_by_get(refresh: bool, instead: str) -> None:
    """A GET changes nothing: a check (which starts a process, for a stdio server) is asked for with a POST."""
    if refresh:
        raise HTTPException(400, f"A GET only reads the status. To check the server now, send POST {instead}.")


def page_of(events: list[Event], limit: int) -> dict[str, Any]:
    """A page of events, read one more than asked: that one tells whether there is more, without a second query."""
    return {"events": [e.to_json() for e in events[:limit]], "more": len(events) > limit}


def find_server(services: Services, name: str) -> ServerMonitor:
    monitor = services.servers.get(name)
    if monitor is None:
        raise HTTPException(404, f"No server named {name!r}.")
    return monitor


def server_json(services: Services, status: ServerStatus) -> dict[str, Any]:
    """A server's status, and whether its lines outside jobs are heard (`outside_jobs`; `dropped`: lines not kept,
    sent faster than --max-server-lines-per-second)."""
    listener = services.listeners.get(status.name)
    outside = None
    if listener is not None:
        outside = {"state": listener.state, "note": listener.note, "dropped": listener.dropped}
    return {**status.to_json(), "outside_jobs": outside}
