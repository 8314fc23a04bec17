"""The web role's long-lived parts, built by the lifespan and handed to every request."""

from __future__ import annotations

import json
import logging
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import jsonschema_rs
from fastapi import Request
from starlette.templating import Jinja2Templates

from webapp.events import Job, LogLevel
from webapp.feeds import Feeds
from webapp.guards import Attempts
from webapp.hub import Hub
from webapp.listener import ServerListener
from webapp.mcp_link import LinkError, ToolSpec, is_modern
from webapp.monitor import ServerMonitor, Servers, ServerStatus
from webapp.sessions import SessionKeeper
from webapp.settings import Settings
from webapp.sign_in import SignInDesk
from webapp.store import Store
from webapp.tasks import ListedTask, list_server_tasks

log = logging.getLogger(__name__)

MAX_LINGER = 600  # seconds a job may keep listening after its call


class InvalidJob(Exception):
    """A job request that cannot be carried out (a start, a delete); `status_code` says whose fault it is."""

    def __init__(self, message: str, status_code: int = 400, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.headers = {"Retry-After": str(math.ceil(retry_after))} if retry_after is not None else {}


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: Store
    hub: Hub
    servers: Servers
    templates: Jinja2Templates
    feeds: Feeds
    starts: Attempts  # job starts per client a minute (--max-starts-per-minute)
    listeners: dict[str, ServerListener]  # by server name: who hears each server outside jobs
    sessions: SessionKeeper  # browsers' sessions and their CSRF tokens (see webapp.security.Gate)
    failed_logins: Attempts  # wrong tokens per client a minute
    desk: SignInDesk  # sign-ins to servers that need one (issue 20)

    @property
    def monitor(self) -> ServerMonitor:
        """The first server's: the default one."""
        return self.servers.first

    def server(self, name: str | None) -> ServerMonitor:
        """The server a job asks for: by name, or the only one. InvalidJob (422) when it cannot be told."""
        if name is None:
            if len(self.servers) == 1:
                return self.servers.first
            names = ", ".join(monitor.target.name for monitor in self.servers)
            raise InvalidJob(f"Choose a server: this dashboard has several ({names}).", 422)
        monitor = self.servers.get(name)
        if monitor is None:
            names = ", ".join(monitor.target.name for monitor in self.servers)
            raise InvalidJob(f"No server named {name!r}. The servers are: {names}.", 422)
        return monitor

    async def start_job(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        client: str,
        server: str | None = None,
        idle_timeout: float | None = None,
        max_duration: float | None = None,
        log_level: LogLevel = "debug",
        linger: float = 0.0,
        as_task: bool | None = None,
    ) -> Job:
        """Check the request against the server's last known tools and the limits, then queue it. `as_task`: run
        the call as an MCP task where the tool lets us choose (None: yes)."""
        monitor = self.server(server)
        status = monitor.status
        if status.state == "needs_sign_in":
            raise InvalidJob(
                f"The MCP server {status.name} needs a sign-in before a job can start: {status.error}. Sign in on its "
                f"page (/servers/{status.name}) or with POST /api/servers/{status.name}/sign-in.",
                409,
            )
        # A stdio server starts anew for each job: one that could not be described may still run this one (and
        # if not, the job says why, with the process's exit status and its stderr).
        if not status.tools and not monitor.target.per_job:
            raise InvalidJob(
                f"The MCP server {status.name} ({status.where}) has not been reached yet, so no job can start: "
                f"{status.error or 'still connecting'}.",
                503,
            )
        spec = status.tool(tool)
        if spec is None and status.tools:
            offered = ", ".join(t.name for t in status.tools)
            raise InvalidJob(f"Unknown tool {tool!r}. The server {status.name} offers: {offered}.", 404)
        try:
            json.dumps(arguments, allow_nan=False)
        except ValueError:
            raise InvalidJob("Arguments must not contain NaN or Infinity: JSON has no such numbers.", 422) from None
        if spec is not None:
            check_arguments(spec, arguments)
        task = task_mode(status, spec)
        if as_task and task is None and status.description and not is_modern(status.description.protocol_version):
            raise InvalidJob(
                f"The server {status.name} does not run {tool!r} as an MCP task: it offers no tasks, or the tool "
                "forbids it. Leave as_task out.",
                422,
            )
        await self._check_room(client)
        job = Job(
            id=secrets.token_hex(6),
            tool=tool,
            arguments=arguments,
            idle_timeout=idle_timeout or self.settings.idle_timeout,
            max_duration=max_duration or self.settings.max_duration,
            log_level=log_level,
            linger=linger,
            server=status.name,
            as_task=True if task == "required" else (as_task is not False) if task == "optional" else None,
        )
        await self.store.create_job(job)
        return job

    async def _check_room(self, client: str) -> None:
        queued = await self.store.count_queued()
        if queued >= self.settings.max_queued:
            raise InvalidJob(
                f"{queued} jobs are waiting for a worker already, the most this dashboard queues (--max-queued). "
                "Try again when some have started.",
                429,
                retry_after=5,
            )
        wait = self.starts.take(client)
        if wait is not None:
            raise InvalidJob(
                f"Too many jobs started from {client}: at most {self.settings.max_starts_per_minute} a minute "
                f"(--max-starts-per-minute). Try again in {math.ceil(wait)} s.",
                429,
                retry_after=wait,
            )

    async def rerun_job(self, job_id: str, *, client: str) -> Job:
        """A new job with the same server, tool, arguments, time limits, log level and linger as `job_id`."""
        job = await self.store.get_job(job_id)
        if job is None:
            raise InvalidJob(f"No job with id {job_id!r}.", 404)
        return await self.start_job(
            job.tool,
            job.arguments,
            client=client,
            server=job.server or self.servers.first.target.name,
            idle_timeout=job.idle_timeout,
            max_duration=job.max_duration,
            log_level=job.log_level,
            linger=job.linger,
            as_task=job.as_task,
        )

    async def delete_job(self, job_id: str) -> None:
        """Delete an ended job and its events; InvalidJob when there is no such job (404) or it has not ended (409)."""
        deleted = await self.store.delete_job(job_id)
        if deleted is None:
            raise InvalidJob(f"No job with id {job_id!r}.", 404)
        if not deleted:
            raise InvalidJob(
                f"Job {job_id} has not ended, or is still listening for what its server sends late (its linger): "
                "cancel it or wait for its end, then delete it.",
                409,
            )

    async def cancel_job(self, job_id: str) -> Job | None:
        """Ask for the job to stop, whichever worker runs it. None: no such job."""
        return await self.store.request_cancel(job_id, time.time())


TaskMode = Literal["required", "optional"]


def task_mode(status: ServerStatus, tool: ToolSpec | None) -> TaskMode | None:
    """Whether a call of `tool` runs as an MCP task on 2025-11-25: always (`required`), by choice (`optional`), or
    never (None: the server offers no tasks, or the tool forbids them). On 2026-07-28 the server decides."""
    description = status.description
    if description is None or tool is None or not description.runs_tools_as_tasks:
        return None
    if tool.task_support == "required":
        return "required"
    return "optional" if tool.task_support == "optional" else None


def check_arguments(spec: ToolSpec, arguments: dict[str, Any]) -> None:
    """Raise InvalidJob when `arguments` do not fit the tool's input schema.

    The schema is the server's, so it is untrusted: patterns run on a linear-time regex engine (no pattern can
    freeze the dashboard) and no `$ref` is ever fetched. A schema the server got wrong (invalid, referring to
    other documents, a pattern that engine cannot run) is not the user's fault: then the server alone judges.
    """
    try:
        validator = jsonschema_rs.validator_for(
            spec.input_schema, retriever=refuse_to_fetch, pattern_options=jsonschema_rs.RegexOptions()
        )
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as exc:
        log.warning("cannot check arguments of %r against its input schema: %s", spec.name, exc)
        return
    error = next(validator.iter_errors(arguments), None)
    if error is not None:
        where = "/".join(str(p) for p in error.instance_path) or "arguments"
        raise InvalidJob(f"Arguments do not fit the input schema of {spec.name!r}: {where}: {error.message}.", 422)


def refuse_to_fetch(uri: str) -> Any:
    raise ValueError(f"{uri} is not fetched: a tool's schema may only refer to itself")


def get_services(request: Request) -> Services:
    services: Services = request.state.services
    return services


def client_of(request: Request) -> str:
    """Who is asking, for the start limit: the peer's address, or the client's as a trusted proxy says it."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True, slots=True)
class ServerTasks:
    """A server's tasks as the servers page and the API show them, or why there are none to show (`note`)."""

    tasks: tuple[ListedTask, ...] = ()
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"tasks": [task.to_json() for task in self.tasks], "note": self.note}


async def server_tasks(services: Services, monitor: ServerMonitor) -> ServerTasks:
    """Ask a server for its tasks now (what the server page shows)."""
    status = monitor.status
    description = status.description
    if monitor.target.per_job:
        return ServerTasks(note="a stdio server is started for each job: its tasks end with it")
    if description is None or "tasks" not in description.capabilities:
        return ServerTasks(note="this server does not say it runs tasks (capabilities.tasks)")
    jobs = [job for job in await services.store.list_jobs(200) if job.server == status.name and job.task]
    try:
        listed = await list_server_tasks(monitor.target, [job for job in jobs if not job.state.is_terminal])
    except (LinkError, TimeoutError) as exc:
        return ServerTasks(note=f"could not list them: {exc or 'no answer in time'}")
    ended = {job.task.id: job.id for job in jobs if job.task is not None}
    return ServerTasks(tuple(ListedTask(t.task, t.job_id or ended.get(t.task.id)) for t in listed))
