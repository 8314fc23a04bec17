"""`python -m webapp [web|worker|migrate]` (or `mcp-live ...`, the same): the dashboard's process roles.

- `python -m webapp`: everything in one process (pages, API, streams and jobs), the bundled MCP server
  unless --mcp-url is given; SQLite by default.
- `python -m webapp web`: pages, API and streams only; jobs run in worker processes.
- `python -m webapp worker`: runs jobs from the shared queue; serves no HTTP (but its probes on --health-port).
- `python -m webapp migrate [--check]`: bring the store's schema up to this version (every process also does it
  at start), or with --check only say whether it is, exiting 1 when migrations are pending.

Web and worker processes share their jobs through PostgreSQL (`--db postgresql://...`).
"""

from __future__ import annotations

import argparse
import logging
import secrets
import socket
import sys
from dataclasses import dataclass
from typing import Literal

import anyio
from pydantic import ValidationError

from webapp import operations, serving, worker
from webapp.app import create_app
from webapp.hub import Hub
from webapp.runtime import redact
from webapp.security import WILDCARD_HOSTS, RedactTokens, is_loopback
from webapp.servers import ConfigError, load_config
from webapp.settings import ENV_PREFIX, Settings
from webapp.store import SchemaTooNew, StoreUnavailable, is_shared, latest_schema, open_store, schema_version

Role = Literal["all", "web", "worker", "migrate"]
ROLES: dict[str, str] = {
    "web": "Serve the pages, the JSON API and the live streams; run no job (workers do).",
    "worker": "Run jobs from the shared queue: the MCP connections, recording and writing; serve no HTTP.",
    "migrate": "Bring the store's schema up to this version (each process also does it at start); --check only "
    "says whether it is, exiting 1 when migrations are pending.",
}


@dataclass(frozen=True, slots=True)
class Command:
    role: Role
    settings: Settings
    check: bool = False  # migrate --check


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting. SUPPRESS: a flag not given leaves the environment variable or default in charge,
    whether it comes before or after the sub-command."""
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        # A yes-or-no setting is on by its flag alone (`--metrics-open`), and takes a value too (`... false`).
        switch: dict[str, object] = {"nargs": "?", "const": "true"} if isinstance(default, bool) else {}
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=argparse.SUPPRESS,
            action="append" if isinstance(default, list) else "store",
            help=f"{field.description} Env: {ENV_PREFIX}{name.upper()}. Default: {default}.",
            **switch,  # type: ignore[arg-type]
        )


def parse_args(argv: list[str] | None = None) -> Command:
    """A flag wins over its MCP_LIVE_* environment variable, which wins over the default."""
    parser = argparse.ArgumentParser(
        prog="mcp-live" if sys.argv and sys.argv[0].endswith("mcp-live") else "python -m webapp",
        description="MCP Live: a dashboard for live MCP notifications. With no role, it runs everything in one "
        "process.",
    )
    add_setting_flags(parser)
    roles = parser.add_subparsers(dest="role", metavar="{web,worker,migrate}", title="roles (optional)")
    for name, text in ROLES.items():
        sub = roles.add_parser(name, help=text, description=text)
        add_setting_flags(sub)
        if name == "migrate":
            sub.add_argument("--check", action="store_true", help="Change nothing: exit 1 if migrations are pending.")
    given = vars(parser.parse_args(argv))
    role: Role = given.pop("role", None) or "all"
    check = bool(given.pop("check", False))
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
    if role in ("web", "worker") and not is_shared(settings.db):
        parser.error(
            f"`{role}` processes share their jobs with other processes through PostgreSQL: give --db "
            f"postgresql://... (not the SQLite file {settings.db!r}), or run `python -m webapp` with no role "
            "to have everything in one process."
        )
    if role in ("web", "worker") and settings.mcp_url is None and settings.config is None:
        # Each would start a demo server of its own, unasked: jobs started on one web process would run on
        # whichever demo server the worker that took them started (issue 17).
        parser.error(
            f"a `{role}` process needs the MCP servers it works with: give --mcp-url URL or --config FILE (the "
            "same to every web and worker process). Only the all-in-one process (no role) starts the bundled "
            "demo server by itself."
        )
    return Command(role, settings, check)


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
    operations.configure_logging(settings.log_level, settings.log_format)
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())  # request lines carry ?token= once
    if command.role == "migrate":
        sys.exit(migrate(settings.db, check=command.check))
    try:
        refuse_a_newer_schema(settings.db)
    except StoreUnavailable:
        pass  # the store is down: the process waits for it as it starts, and says so
    except SchemaTooNew as exc:
        sys.exit(f"MCP Live cannot start: {exc}")
    if command.role == "worker":
        anyio.run(worker.serve, settings)
        return
    settings, made_up = with_token_when_needed(settings)
    for line in welcome(settings, command.role, made_up):
        print(line, flush=True)
    serving.serve(create_app(settings, with_worker=command.role == "all"), settings)


def refuse_a_newer_schema(db: str) -> None:
    """Raise SchemaTooNew before anything starts, when a newer version has migrated the store."""
    found, known = schema_version(db), latest_schema(db)
    if found > known:
        raise SchemaTooNew(found, known)


def migrate(db: str, *, check: bool) -> int:
    """`migrate`: the exit status. With `check`: 0 when the schema is current, 1 when migrations are pending."""
    try:
        found, known = schema_version(db), latest_schema(db)
        if found > known:
            raise SchemaTooNew(found, known)
        if check:
            if found < known:
                print(
                    f"{known - found} migration(s) pending: the schema is at version {found}, this code's is {known}."
                )
                return 1
            print(f"The schema is current (version {found}).")
            return 0
        if found < known:
            anyio.run(_open_and_close, db)
            print(f"Migrated the schema from version {found} to {known}.")
        else:
            print(f"The schema is current (version {found}): nothing to do.")
        return 0
    except (SchemaTooNew, StoreUnavailable) as exc:
        print(f"MCP Live cannot migrate {redact(db)}: {exc}", file=sys.stderr)
        return 2


async def _open_and_close(db: str) -> None:
    async with open_store(db, Hub()):  # opening a store migrates it, under the store's own lock
        pass


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
