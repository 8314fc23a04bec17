from __future__ import annotations

from pathlib import Path

import pytest

from webapp.__main__ import parse_args
from webapp.settings import ENV_PREFIX, Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_defaults_serve_loopback_port_8000_with_the_bundled_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(ENV_PREFIX + name.upper(), raising=False)
    settings = parse_args([])
    assert (settings.host, settings.port, settings.mcp_url, settings.max_lines) == ("127.0.0.1", 8000, None, 2000)


def test_a_flag_wins_over_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_LIVE_PORT", "9001")
    monkeypatch.setenv("MCP_LIVE_DB", "/tmp/from-env.sqlite3")
    settings = parse_args(["--db", "/tmp/from-flag.sqlite3", "--mcp-url", "http://127.0.0.1:1/mcp"])
    assert settings.port == 9001
    assert settings.db == Path("/tmp/from-flag.sqlite3")
    assert settings.mcp_url == "http://127.0.0.1:1/mcp"


def test_a_bad_value_is_refused_with_the_setting_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="port"):
        parse_args(["--port", "eighty"])


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_has_help_and_is_documented_in_the_readme(name: str) -> None:
    assert Settings.model_fields[name].description
    assert f"--{name.replace('_', '-')}" in README
    assert f"{ENV_PREFIX}{name.upper()}" in README


def test_an_empty_mcp_url_means_the_bundled_server() -> None:
    assert parse_args(["--mcp-url", ""]).mcp_url is None
