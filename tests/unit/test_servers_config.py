"""The config file: the mcpServers shape, ${VAR} from the environment, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webapp.mcp_link import HttpTarget, StdioTarget
from webapp.servers import ConfigError, load_config, parse_config

ENV = {"TOKEN": "s3cret-token", "ROOT": "/srv/tools"}


def test_url_sse_and_stdio_servers_in_the_files_order(tmp_path: Path) -> None:
    path = tmp_path / "servers.json"
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "demo": {"url": "http://127.0.0.1:8001/mcp"},
                    "old": {"url": "http://127.0.0.1:8002/sse"},
                    "local": {"command": "python", "args": ["-m", "webapp.demo_server"], "env": {"X": "1"}},
                }
            }
        )
    )
    demo, old, local = load_config(path, "legacy", environ={})
    assert isinstance(demo, HttpTarget) and isinstance(old, HttpTarget) and isinstance(local, StdioTarget)
    assert [t.name for t in (demo, old, local)] == ["demo", "old", "local"]
    assert [t.transport_name for t in (demo, old, local)] == ["streamable-http", "sse", "stdio"]
    assert demo.protocol == old.protocol == local.protocol == "legacy"
    assert (local.command, local.args, dict(local.env)) == ("python", ("-m", "webapp.demo_server"), {"X": "1"})
    assert local.where == "python -m webapp.demo_server"


def test_an_explicit_transport_wins_over_the_urls_ending() -> None:
    config = {
        "mcpServers": {
            "a": {"url": "http://h/events", "transport": "sse"},
            "b": {"url": "http://h/sse", "type": "http"},
        }
    }
    a, b = parse_config(config, "auto", {})
    assert (a.transport_name, b.transport_name) == ("sse", "streamable-http")
    assert b.protocol == "auto"


def test_variables_come_from_the_environment_and_are_never_shown() -> None:
    config = {
        "mcpServers": {
            "remote": {"url": "https://h.example/mcp?key=${TOKEN}", "headers": {"Authorization": "Bearer ${TOKEN}"}},
            "local": {"command": "${ROOT}/server", "args": ["--key", "${TOKEN}"], "env": {"API_KEY": "${TOKEN}"}},
        }
    }
    remote, local = parse_config(config, "auto", ENV)
    assert isinstance(remote, HttpTarget) and isinstance(local, StdioTarget)
    assert remote.url == "https://h.example/mcp?key=s3cret-token"
    assert dict(remote.headers) == {"Authorization": "Bearer s3cret-token"}
    assert (local.command, local.args, dict(local.env)) == (
        "/srv/tools/server",
        ("--key", "s3cret-token"),
        {"API_KEY": "s3cret-token"},
    )
    # Shown as written: the variable's name, not its value.
    assert remote.where == "https://h.example/mcp?key=${TOKEN}"
    assert local.where == "'${ROOT}/server' --key '${TOKEN}'"
    assert "s3cret-token" in remote.secrets and "s3cret-token" in local.secrets


def test_a_password_in_a_url_is_not_shown() -> None:
    (target,) = parse_config({"mcpServers": {"a": {"url": "http://user:pw@h.example/mcp"}}}, "auto", {})
    assert target.where == "http://user:***@h.example/mcp"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "names no server"),
        ({"mcpServers": {}}, "names no server"),
        ({"mcpServers": []}, "names no server"),
        ({"mcpServers": {"a": "http://h/mcp"}}, "server 'a': expected an object with a url or a command"),
        ({"mcpServers": {"a": {}}}, "give either a url"),
        ({"mcpServers": {"a": {"url": "http://h/mcp", "command": "x"}}}, "not both"),
        ({"mcpServers": {"a b": {"url": "http://h/mcp"}}}, "a name is 1 to 64 letters"),
        ({"mcpServers": {"a": {"url": "ftp://h/mcp"}}}, "url must start with http:// or https://"),
        ({"mcpServers": {"a": {"url": "http://h/mcp", "transport": "websocket"}}}, "transport must be"),
        ({"mcpServers": {"a": {"url": "http://h/mcp", "headers": ["x"]}}}, "headers must be an object"),
        ({"mcpServers": {"a": {"command": "x", "args": "-v"}}}, "args must be a list"),
        ({"mcpServers": {"a": {"command": "x", "args": [1]}}}, r"args\[0\] must be a string"),
        ({"mcpServers": {"a": {"command": "x", "protocol": "2024"}}}, "protocol must be auto or legacy"),
        ({"mcpServers": {"a": {"url": "http://h/${MISSING}"}}}, r"url takes \$\{MISSING\}, which is not set"),
    ],
)
def test_a_config_that_cannot_be_used_says_where_and_why(config: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(config, "auto", ENV)


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "nowhere.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"mcpServers": {')
    with pytest.raises(ConfigError, match="is not valid JSON"):
        load_config(broken)
