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
import secrets
import socket
from dataclasses import dataclass
from typing import Literal

import anyio
from pydantic import ValidationError

from webapp import serving, worker
from webapp.app import create_app
from webapp.runtime import redact
from webapp.security import WILDCARD_HOSTS, RedactTokens, is_loopback
from webapp.servers import ConfigError, load_config
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
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=argparse.SUPPRESS,
            action="append" if isinstance(default, list) else "store",
            help=f"{field.description} Env: {ENV_PREFIX}{name.upper()}. Default: {default}.",
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
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        parser.error(explain(exc))
    if settings.config is not None:
        if settings.mcp_url is not None:
            parser.error("give --config (several servers) or --mcp-url (one), not both")
        try:
            load_config(settings.config, settings.protocol)
        except ConfigError as exc:
            parser.error(str(exc))
    if role != "all" and not is_shared(settings.db):
        parser.error(
            f"`{role}` processes share their jobs with other processes through PostgreSQL: give --db "
            f"postgresql://... (not the SQLite file {settings.db!r}), or run `python -m webapp` with no role "
            "to have everything in one process."
        )
    return Command(role, settings)


def explain(error: ValidationError) -> str:
    """A setting that does not validate, said in the words of its flag and environment variable."""
    problems = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        flag = "--" + name.replace("_", "-")
        problems.append(f"{flag} (or {ENV_PREFIX}{name.upper()}): {problem['msg']}, not {problem['input']!r}")
    return "; ".join(problems)


def main(argv: list[str] | None = None) -> None:
    command = parse_args(argv)
    settings = command.settings
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per MCP request is noise here
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())  # request lines carry ?token= once
    if command.role == "worker":
        anyio.run(worker.serve, settings)
        return
    settings, made_up = with_token_when_needed(settings)
    for line in welcome(settings, command.role, made_up):
        print(line, flush=True)
    serving.serve(create_app(settings, with_worker=command.role == "all"), settings)


def with_token_when_needed(settings: Settings) -> tuple[Settings, bool]:
    """Off loopback the dashboard never serves without a token: with none given, it makes one up."""
    if settings.token is not None or is_loopback(settings.host):
        return settings, False
    return settings.model_copy(update={"token": secrets.token_urlsafe(32)}), True


def welcome(settings: Settings, role: Role, made_up: bool) -> list[str]:
    """What is printed at start: where to open the dashboard (with the made-up token, this once)."""
    scheme = "https" if settings.ssl_certfile else "http"
    hosts = ["127.0.0.1", socket.gethostname()] if settings.host in WILDCARD_HOSTS else [settings.host]
    query = f"/?token={settings.token}" if made_up else ""
    what = "web process" if role == "web" else "dashboard"
    lines = [f"MCP Live {what}: {scheme}://{host}:{settings.port}{query}" for host in hosts]
    lines.append(f"Jobs are kept in {redact(settings.db)}.")
    if made_up:
        lines.append("Open that URL once in your browser; scripts send `Authorization: Bearer TOKEN`.")
    elif settings.token:
        lines.append("Log in with the token you gave (--token), or send `Authorization: Bearer TOKEN`.")
    return lines


if __name__ == "__main__":
    main()
