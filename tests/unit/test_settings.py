from __future__ import annotations

from pathlib import Path

import pytest

from webapp.__main__ import parse_args
from webapp.settings import ENV_PREFIX, Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
PG = "postgresql://postgres@127.0.0.1:5432/jobs"
URL = "http://127.0.0.1:8001/mcp"


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(ENV_PREFIX + name.upper(), raising=False)


def test_defaults_run_everything_on_loopback_port_8000_with_the_bundled_server_and_sqlite() -> None:
    command = parse_args([])
    settings = command.settings
    assert command.role == "all"
    assert (settings.host, settings.port, settings.mcp_url, settings.max_lines) == ("127.0.0.1", 8000, None, 2000)
    assert settings.db == "data/mcp-live.sqlite3"


def test_a_flag_wins_over_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_LIVE_PORT", "9001")
    monkeypatch.setenv("MCP_LIVE_DB", "/tmp/from-env.sqlite3")
    settings = parse_args(["--db", "/tmp/from-flag.sqlite3", "--mcp-url", "http://127.0.0.1:1/mcp"]).settings
    assert settings.port == 9001
    assert settings.db == "/tmp/from-flag.sqlite3"
    assert settings.mcp_url == "http://127.0.0.1:1/mcp"


@pytest.mark.parametrize("role", ["web", "worker"])
def test_every_flag_works_with_a_role_before_or_after_it(role: str) -> None:
    after = parse_args([role, "--db", PG, "--max-jobs", "3", "--port", "8100", "--mcp-url", URL])
    before = parse_args(["--db", PG, "--max-jobs", "3", role, "--port", "8100", "--mcp-url", URL])
    for command in (after, before):
        assert command.role == role
        assert (command.settings.db, command.settings.max_jobs, command.settings.port) == (PG, 3, 8100)


@pytest.mark.parametrize("role", ["web", "worker"])
def test_a_role_on_sqlite_is_refused_with_what_to_do_instead(role: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args([role])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "--db postgresql://" in error and "python -m webapp` with no role" in error


def test_a_bad_value_is_refused_with_its_flag_and_variable_named_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MCP_LIVE_MAX_EVENTS", "-3")
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--port", "eighty"])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "--port (or MCP_LIVE_PORT): Input should be a valid integer" in error and "not 'eighty'" in error
    assert "--max-events (or MCP_LIVE_MAX_EVENTS): Input should be greater than or equal to 1, not '-3'" in error
    assert "Traceback" not in error


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_has_help_and_is_documented_in_the_readme(name: str) -> None:
    assert Settings.model_fields[name].description
    assert f"--{name.replace('_', '-')}" in README
    assert f"{ENV_PREFIX}{name.upper()}" in README


@pytest.mark.parametrize("role", ["web", "worker"])
def test_a_role_without_mcp_url_or_config_refuses_to_start_a_demo_server_of_its_own(
    role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_args([role, "--db", PG])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "--mcp-url URL or --config FILE" in error and "Traceback" not in error


def test_the_all_in_one_process_keeps_its_bundled_demo_server() -> None:
    assert parse_args(["--db", PG]).settings.mcp_url is None


def test_a_yes_or_no_setting_is_on_by_its_flag_alone_and_takes_a_value_too() -> None:
    assert parse_args(["--metrics-open"]).settings.metrics_open is True
    assert parse_args(["--metrics-open", "false"]).settings.metrics_open is False
    assert parse_args([]).settings.metrics_open is False


def test_migrate_takes_check_and_needs_no_mcp_server() -> None:
    command = parse_args(["migrate", "--check", "--db", PG])
    assert (command.role, command.check) == ("migrate", True)


def test_an_empty_mcp_url_means_the_bundled_server() -> None:
    assert parse_args(["--mcp-url", ""]).settings.mcp_url is None
