"""The app's long-lived parts, built by the lifespan and handed to every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema
from fastapi import Request
from starlette.templating import Jinja2Templates

from webapp.events import Job
from webapp.hub import Hub
from webapp.jobs import JobRunner
from webapp.monitor import ServerMonitor
from webapp.settings import Settings
from webapp.store import Store


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
    runner: JobRunner
    monitor: ServerMonitor
    templates: Jinja2Templates

    async def start_job(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        idle_timeout: float | None = None,
        max_duration: float | None = None,
    ) -> Job:
        """Check the request against the server's last known tools, then start it."""
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
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(spec.input_schema).iter_errors(arguments)
        )
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "arguments"
            raise InvalidJob(f"Arguments do not fit the input schema of {tool!r}: {where}: {error.message}.", 422)
        return await self.runner.start(
            tool,
            arguments,
            idle_timeout=idle_timeout or self.settings.idle_timeout,
            max_duration=max_duration or self.settings.max_duration,
        )


def get_services(request: Request) -> Services:
    services: Services = request.state.services
    return services
