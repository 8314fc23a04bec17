"""Several servers from a config file: listed, chosen per job, and their secrets kept out of sight."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import SHARED
from tests.helpers import Dashboard, follow
from webapp.bundled import ChildServer

SECRET = "s3cret-8c1f-not-for-anyone"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, mcp_server: ChildServer) -> Iterator[Dashboard]:
    folder = tmp_path_factory.mktemp("servers")
    base = mcp_server.url.removesuffix("/mcp")
    config = folder / "servers.json"
    servers = {
        "demo": {"url": f"{base}/mcp", "headers": {"Authorization": "Bearer ${DEMO_TOKEN}"}},
        "old": {"url": f"{base}/sse?key=${{DEMO_TOKEN}}"},
        "local": {
            "command": sys.executable,
            "args": ["-m", "webapp.demo_server", "--transport", "stdio"],
            "env": {"API_KEY": "${DEMO_TOKEN}"},
        },
    }
    config.write_text(json.dumps({"mcpServers": servers}))
    args = ("--config", str(config), *SHARED)
    app = Dashboard(folder / "jobs.sqlite3", mcp_url=None, args=args, env={"DEMO_TOKEN": SECRET}).start()
    yield app
    app.stop()


@pytest.fixture
def client(dashboard: Dashboard) -> Iterator[httpx.Client]:
    with dashboard.client() as client:
        yield client


def test_every_server_is_listed_in_the_configs_order_with_what_it_says(client: httpx.Client) -> None:
    servers = client.post("/api/servers/refresh").json()
    assert [(s["server"], s["transport"], s["state"]) for s in servers] == [
        ("demo", "streamable-http", "connected"),
        ("old", "sse", "connected"),
        ("local", "stdio", "connected"),
    ]
    for server in servers:
        assert (server["name"], server["version"]) == ("mcp-live-demo", "1.0.0")
        assert "run_job" in {tool["name"] for tool in server["tools"]}
        assert server["capabilities"]["tools"] == {"listChanged": True}
    assert servers[1]["url"].endswith("/sse?key=${DEMO_TOKEN}")  # as written: the variable, not its value
    assert servers[2]["command"].endswith("-m webapp.demo_server --transport stdio")
    assert client.get("/api/server").json()["server"] == "demo"  # the first one
    assert client.get("/api/servers/local").json()["transport"] == "stdio"
    assert client.get("/api/servers/elsewhere").status_code == 404


def test_a_job_on_each_server(client: httpx.Client) -> None:
    jobs = {}
    for name in ("demo", "old", "local"):
        response = client.post(
            "/api/jobs", json={"server": name, "tool": "run_job", "arguments": {"steps": 3, "delay": 0}}
        )
        assert response.status_code == 201, response.text
        jobs[name] = response.json()["id"]
    for name, job_id in jobs.items():
        follow(client, job_id)
        job = client.get(f"/api/jobs/{job_id}").json()
        assert (job["server"], job["state"], job["progress"], job["total"]) == (name, "succeeded", 3, 3)
    rerun = client.post(f"/api/jobs/{jobs['old']}/rerun")
    assert rerun.status_code == 201 and rerun.json()["server"] == "old"


def test_the_server_must_be_named_when_there_are_several(client: httpx.Client) -> None:
    response = client.post("/api/jobs", json={"tool": "run_job"})
    assert response.status_code == 422
    assert response.json()["detail"] == "Choose a server: this dashboard has several (demo, old, local)."
    response = client.post("/api/jobs", json={"server": "elsewhere", "tool": "run_job"})
    assert response.status_code == 422
    assert "No server named 'elsewhere'" in response.json()["detail"]


def test_the_pages_show_every_server_and_no_secret(client: httpx.Client, dashboard: Dashboard) -> None:
    home = client.get("/").text
    assert '<select id="server" name="server"' in home
    for name in ("demo", "old", "local"):
        assert f'data-server="{name}"' in home
        page = client.get(f"/servers/{name}")
        assert page.status_code == 200 and f"Server <code>{name}</code>" in page.text
        assert SECRET not in page.text
    form = client.get("/fragments/start-form", params={"server": "local"}).text
    assert '<option value="local" selected' in form
    for text in (home, client.get("/api/servers").text, dashboard.output()):
        assert SECRET not in text


def test_the_form_starts_a_job_on_the_chosen_server(client: httpx.Client) -> None:
    home = client.get("/", headers={"Accept": "text/html"}).text  # a page: its session and CSRF token
    token = re.search(r'name="csrf_token" value="([^"]+)"', home)
    assert token is not None
    form = {"server": "local", "tool": "run_job", "arguments": '{"steps": 2, "delay": 0}', "log_level": "debug"}
    form["csrf_token"] = token.group(1)
    response = client.post("/jobs", data=form, headers={"Origin": str(client.base_url).rstrip("/")})
    assert response.status_code == 303
    job_id = response.headers["location"].removeprefix("/jobs/")
    page = client.get(f"/jobs/{job_id}").text
    assert 'data-server="local"' in page
    edit = client.get("/", params={"from": job_id}).text
    assert '<option value="local" selected' in edit
