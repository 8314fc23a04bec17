"""`python -m webapp` as a user runs it: the bundled server, an unreachable server, a clean stop."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.helpers import Dashboard, run_to_end
from webapp.bundled import free_port


def test_without_mcp_url_it_starts_the_bundled_server_and_stops_it_on_exit(db_path: Path) -> None:
    app = Dashboard(db_path, mcp_url=None).start()
    try:
        with app.client() as client:
            server = client.get("/api/server").json()
            assert server["state"] == "connected"
            assert server["name"] == "mcp-live-demo"
            assert server["url"].startswith("http://127.0.0.1:")
            assert run_to_end(client, steps=3, delay=0)["state"] == "succeeded"
    finally:
        app.stop()
    port = int(server["url"].split(":")[2].split("/")[0])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_an_unreachable_server_is_said_plainly_and_nothing_crashes(db_path: Path) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}/mcp"
    app = Dashboard(db_path, mcp_url=dead_url).start()
    try:
        with app.client() as client:
            server = client.get("/api/server").json()
            assert server["state"] == "unreachable"
            assert f"cannot reach the MCP server at {dead_url}" in server["error"]

            response = client.post("/api/jobs", json={"tool": "run_job", "arguments": {}})
            assert response.status_code == 503
            assert f"The MCP server default ({dead_url}) has not been reached yet" in response.json()["detail"]

            page = client.get("/")
            assert page.status_code == 200
            assert "MCP server unreachable" in page.text
            assert 'data-server-state="unreachable"' in page.text

            form = client.post("/jobs", data={"tool": "run_job", "arguments": "{}"})
            assert form.status_code == 503
            assert "has not been reached yet" in form.text
        assert app.process is not None and app.process.poll() is None
    finally:
        app.stop()
