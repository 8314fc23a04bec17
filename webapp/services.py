"""The web role's long-lived parts, built by the lifespan and handed to every request."""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jsonschema
from fastapi import Request
from starlette.templating import Jinja2Templates

from webapp.events import Job
from webapp.feeds import Feeds
from webapp.hub import Hub
from webapp.mcp_link import ToolSpec
from webapp.monitor import ServerMonitor
from webapp.settings import Settings
from webapp.store import Store

log = logging.getLogger(__name__)


class InvalidJob(Exception):
    """A job request that cannot be started; `status_code` says whose fault it is."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: Store
    hub: Hub
    monitor: ServerMonitor
    templates: Jinja2Templates
    feeds: Feeds

    async def start_job(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        idle_timeout: float | None = None,
        max_duration: float | None = None,
    ) -> Job:
        """Check the request against the server's last known tools, then queue it for a worker."""
        status = self.monitor.status
        if not status.tools:
            raise InvalidJob(
                f"The MCP server at {status.url} has not been reached yet, so no job can start: "
                f"{status.error or 'still connecting'}.",
                503,
            )
        spec = status.tool(tool)
        if spec is None:
            offered = ", ".join(t.name for t in status.tools)
            raise InvalidJob(f"Unknown tool {tool!r}. The server offers: {offered}.", 404)
        try:
            json.dumps(arguments, allow_nan=False)
        except ValueError:
            raise InvalidJob("Arguments must not contain NaN or Infinity: JSON has no such numbers.", 422) from None
        check_arguments(spec, arguments)
        job = Job(
            id=secrets.token_hex(6),
            tool=tool,
            arguments=arguments,
            idle_timeout=idle_timeout or self.settings.idle_timeout,
            max_duration=max_duration or self.settings.max_duration,
        )
        await self.store.create_job(job)
        return job

    async def cancel_job(self, job_id: str) -> Job | None:
        """Ask for the job to stop, whichever worker runs it. None: no such job."""
        return await self.store.request_cancel(job_id, time.time())


def check_arguments(spec: ToolSpec, arguments: dict[str, Any]) -> None:
    """Raise InvalidJob when `arguments` do not fit the tool's input schema.

    A schema the server got wrong (invalid, or referring to documents we cannot fetch) is not the
    user's fault: then the server alone judges the arguments.
    """
    try:
        validator_class = jsonschema.validators.validator_for(
            spec.input_schema, default=jsonschema.Draft202012Validator
        )
        validator_class.check_schema(spec.input_schema)
        error = jsonschema.exceptions.best_match(validator_class(spec.input_schema).iter_errors(arguments))
    except Exception as exc:  # SchemaError, unresolvable $ref, a pattern that is no regex...
        log.warning("cannot check arguments of %r against its input schema: %s", spec.name, exc)
        return
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "arguments"
        raise InvalidJob(f"Arguments do not fit the input schema of {spec.name!r}: {where}: {error.message}.", 422)


def get_services(request: Request) -> Services:
    services: Services = request.state.services
    return services
