"""Which MCP servers the dashboard talks to: a config file in the `mcpServers` shape other MCP clients use,
one --mcp-url (named `default`), or the bundled demo server (named `demo`).

A config file may take values from the environment, as `${VAR}`, so that secrets stay out of it. What is
taken so is a secret: it is never shown (addresses are shown as written, headers and env by name only) and
is scrubbed from error messages and stderr lines.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from webapp.events import LEVELS
from webapp.mcp_link import HttpTarget, HttpTransport, ProtocolMode, StdioTarget, Target
from webapp.oauth import PreRegistered

log = logging.getLogger(__name__)
BUNDLED = "demo"  # the bundled server's name
SINGLE = "default"  # the name of the one server given by --mcp-url
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # a server's name goes into URLs: /servers/NAME
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Other clients spell the transport in several ways; `type` is VS Code's key, `transport` ours.
TRANSPORTS: dict[str, HttpTransport] = {
    "streamable-http": "streamable-http",
    "streamablehttp": "streamable-http",
    "http": "streamable-http",
    "sse": "sse",
}
KNOWN_KEYS = {"url", "transport", "type", "headers", "command", "args", "env", "cwd", "protocol", "log_level", "oauth"}


class ConfigError(ValueError):
    """The config file cannot be used; the message says where and why."""


def load_config(path: Path, protocol: ProtocolMode = "auto", environ: Mapping[str, str] | None = None) -> list[Target]:
    """The servers of the config file at `path`, in its order."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"the config file {path} is not valid JSON: {exc}") from None
    return parse_config(data, protocol, os.environ if environ is None else environ, source=str(path))


def parse_config(
    data: Any, protocol: ProtocolMode, environ: Mapping[str, str], *, source: str = "the config"
) -> list[Target]:
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict) or not servers:
        raise ConfigError(f'{source} names no server: it needs {{"mcpServers": {{"NAME": {{"url": ...}}, ...}}}}')
    return [_target(name, entry, protocol, environ, f"{source}: server {name!r}") for name, entry in servers.items()]


def _target(name: str, entry: Any, protocol: ProtocolMode, environ: Mapping[str, str], where: str) -> Target:
    if not NAME.fullmatch(name):
        raise ConfigError(f"{where}: a name is 1 to 64 letters, digits, '.', '_' or '-', from a letter or digit")
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected an object with a url or a command")
    if ("url" in entry) == ("command" in entry):
        raise ConfigError(f"{where}: give either a url (an HTTP server) or a command (a stdio server), not both")
    unused = sorted(set(entry) - KNOWN_KEYS)
    if unused:
        log.warning("%s: ignoring %s (not a setting of this dashboard)", where, ", ".join(unused))
    secrets: list[str] = []

    def expand(value: Any, what: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {what} must be a string")

        def take(match: re.Match[str]) -> str:
            variable = match.group(1)
            if variable not in environ:
                raise ConfigError(f"{where}: {what} takes ${{{variable}}}, which is not set in the environment")
            if environ[variable]:
                secrets.append(environ[variable])
            return environ[variable]

        return VARIABLE.sub(take, value)

    def expand_all(value: Any, what: str) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {what} must be an object of names and strings")
        return {str(key): expand(item, f"{what}.{key}") for key, item in value.items()}

    mode = entry.get("protocol", protocol)
    if mode not in ("auto", "legacy"):
        raise ConfigError(f"{where}: protocol must be auto or legacy, not {mode!r}")
    level = entry.get("log_level", "debug")
    if level not in LEVELS:
        raise ConfigError(f"{where}: log_level must be one of {', '.join(LEVELS)}, not {level!r}")
    if "url" in entry:
        raw_url = entry["url"]
        url = expand(raw_url, "url")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: url must start with http:// or https://")
        spelled = entry.get("transport", entry.get("type"))
        transport = None if spelled is None else TRANSPORTS.get(str(spelled).lower())
        if spelled is not None and transport is None:
            raise ConfigError(f"{where}: transport must be streamable-http or sse, not {spelled!r}")
        headers = expand_all(entry.get("headers"), "headers")
        oauth = _pre_registered(entry.get("oauth"), expand, where)
        return HttpTarget(
            url,
            mode,
            name=name,
            transport=transport,
            headers=headers,
            shown=raw_url,
            secrets=_longest_first(secrets),
            log_level=level,
            oauth=oauth,
        )
    if "oauth" in entry:
        raise ConfigError(f"{where}: oauth is for URL servers (a stdio server takes its secrets from env)")
    command = expand(entry["command"], "command")
    raw_args = entry.get("args", [])
    if not isinstance(raw_args, list):
        raise ConfigError(f"{where}: args must be a list of strings")
    args = tuple(expand(arg, f"args[{i}]") for i, arg in enumerate(raw_args))
    env = expand_all(entry.get("env"), "env")
    cwd = None if entry.get("cwd") is None else expand(entry["cwd"], "cwd")
    return StdioTarget(
        command,
        args,
        mode,
        name=name,
        env=env,
        cwd=cwd,
        shown=shlex.join([entry["command"], *map(str, raw_args)]),
        secrets=_longest_first(secrets),
        log_level=level,
    )


def _pre_registered(value: Any, expand: Callable[[Any, str], str], where: str) -> PreRegistered | None:
    """The config's "oauth": a client registered beforehand with the server's authorization server."""
    if value is None:
        return None
    if not isinstance(value, dict) or "client_id" not in value:
        raise ConfigError(f"{where}: oauth must be an object with a client_id (and a client_secret, scopes)")
    unknown = sorted(set(value) - {"client_id", "client_secret", "scopes"})
    if unknown:
        raise ConfigError(f"{where}: oauth takes client_id, client_secret and scopes, not {', '.join(unknown)}")
    secret = value.get("client_secret")
    scopes = value.get("scopes", [])
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        raise ConfigError(f"{where}: oauth.scopes must be a list of strings")
    return PreRegistered(
        expand(value["client_id"], "oauth.client_id"),
        None if secret is None else expand(secret, "oauth.client_secret"),
        tuple(scopes),
    )


def _longest_first(secrets: list[str]) -> tuple[str, ...]:
    # A secret that contains another is scrubbed whole.
    return tuple(sorted(set(secrets), key=len, reverse=True))
