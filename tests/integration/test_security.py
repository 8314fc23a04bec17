"""Who gets in, and what a response tells the browser: headers, hosts, origins, the token, HTTPS."""

from __future__ import annotations

import re
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Dashboard, run_to_end, wait_until
from webapp.bundled import ChildServer
from webapp.security import CONTENT_SECURITY_POLICY

TOKEN = "s3cret-token-for-tests"
HTML = {"Accept": "text/html,application/xhtml+xml"}
# Every kind of route a token must guard: pages, fragments, the API, a stream, the schema.
GUARDED = [
    "/",
    "/jobs/nosuchjob",
    "/fragments/jobs",
    "/fragments/jobs/events",
    "/fragments/server",
    "/fragments/start-form",
    "/tools/arguments?tool=run_job",
    "/api/jobs",
    "/api/jobs/nosuchjob",
    "/api/jobs/nosuchjob/events",
    "/api/server",
    "/jobs/nosuchjob/events",
    "/openapi.json",
]


def test_every_response_carries_the_security_headers(client: httpx.Client) -> None:
    job = run_to_end(client, steps=1, delay=0)
    for path in ["/", f"/jobs/{job['id']}", "/api/jobs", f"/jobs/{job['id']}/events", "/static/app.js", "/nope"]:
        response = client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "'unsafe-eval'" not in CONTENT_SECURITY_POLICY


def test_the_api_schema_stays_and_no_documentation_page_pulls_scripts_from_a_cdn(client: httpx.Client) -> None:
    assert client.get("/openapi.json").json()["info"]["title"] == "MCP Live"
    assert client.get("/api/docs").status_code == 404
    assert client.get("/docs").status_code == 404


def test_a_dns_rebinding_request_and_cross_origin_writes_are_refused(client: httpx.Client) -> None:
    rebound = client.get("/api/jobs", headers={"Host": "evil.example"})
    assert rebound.status_code == 400
    job = {"tool": "run_job", "arguments": {"steps": 1, "delay": 0}}
    for origin in ["http://evil.example", "null", "http://evil.example.127.0.0.1.nip.io"]:
        response = client.post("/api/jobs", json=job, headers={"Origin": origin})
        assert response.status_code == 403, origin
        assert "Refused a POST from another origin" in response.json()["detail"]
    same = client.post("/api/jobs", json=job, headers={"Origin": f"http://127.0.0.1:{client.base_url.port}"})
    assert same.status_code == 201  # a script's JSON from the dashboard's own origin
    other_port = client.post("/api/jobs", json=job, headers={"Origin": "http://127.0.0.1"})
    assert other_port.status_code == 403  # port 80 is another origin of the same host


@pytest.fixture
def named_dashboard(mcp_server: ChildServer, tmp_path: Path) -> Iterator[Dashboard]:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=("--allowed-host", "dash.example"))
    yield app.start()
    app.stop()


def test_an_allowed_host_is_answered_and_may_write(named_dashboard: Dashboard) -> None:
    with named_dashboard.client() as client:
        headers = {
            "Host": f"dash.example:{named_dashboard.port}",
            "Origin": f"http://dash.example:{named_dashboard.port}",
        }
        assert client.get("/api/server", headers=headers).status_code == 200
        created = client.post(
            "/api/jobs", json={"tool": "run_job", "arguments": {"steps": 1, "delay": 0}}, headers=headers
        )
        assert created.status_code == 201
        assert client.get("/api/server", headers={"Host": "other.example"}).status_code == 400


@pytest.fixture
def token_dashboard(mcp_server: ChildServer, tmp_path: Path) -> Iterator[Dashboard]:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=("--token", TOKEN))
    yield app.start()
    app.stop()


@pytest.mark.parametrize("path", GUARDED)
def test_with_a_token_every_route_refuses_a_request_without_it(token_dashboard: Dashboard, path: str) -> None:
    with token_dashboard.client() as client:
        for headers in [{}, {"Authorization": "Bearer wrong"}, {"Cookie": "mcp_live_session=forged"}]:
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.json()["detail"].startswith("This dashboard needs its token")
            assert response.headers["www-authenticate"] == 'Bearer realm="MCP Live"'
        assert client.post("/api/jobs", json={"tool": "run_job"}).status_code == 401
        assert client.delete("/api/jobs/nosuchjob").status_code == 401


