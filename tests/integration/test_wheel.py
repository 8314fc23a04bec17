"""Installed from a wheel, away from the checkout, MCP Live works (issue 17: the wheel held `webapp/` only, and the
app stopped at start for want of its static files). An editable install hides this; only a real wheel shows it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Dashboard, run_to_end
from webapp.bundled import ChildServer

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed() -> Iterator[Path]:
    """A fresh virtualenv outside the checkout with MCP Live installed from a wheel built from it: its bin/."""
    with tempfile.TemporaryDirectory(prefix="mcp-live-wheel-") as tmp:
        base = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", base / "dist", CHECKOUT],
            check=True,
            capture_output=True,
            timeout=300,
        )
        wheels = list((base / "dist").glob("mcp_live-*.whl"))
        assert len(wheels) == 1, wheels
        venv.create(base / "venv", with_pip=True)
        bin_dir = base / "venv" / "bin"
        subprocess.run(
            [bin_dir / "python", "-m", "pip", "install", "--quiet", wheels[0]],
            check=True,
            capture_output=True,
            timeout=600,
            cwd=base,
        )
        yield bin_dir


def outside(bin_dir: Path) -> dict[str, str]:
    """The environment of a user of the installed copy: no MCP_LIVE_* settings, no path back to the checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_LIVE_", "PYTHON", "VIRTUAL_ENV"))}
    return env | {"PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}


@pytest.mark.timeout(900)
def test_the_wheel_in_a_fresh_venv_serves_the_page_and_its_static_files_and_runs_a_job(
    installed: Path, mcp_server: ChildServer, tmp_path: Path
) -> None:
    where = subprocess.run(
        [installed / "python", "-c", "import webapp; print(webapp.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=outside(installed),
    ).stdout
    assert str(CHECKOUT) not in where and "site-packages" in where
    db = tmp_path / "jobs.sqlite3"
    app = Dashboard(
        db, mcp_url=mcp_server.url, command=[str(installed / "mcp-live")], cwd=tmp_path, env=outside(installed)
    ).start()
    try:
        with app.client() as client:
            page = client.get("/")
            assert page.status_code == 200 and "MCP Live" in page.text
            for asset in ("/static/app.css", "/static/htmx-4.0.1.min.js", "/static/hx-sse-4.0.1.js"):
                assert client.get(asset).status_code == 200, asset
            job = run_to_end(client, steps=5, delay=0)
            assert (job["state"], job["events"]) == ("succeeded", 10)
    finally:
        app.stop()


def test_the_installed_console_script_migrates_and_checks_the_schema(installed: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.sqlite3")

    def mcp_live(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(installed / "mcp-live"), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path, env=outside(installed))

    assert mcp_live("migrate", "--check", "--db", db).returncode == 1
    assert mcp_live("migrate", "--db", db).returncode == 0
    assert mcp_live("migrate", "--check", "--db", db).returncode == 0
    help_text = mcp_live("--help").stdout
    assert help_text.startswith("usage: mcp-live") and "--drain-timeout" in help_text
