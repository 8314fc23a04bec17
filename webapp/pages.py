"""The HTML pages and the fragments htmx asks for."""

from __future__ import annotations

import json
import logging
import math
import secrets
import time
from dataclasses import dataclass, replace
from typing import Annotated, Any, cast
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from webapp.api import (
    FilterDep,
    KindsQuery,
    LevelsQuery,
    LoggerQuery,
    MinLevelQuery,
    RegexQuery,
    SearchQuery,
    filter_query,
    find_job,
    read_filter,
)
from webapp.events import KINDS, LEVELS, MAX_SEQ, Event, Job, JobState, LogLevel
from webapp.mcp_link import HttpTarget
from webapp.questions import InvalidAnswer, answer
from webapp.rendering import example_arguments
from webapp.schema_form import ArgumentErrors, describe_form, read_arguments, submitted_values
from webapp.services import MAX_LINGER, InvalidJob, Services, client_of, get_services, server_tasks, task_mode
from webapp.sign_in import CALLBACK_PATH, METADATA_DOCUMENT_PATH, SignInRefused
from webapp.store import EventFilter, StoreUnavailable, counts_of

log = logging.getLogger(__name__)
router = APIRouter(default_response_class=HTMLResponse)
ServicesDep = Annotated[Services, Depends(get_services)]
DEFAULT_TOOL = "run_job"
RECENT_JOBS = 50  # rows in the recent-jobs list


@dataclass(frozen=True, slots=True)
class JobsView:
    """The recent-jobs list's filters, from the query string: only jobs in `state`, only jobs of `tool`."""

    state: JobState | None = None
    tool: str | None = None

    @property
    def query(self) -> str:
        return urlencode({k: v for k, v in (("state", self.state), ("tool", self.tool)) if v})

    async def jobs(self, services: Services) -> list[Job]:
        return await services.store.list_jobs(RECENT_JOBS, state=self.state and self.state.value, tool=self.tool)

    async def context(self, services: Services, *, clock: bool = True) -> dict[str, Any]:
        """What partials/_jobs_table.html shows: the jobs, with their durations so far and start times as of now;
        without `clock`, none of what depends on the time (static/jobs.js writes it), so that the same list
        renders the same HTML at any time."""
        jobs = await self.jobs(services)
        can_start = any(status.tools for status in services.servers.statuses)  # what to say of an empty list
        return {"jobs": jobs, "view": self, "can_start": can_start, "now": time.time() if clock else None, "ago": ago}


def ago(seconds: float) -> str:
    """How long ago, as a person says it (and static/jobs.js writes it, keeping it fresh): just now, 42 s ago,
    3 min ago, 5 h ago, 2 days ago."""
    whole = max(int(seconds), 0)
    if whole < 5:
        return "just now"
    if whole < 60:
        return f"{whole} s ago"
    if whole < 3600:
        return f"{whole // 60} min ago"
    if whole < 86_400:
        return f"{whole // 3600} h ago"
    days = whole // 86_400
    return f"{days} day ago" if days == 1 else f"{days} days ago"


def jobs_view(state: JobState | None = None, tool: str | None = None) -> JobsView:
    return JobsView(state, tool or None)


JobsViewDep = Annotated[JobsView, Depends(jobs_view)]


@router.get("/")
async def index(
    request: Request,
    services: ServicesDep,
    view: JobsViewDep,
    from_job: Annotated[str | None, Query(alias="from", description="Fill the form from this job.")] = None,
    server: Annotated[str | None, Query(description="The form's server (the first by default).")] = None,
) -> Response:
    """The start form and the recent jobs (filtered by `state` and `tool`); `?from=JOB` fills the form with that
    job's settings (Edit and run); `?server=NAME` starts the form on that server."""
    copied = await find_job(services, from_job) if from_job else None
    form = form_of(copied) if copied else None
    if form is None and server:
        form = default_form(services, server)
    return await render_index(request, services, form=form, view=view, copied_from=copied)