def test_with_a_token_a_person_gets_a_login_form_and_static_files_stay_open(token_dashboard: Dashboard) -> None:
    with token_dashboard.client() as client:
        page = client.get("/jobs/abc", headers=HTML)
        assert page.status_code == 401
        assert '<form method="post" action="/login"' in page.text
        assert 'name="next" value="/jobs/abc"' in page.text
        assert TOKEN not in page.text
        assert client.get("/static/app.css").status_code == 200


def test_the_login_url_sets_a_strict_cookie_and_takes_the_token_out_of_the_address(
    token_dashboard: Dashboard,
) -> None:
    with token_dashboard.client() as client:
        wrong = client.get("/?token=wrong", headers=HTML)
        assert wrong.status_code == 401 and "not this dashboard" in wrong.text
        response = client.get(f"/jobs/abc?token={TOKEN}&after=3", headers=HTML)
        assert response.status_code == 303
        assert response.headers["location"] == "/jobs/abc?after=3"
        cookie = response.headers["set-cookie"]
        assert re.search(r"mcp_live_session=\w+", cookie)
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # plain HTTP here
        assert TOKEN not in cookie  # the cookie is derived from the token, not the token
        assert client.get("/api/jobs").status_code == 200  # httpx keeps the cookie, as a browser would
        assert client.get("/", headers=HTML).status_code == 200


def test_the_login_form_sets_the_cookie_and_goes_where_the_person_was_going(token_dashboard: Dashboard) -> None:
    with token_dashboard.client() as client:
        refused = client.post("/login", data={"token": "wrong", "next": "/jobs/abc"})
        assert refused.status_code == 401
        for target, landing in [("/jobs/abc", "/jobs/abc"), ("https://evil.example/", "/"), ("//evil.example", "/")]:
            client.cookies.clear()
            response = client.post("/login", data={"token": TOKEN, "next": target})
            assert response.status_code == 303
            assert response.headers["location"] == landing
            assert client.get("/api/server").status_code == 200


def test_scripts_get_in_with_the_bearer_token(token_dashboard: Dashboard) -> None:
    with token_dashboard.client() as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        assert run_to_end(client, steps=2, delay=0)["state"] == "succeeded"
        assert client.get("/openapi.json").status_code == 200


def test_bound_beyond_loopback_without_a_token_it_makes_one_prints_its_url_and_lets_nobody_else_in(
    mcp_server: ChildServer, tmp_path: Path
) -> None:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=("--host", "0.0.0.0")).start()
    try:
        wait_until(lambda: "?token=" in app.output(), what="the login URL to be printed")
        found = re.search(r"MCP Live dashboard: http://127\.0\.0\.1:\d+/\?token=([\w-]+)", app.output())
        assert found is not None, app.output()
        token = found.group(1)
        with app.client() as client:
            assert client.get("/api/jobs").status_code == 401
            assert client.get("/api/jobs", headers={"Authorization": "Bearer guess"}).status_code == 401
            assert client.get(f"/?token={token}", headers=HTML).status_code == 303
            assert client.get("/api/jobs").status_code == 200
        # The token is printed once, in the login URL; the access log shows it starred out.
        assert app.output().count(token) == len(re.findall(r"MCP Live dashboard: ", app.output()))
        assert "token=***" in app.output()
    finally:
        app.stop()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_is_served_with_a_secure_cookie_and_said_in_the_printed_url(
    mcp_server: ChildServer, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    args = ("--ssl-certfile", str(cert), "--ssl-keyfile", str(key), "--token", TOKEN)
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=args).start()
    try:
        assert re.search(r"MCP Live dashboard: https://127\.0\.0\.1:\d+", app.output())
        trusted = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=f"https://127.0.0.1:{app.port}", verify=trusted, timeout=10) as client:
            response = client.get(f"/?token={TOKEN}", headers=HTML)
            assert response.status_code == 303
            assert "Secure" in response.headers["set-cookie"]
            assert client.get("/api/server").status_code == 200
    finally:
        app.stop()
