"""`python -m webapp [web|worker]`: the dashboard's process roles.

- `python -m webapp`: everything in one process (pages, API, streams and jobs), the bundled MCP server
  unless --mcp-url is given; SQLite by default.
- `python -m webapp web`: pages, API and streams only; jobs run in worker processes.
- `python -m webapp worker`: runs jobs from the shared queue; serves no HTTP.

Web and worker processes share their jobs through PostgreSQL (`--db postgresql://...`).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from typing import Literal

import anyio
import uvicorn

from webapp import worker
from webapp.app import create_app
from webapp.runtime import redact
from webapp.settings import ENV_PREFIX, Settings
from webapp.store import is_shared

Role = Literal["all", "web", "worker"]
ROLES: dict[str, str] = {
    "web": "Serve the pages, the JSON API and the live streams; run no job (workers do).",
    "worker": "Run jobs from the shared queue: the MCP connections, recording and writing; serve no HTTP.",
}


@dataclass(frozen=True, slots=True)
class Command:
    role: Role
    settings: Settings


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting. SUPPRESS: a flag not given leaves the environment variable or default in charge,
    whether it comes before or after the sub-command."""
    for name, field in Settings.model_fields.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=argparse.SUPPRESS,
            help=f"{field.description} Env: {ENV_PREFIX}{name.upper()}. Default: {field.default}.",
        )


def parse_args(argv: list[str] | None = None) -> Command:
    """A flag wins over its MCP_LIVE_* environment variable, which wins over the default."""
    parser = argparse.ArgumentParser(
        prog="python -m webapp",
        description="MCP Live: a dashboard for live MCP notifications. With no role, it runs everything in one "
        "process.",
    )
    add_setting_flags(parser)
    roles = parser.add_subparsers(dest="role", metavar="{web,worker}", title="roles (optional)")
    for name, text in ROLES.items():
        add_setting_flags(roles.add_parser(name, help=text, description=text))
    given = vars(parser.parse_args(argv))
    role: Role = given.pop("role", None) or "all"
    settings = Settings(**given)
    if role != "all" and not is_shared(settings.db):
        parser.error(
            f"`{role}` processes share their jobs with other processes through PostgreSQL: give --db "
            f"postgresql://... (not the SQLite file {settings.db!r}), or run `python -m webapp` with no role "
            "to have everything in one process."
        )
    return Command(role, settings)


def main(argv: list[str] | None = None) -> None:
    command = parse_args(argv)
    settings = command.settings
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per MCP request is noise here
    if command.role == "worker":
        anyio.run(worker.serve, settings)
        return
    role = "web process" if command.role == "web" else "dashboard"
    print(f"MCP Live {role}: http://{settings.host}:{settings.port} (jobs in {redact(settings.db)})", flush=True)
    uvicorn.run(
        create_app(settings, with_worker=command.role == "all"),
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