async def render_index(
    request: Request,
    services: Services,
    *,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    field_errors: dict[str, str] | None = None,
    status_code: int = 200,
    view: JobsView | None = None,
    copied_from: Job | None = None,
) -> Response:
    view = view or JobsView()
    context = {**start_form_context(services, form, error, field_errors=field_errors), **await view.context(services)}
    context["copied_from"] = copied_from  # Edit and run: the form says what it took from that job
    context["states"] = [state.value for state in JobState]
    return services.templates.TemplateResponse(request, "index.html", context, status_code=status_code)


def start_form_context(
    services: Services,
    form: dict[str, Any] | None,
    error: str | None,
    server_name: str | None = None,
    field_errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    form = form or default_form(services, server_name)
    monitor = services.servers.get(form["server"]) or services.monitor
    server = monitor.status
    tool = server.tool(form["tool"])
    return {
        "task_mode": task_mode(server, tool),
        "server": server,
        "bundled": services.settings.mcp_url is None and services.settings.config is None,
        "form": form,
        "tool": tool,
        "arguments": form["arguments"],
        # A field per argument; after a refused start, what was typed in them, and each one's error beside it.
        "argument_form": describe_form(tool.input_schema if tool else {}, form["arguments"], form.get("fields")),
        "field_errors": field_errors or {},
        "error": error,
    }


def default_form(services: Services, server_name: str | None = None) -> dict[str, Any]:
    """The start form as a new visitor sees it: the first server (or the one named), its default tool (or its
    first one) with its example arguments."""
    server = (services.servers.get(server_name or "") or services.monitor).status
    names = [t.name for t in server.tools]
    tool = DEFAULT_TOOL if DEFAULT_TOOL in names else (names[0] if names else "")
    return {
        "server": server.name,
        "tool": tool,
        "arguments": example_arguments(server.tool(tool)),
        "idle_timeout": f"{services.settings.idle_timeout:g}",
        "max_duration": f"{services.settings.max_duration:g}",
        "log_level": "debug",
        "linger": "0",
    }


def form_of(job: Job) -> dict[str, Any]:
    """The start form filled with `job`'s server, tool, arguments, time limits, log level and linger."""
    return {
        "server": job.server,
        "tool": job.tool,
        "arguments": json.dumps(job.arguments, indent=2, ensure_ascii=False),
        "idle_timeout": "" if job.idle_timeout is None else f"{job.idle_timeout:g}",
        "max_duration": "" if job.max_duration is None else f"{job.max_duration:g}",
        "log_level": job.log_level,
        "linger": f"{job.linger:g}",
        "as_task": "false" if job.as_task is False else "true",
    }


@router.post("/jobs")
async def start_job_from_form(
    request: Request,
    services: ServicesDep,
    tool: Annotated[str, Form()],
    server: Annotated[str, Form()] = "",
    arguments: Annotated[str, Form()] = "{}",
    idle_timeout: Annotated[str, Form()] = "",
    max_duration: Annotated[str, Form()] = "",
    log_level: Annotated[str, Form()] = "debug",
    linger: Annotated[str, Form()] = "",
    as_task: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies its defaults
) -> Response:
    items = (await request.form()).multi_items()  # the argument fields, arg.<property>, as many as the tool has
    form = {
        "server": server or services.monitor.target.name,
        "tool": tool,
        "arguments": arguments,
        "fields": submitted_values(items),
        "idle_timeout": idle_timeout,
        "max_duration": max_duration,
        "log_level": log_level,
        "linger": linger,
        "as_task": as_task[-1] if as_task else "true",  # a checked box's "true" comes after the hidden "false"
    }
    monitor = services.servers.get(server) if server else services.monitor
    spec = monitor.status.tool(tool) if monitor else None
    try:
        # The fields over the JSON view, checked against the tool's schema; an unknown tool or server is
        # start_job's to refuse.
        parsed = read_arguments(spec.input_schema, items) if spec else parse_arguments(arguments)
        job = await services.start_job(
            tool,
            parsed,
            client=client_of(request),
            server=server or None,
            idle_timeout=parse_seconds("Idle timeout", idle_timeout),
            max_duration=parse_seconds("Maximum duration", max_duration),
            log_level=parse_level(log_level),
            linger=parse_linger(linger),
            as_task=(as_task[-1] != "false") if as_task else None,  # no choice on the form: the default
        )
    except ArgumentErrors as exc:
        return await render_index(
            request, services, form=form, error=exc.message, field_errors=exc.errors, status_code=exc.status_code
        )
    except InvalidJob as exc:
        page = await render_index(request, services, form=form, error=exc.message, status_code=exc.status_code)
        page.headers.update(exc.headers)
        return page
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/jobs/{job_id}/rerun")
async def rerun_job_from_page(request: Request, job_id: str, services: ServicesDep) -> Response:
    """The Rerun button of a job's page: to the new job's page."""
    try:
        job = await services.rerun_job(job_id, client=client_of(request))
    except InvalidJob as exc:
        raise HTTPException(exc.status_code, exc.message, headers=exc.headers or None) from exc
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/jobs/{job_id}/delete")
async def delete_job_from_page(job_id: str, services: ServicesDep) -> Response:
    """The Delete button of an ended job's page: then back to the list."""
    try:
        await services.delete_job(job_id)
    except InvalidJob as exc:
        raise HTTPException(exc.status_code, exc.message) from exc
    return RedirectResponse("/", status_code=303)


def parse_arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidJob(f"Arguments are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from exc
    except (ValueError, RecursionError) as exc:  # a number of thousands of digits, nesting thousands deep
        raise InvalidJob(f"Arguments are JSON this dashboard will not read: {str(exc)[:120]}") from exc
    if not isinstance(value, dict):
        raise InvalidJob('Arguments must be a JSON object, like {"steps": 40}.')
    return value


def parse_level(text: str) -> LogLevel:
    if text not in LEVELS:
        raise InvalidJob(f"Log level must be one of {', '.join(LEVELS)}, not {text!r}.")
    return cast(LogLevel, text)


def parse_linger(text: str) -> float:
    if not text.strip():
        return 0.0
    try:
        seconds = float(text)
    except ValueError:
        raise InvalidJob(f"Linger must be a number of seconds, not {text!r}.") from None
    if not (0 <= seconds <= MAX_LINGER):
        raise InvalidJob(f"Linger must be between 0 and {MAX_LINGER} seconds.")
    return seconds


def parse_seconds(label: str, text: str) -> float | None:
    if not text.strip():
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise InvalidJob(f"{label} must be a number of seconds, not {text!r}.") from None
    if not (seconds > 0 and math.isfinite(seconds)):
        raise InvalidJob(f"{label} must be a number of seconds above 0.")
    return seconds


@dataclass(frozen=True, slots=True)
class LogView:
    """A job page's filters as asked for: those that apply, what is wrong with the others, and the search as typed
    (a pattern RE2 cannot run is shown back in its box, with the reason beside it, and applies no filter)."""

    only: EventFilter
    error: str | None = None
    q: str = ""
    regex: bool = False


def log_view(
    levels: LevelsQuery = [],  # noqa: B006 - FastAPI copies its defaults
    kinds: KindsQuery = [],  # noqa: B006
    logger: LoggerQuery = "",
    q: SearchQuery = "",
    regex: RegexQuery = False,
    min_level: MinLevelQuery = "",
) -> LogView:
    only, errors = read_filter(levels, kinds, logger, q, regex, min_level)
    return LogView(only, " ".join(errors) or None, q, regex and bool(q))


LogViewDep = Annotated[LogView, Depends(log_view)]


@router.get("/jobs/{job_id}")
async def job_page(request: Request, job_id: str, services: ServicesDep, view: LogViewDep) -> Response:
    """A job, live; with filters (`levels`, `min_level`, `kinds`, `logger`, `q`, `regex`), only the lines they let
    through, in the page and in its stream alike. A filter that is wrong (a bad pattern) keeps the page: a 422
    with the job, the other filters and the log, and the reason beside the search box."""
    job = await find_job(services, job_id)
    extra = {"filter_error": view.error, "typed_q": view.q, "typed_regex": view.regex}
    return await render_job(request, services, job, view.only, extra, status_code=422 if view.error else 200)


async def render_job(
    request: Request,
    services: Services,
    job: Job,
    only: EventFilter,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The job's page; `extra`: more for its templates (a question's form sent back with its errors)."""
    job_id = job.id
    max_lines = services.settings.max_lines
    if only:
        # The newest matching lines up to the job's last event; the stream goes on after that event.
        events = await services.store.events_before(job_id, job.last_seq + 1, max_lines, only)
        after = job.last_seq
    else:
        # The newest `max_lines` events; the stream continues after the job's last seq.
        first = max(0, job.last_seq - max_lines)
        events = await services.store.events_after(job_id, first, max_lines)
        after = events[-1].seq if events else first
    matching = await services.store.count_matching(job_id, after, only) if only else after
    context = {
        "job": job,
        "events": events,
        "after": after,
        "hidden": matching - len(events),
        "max_lines": max_lines,
        "server": services.monitor.status,
        "now": time.time(),  # the page's clock, against which app.js measures elapsed time
        "only": only,
        "filter_query": filter_query(only),
        # One click to warning and worse, with the other filters kept (the levels above it said as a minimum).
        "warning_query": filter_query(replace(only, min_level="warning")),
        # One click to the log without its progress lines (the bar shows progress): every other kind.
        "no_progress_query": filter_query(replace(only, kinds=tuple(k for k in KINDS if k != "progress"))),
        "filter_error": None,
        "typed_q": only.q or "",
        "typed_regex": only.regex,
        "counts": await counts_of(services.store, job),
        "matching": matching,
        "viewer": secrets.token_urlsafe(12),  # the page's stream's viewer id: flow control (webapp/viewers.py)
        **(extra or {}),
    }
    return services.templates.TemplateResponse(request, "job.html", context, status_code=status_code)


@router.post("/jobs/{job_id}/input/{key}")
async def answer_from_page(request: Request, job_id: str, key: str, services: ServicesDep) -> Response:
    """A question's form on the job's page: Accept (with its fields), Decline or Cancel; then back to the job. A
    form that does not fit the question comes back with each error beside its field, and nothing is sent."""
    job = await find_job(services, job_id)
    items = (await request.form()).multi_items()
    action = next((str(value) for name, value in reversed(items) if name == "action"), "")
    question = job.question(key)
    in_place = "hx-request" in request.headers  # htmx: only the question's part of the page comes back
    extra: dict[str, Any]
    try:
        content: dict[str, Any] | None = None
        if action == "accept" and question is not None and question.mode == "form" and question.schema is not None:
            content = read_arguments(question.schema, items)
        await answer(services.store, job, key, action, content)
    except ArgumentErrors as exc:
        status_code = exc.status_code
        extra = {
            "question_error": exc.message,
            "question_field_errors": exc.errors,
            "question_fields": submitted_values(items),
            "question_values": next((str(v) for n, v in items if n == "arguments"), None),
        }
    except InvalidAnswer as exc:
        if exc.status_code == 404:
            raise HTTPException(404, exc.message) from exc
        status_code, extra = exc.status_code, {"question_error": exc.message}
    else:
        if not in_place:
            return RedirectResponse(f"/jobs/{job.id}", status_code=303)
        status_code, extra = 200, {"answered": action}
    if in_place:
        context = {"job": job, **extra}
        return services.templates.TemplateResponse(
            request, "partials/_questions.html", context, status_code=status_code
        )
    return await render_job(request, services, job, EventFilter(), extra, status_code=status_code)


OLDER_PAGE = 500  # lines a "load older lines" (or newer, or a window around a line) brings


@router.get("/jobs/{job_id}/lines")
async def log_lines(
    request: Request,
    job_id: str,
    services: ServicesDep,
    only: FilterDep,
    before: Annotated[int | None, Query(ge=1, le=MAX_SEQ, description="Lines before this seq.")] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_SEQ, description="Lines after this seq.")] = None,
    around: Annotated[int | None, Query(ge=1, le=MAX_SEQ, description="Lines around this seq.")] = None,
    limit: Annotated[int, Query(ge=1, le=OLDER_PAGE)] = OLDER_PAGE,
) -> Response:
    """A part of the view's lines as the log's HTML, for a log that holds a window of the job (issue 18): with
    `before`, the newest `limit` lines before it (what "load older lines" puts above the first line shown); with
    `after`, the oldest `limit` after it (below the last, or in a skipped-lines marker's place); with `around`, a
    window of `limit` lines centred on it (a permalink). `X-More-Lines: 1` when there are more on the side read
    towards (before: older; after: newer); `X-Lines-Before`: how many lines of the view come before the first one
    sent; with `around`, `X-More-After` too. A seq that the job does not have is a 404."""
    job = await find_job(services, job_id)
    asked = [name for name, value in (("before", before), ("after", after), ("around", around)) if value is not None]
    if len(asked) != 1:
        raise HTTPException(422, "Give exactly one of before, after or around (a seq).")
    store = services.store
    headers: dict[str, str] = {}
    if around is not None:
        if around > job.last_seq or not await store.events_after(job_id, around - 1, 1):
            raise HTTPException(404, f"Job {job_id} has no event {around}.")
        events, more_before, more_after = await events_around(services, job_id, around, limit, only)
        headers["X-More-Lines"] = "1" if more_before else "0"
        headers["X-More-After"] = "1" if more_after else "0"
    elif after is not None:
        events = await store.events_after(job_id, after, limit + 1, only)
        headers["X-More-Lines"] = "1" if len(events) > limit else "0"
        events = events[:limit]
    else:
        assert before is not None
        events = await store.events_before(job_id, before, limit + 1, only)
        headers["X-More-Lines"] = "1" if len(events) > limit else "0"
        events = events[-limit:]
    if events:
        headers["X-Lines-Before"] = str(await lines_before(services, job_id, events[0].seq, only))
    response = services.templates.TemplateResponse(request, "partials/_log_lines.html", {"events": events})
    response.headers.update(headers)
    return response


async def events_around(
    services: Services, job_id: str, seq: int, limit: int, only: EventFilter
) -> tuple[list[Event], bool, bool]:
    """At most `limit` events of the view centred on `seq` (it included, if the view has it); and whether the view
    has more before them, and after."""
    half = max(limit // 2, 1)
    older = await services.store.events_before(job_id, seq, half + 1, only)
    more_before = len(older) > half
    older = older[-half:]
    room = limit - len(older)  # a window near the job's start takes more of what follows
    newer = await services.store.events_after(job_id, seq - 1, room + 1, only)
    more_after = len(newer) > room
    return [*older, *newer[:room]], more_before, more_after


async def lines_before(services: Services, job_id: str, seq: int, only: EventFilter) -> int:
    """How many lines of the view come before `seq`: the seq's own count without filters (seqs have no gaps)."""
    if not only:
        return seq - 1
    return await services.store.count_matching(job_id, seq - 1, only)


@router.get("/tools/arguments")
async def tool_arguments(
    request: Request, services: ServicesDep, tool: Annotated[str, Query()] = "", server: Annotated[str, Query()] = ""
) -> Response:
    monitor = services.servers.get(server) if server else services.monitor
    spec = monitor.status.tool(tool) if monitor else None
    if spec is None:
        raise HTTPException(404, f"Unknown tool {tool!r}.")
    arguments = example_arguments(spec)
    context = {
        "tool": spec,
        "arguments": arguments,
        "argument_form": describe_form(spec.input_schema, arguments),
        "task_mode": task_mode(monitor.status, spec) if monitor else None,
    }
    return services.templates.TemplateResponse(request, "partials/_arguments.html", context)


@router.get("/fragments/jobs")
async def jobs_table(request: Request, services: ServicesDep, view: JobsViewDep) -> Response:
    """The recent-jobs list as it is now; the home page keeps it live with /fragments/jobs/events."""
    return services.templates.TemplateResponse(request, "partials/_jobs_table.html", await view.context(services))


@router.get("/fragments/start-form")
async def start_form(request: Request, services: ServicesDep, server: Annotated[str, Query()] = "") -> Response:
    """The start form for `server` (the first by default) once its tools are known; until then, a placeholder
    that asks again."""
    context = start_form_context(services, None, None, server or None)
    return services.templates.TemplateResponse(request, "partials/_start_form.html", context)


@router.get("/fragments/server")
async def server_status(request: Request, services: ServicesDep) -> Response:
    context = {"server": services.monitor.status}
    return services.templates.TemplateResponse(request, "partials/_server_status.html", context)


@router.get("/servers/{name}")
async def server_page(request: Request, name: str, services: ServicesDep, view: LogViewDep) -> Response:
    """One server: where it is, whether it answers, who it says it is, what it can do and its tools; and its lines
    outside jobs, with the filters of a job's log (`levels`, `min_level`, `kinds`, `logger`, `q`, `regex`)."""
    monitor = services.servers.get(name)
    if monitor is None:
        raise HTTPException(404, f"No server named {name!r}.")
    max_lines = services.settings.max_lines
    last = await services.store.last_server_seq(name)
    only = view.only
    if only:
        # A server keeps a bounded number of lines (--max-server-lines): the matching ones are read whole, and
        # the newest shown; the stream goes on after the last line kept.
        matching = await services.store.server_events_after(name, 0, services.settings.max_server_lines, only)
        events, hidden, after = matching[-max_lines:], max(0, len(matching) - max_lines), last
    else:
        first = max(0, last - max_lines)  # the newest lines; the stream goes on after them
        events = await services.store.server_events_after(name, first, max_lines)
        hidden, after = first, events[-1].seq if events else first
    context = {
        "server": services.monitor.status,
        "shown": monitor.status,
        "listener": services.listeners.get(name),
        "events": events,
        "after": after,
        "hidden": hidden,
        "max_lines": max_lines,
        "events_url": f"/api/servers/{name}/events/",
        "only": only,
        "filter_query": filter_query(only),
        "filter_error": view.error,
        "typed_q": view.q,
        "typed_regex": view.regex,
        "signs_in": isinstance(monitor.target, HttpTarget),
        "server_signed_in": await services.desk.is_signed_in(name) if isinstance(monitor.target, HttpTarget) else False,
        "tokens_in_the_clear": services.desk.tokens_in_the_clear,
    }
    status_code = 422 if view.error else 200
    return services.templates.TemplateResponse(request, "server.html", context, status_code=status_code)


@router.post("/servers/{name}/sign-in")
async def sign_in_from_page(request: Request, name: str, services: ServicesDep) -> Response:
    """The Sign in button: a page that sends the browser on to the authorization server. Not a redirect: the
    page's CSP allows forms to go to this origin only, and browsers hold a form's redirects to that too."""
    monitor = services.servers.get(name)
    if monitor is None:
        raise HTTPException(404, f"No server named {name!r}.")
    try:
        url = await services.desk.start(monitor, getattr(request.state, "session_id", None), str(request.base_url))
    except SignInRefused as exc:
        raise HTTPException(exc.status_code, exc.message) from exc
    context = {
        "server": services.monitor.status,
        "shown": monitor.status,
        "authorize_url": url,
        "authorize_host": urlsplit(url).netloc,
    }
    return services.templates.TemplateResponse(request, "sign_in.html", context)


@router.post("/servers/{name}/sign-out")
async def sign_out_from_page(name: str, services: ServicesDep) -> Response:
    monitor = services.servers.get(name)
    if monitor is None:
        raise HTTPException(404, f"No server named {name!r}.")
    await services.desk.sign_out(name)
    await monitor.refresh()
    return RedirectResponse(f"/servers/{quote(name)}", status_code=303)


# Not in /openapi.json: these face the authorization server and the browser it sends back, not scripts. Both answer
# without the dashboard's token by design (webapp.security.Gate): the document is public, and a callback that comes
# without the session cookie first reloads itself to bring it.
@router.get(CALLBACK_PATH, include_in_schema=False)
async def sign_in_callback(
    request: Request,
    services: ServicesDep,
    code: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    error: Annotated[str | None, Query()] = None,
    iss: Annotated[str | None, Query()] = None,
) -> Response:
    """Where the authorization server sends the browser back: finish the sign-in, then to the server's page."""
    try:
        pending = services.desk.take(state, getattr(request.state, "session_id", None))
        await services.desk.complete(pending, code, error, iss)
    except SignInRefused as exc:
        raise HTTPException(exc.status_code, exc.message) from exc
    monitor = services.servers.get(pending.server)
    if monitor is not None:
        await monitor.refresh()
    return RedirectResponse(f"/servers/{quote(pending.server)}", status_code=303)


@router.get(METADATA_DOCUMENT_PATH, include_in_schema=False)
async def client_metadata_document(services: ServicesDep) -> Response:
    """The dashboard's client ID metadata document, for authorization servers that take one (at an HTTPS
    --public-url only)."""
    document = services.desk.metadata_document()
    if document is None:
        raise HTTPException(404, "This dashboard has no HTTPS --public-url, so no client ID metadata document.")
    return JSONResponse(document)


@router.get("/fragments/servers/{name}/tasks")
async def server_tasks_fragment(request: Request, name: str, services: ServicesDep) -> Response:
    """The server's MCP tasks, asked for now (the server page loads it)."""
    monitor = services.servers.get(name)
    if monitor is None:
        raise HTTPException(404, f"No server named {name!r}.")
    context = {"listed": await server_tasks(services, monitor)}
    return services.templates.TemplateResponse(request, "partials/_server_tasks.html", context)


ERROR_TITLES = {404: "Not found", 405: "Method not allowed", 503: "Unavailable for a moment"}


async def explain_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """A page with a way back for a person who followed a link; the usual JSON for scripts, htmx and streams."""
    accept = request.headers.get("accept", "")
    # A form sent from the page that meets an outage gets a page too, not JSON.
    methods = ("GET", "HEAD", "POST") if exc.status_code == 503 else ("GET", "HEAD")
    wants_page = (
        request.method in methods
        and "text/html" in accept
        and "text/event-stream" not in accept
        and "hx-request" not in request.headers
        and not request.url.path.startswith("/api/")
    )
    if not wants_page:
        return await http_exception_handler(request, exc)
    services = get_services(request)
    message = exc.detail if exc.status_code != 404 or exc.detail != "Not Found" else "There is no page at this address."
    context = {
        "title": ERROR_TITLES.get(exc.status_code, f"Error {exc.status_code}"),
        "message": message,
        "server": services.monitor.status,
    }
    return services.templates.TemplateResponse(
        request, "error.html", context, status_code=exc.status_code, headers=exc.headers
    )


async def explain_store_unavailable(request: Request, exc: StoreUnavailable) -> Response:
    """The store is down for a moment (a database restarting): say so, as a 503, rather than fail with a 500. What
    the database said goes to the log, not to the browser: it may name files, hosts and users."""
    log.warning("%s %s: the store is unavailable: %s", request.method, request.url.path, exc)
    detail = "The job store is unavailable right now. Try again in a moment."
    return await explain_http_error(request, StarletteHTTPException(503, detail, headers={"Retry-After": "5"}))
