"""Regressions of what a red team found (issue 21), each reproduced against the real dashboard first.

Named after what broke: a write from another port of the same host, slow clients that starved the server, a GET
that started processes, unbounded bodies, forged client addresses, a stale token in a link, oversized form fields,
an unbounded logger filter, control characters in the text export, floods outside jobs, unthrottled logins.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import resource
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SHARED
from tests.helpers import Dashboard, all_events, follow, run_to_end, wait_until
from tests.integration.test_exactly_once import write_locked
from webapp.bundled import ChildServer

TOKEN = "red-team-token-0123456789"
HTML = {"Accept": "text/html,application/xhtml+xml"}
JOB = {"tool": "run_job", "arguments": {"steps": 1, "delay": 0}}


def csrf_of(page: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert found is not None, page[:500]
    return found.group(1)


def job_count(client: httpx.Client) -> int:
    return len(client.get("/api/jobs", params={"limit": 1000}).json())


# ---- 1. A write from another port of the same host ----------------------------------------------------------


def test_regression_a_write_from_another_port_of_the_same_host_is_refused(client: httpx.Client) -> None:
    port = client.base_url.port or 80
    running = client.post("/api/jobs", json={"tool": "run_job", "arguments": {"steps": 200, "delay": 0.05}}).json()
    before = job_count(client)
    for origin in [f"http://localhost:{port + 1}", f"http://127.0.0.1:{port + 10}", f"https://127.0.0.1:{port}"]:
        started = client.post("/api/jobs", json=JOB, headers={"Origin": origin})
        assert started.status_code == 403, origin
        assert "another origin" in started.json()["detail"]
        cancel = client.post(f"/api/jobs/{running['id']}/cancel", headers={"Origin": origin})
        assert cancel.status_code == 403, origin
    form = {"tool": "run_job", "arguments": "{}"}
    # A browser says where a request comes from in Fetch Metadata, too: a page of the same site but another origin.
    same_site = client.post("/jobs", data=form, headers={"Sec-Fetch-Site": "same-site"})
    assert same_site.status_code == 403 and "another site or origin (same-site)" in same_site.json()["detail"]
    assert job_count(client) == before
    assert client.get(f"/api/jobs/{running['id']}").json()["state"] == "running"
    token = csrf_of(client.get("/", headers=HTML).text)
    own = {"Origin": f"http://127.0.0.1:{port}", "X-CSRF-Token": token}
    assert client.post(f"/api/jobs/{running['id']}/cancel", headers=own).status_code == 202  # port and all


def test_a_form_from_a_browser_needs_the_pages_csrf_token(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        origin = {"Origin": dashboard.url, "Sec-Fetch-Site": "same-origin"}
        page = client.get("/", headers=HTML)
        assert "mcp_live_session=" in page.headers["set-cookie"]  # a session, for its CSRF token
        token = csrf_of(page.text)
        assert f'name="csrf_token" value="{token}"' in page.text  # the start form carries it
        form = {"tool": "run_job", "arguments": '{"steps": 1, "delay": 0}'}
        before = job_count(client)
        for wrong in [{}, {"csrf_token": "forged"}]:
            refused = client.post("/jobs", data=form | wrong, headers=origin)
            assert refused.status_code == 403
            assert "reload the page" in refused.json()["detail"]
        assert job_count(client) == before
        started = client.post("/jobs", data=form | {"csrf_token": token}, headers=origin)
        assert started.status_code == 303
        job_id = started.headers["location"].removeprefix("/jobs/")
        follow(client, job_id)
        # htmx requests carry it as a header (static/app.js); a token of another session does not do.
        assert client.post(f"/jobs/{job_id}/rerun", headers=origin | {"X-CSRF-Token": token}).status_code == 303
        with dashboard.client() as stranger:
            stranger.get("/", headers=HTML)
            assert stranger.post(f"/jobs/{job_id}/rerun", headers=origin | {"X-CSRF-Token": token}).status_code == 403
        # Scripts that send no Origin, no Fetch Metadata and no cookie are no browser: they need no CSRF token.
        with httpx.Client(base_url=dashboard.url, timeout=10) as script:
            assert script.post(f"/jobs/{job_id}/rerun").status_code == 303


# ---- 2. Slow clients ------------------------------------------------------------------------------------------


@pytest.fixture
def few_files_dashboard(mcp_server: ChildServer, tmp_path: Path) -> Iterator[Dashboard]:
    """A dashboard started with the common soft limit of 1,024 open files, and a header timeout of 5 s."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.fail(f"this test needs a hard limit of open files above 2,048 (here {hard}): raise it")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))  # the child inherits it
    try:
        app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=("--header-timeout", "5")).start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    yield app
    app.stop()


def test_regression_1100_half_sent_requests_neither_starve_the_server_nor_stay_open(
    few_files_dashboard: Dashboard,
) -> None:
    app = few_files_dashboard
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))  # this test opens 1,100 itself
    slow: list[socket.socket] = []
    try:
        for _ in range(1100):
            conn = socket.create_connection(("127.0.0.1", app.port), timeout=10)
            conn.sendall(b"GET /api/server HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # and never the rest
            slow.append(conn)
        with app.client() as client:
            assert client.get("/api/server").status_code == 200  # a person's request is still answered
        # Past the header timeout each slow connection is closed by the dashboard: a read sees its end.
        for conn in slow[:20] + slow[-20:]:
            assert conn.recv(1024) == b""
    finally:
        for conn in slow:
            conn.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert "Too many open files" not in app.output()


# ---- 3. A refresh is a POST, merged and rate-limited ----------------------------------------------------------


@pytest.fixture
def counted_stdio_dashboard(tmp_path: Path) -> Iterator[tuple[Dashboard, Path]]:
    """A dashboard whose one server is a stdio one that writes a line to a file each time it is started."""
    starts = tmp_path / "starts.txt"
    command = f'echo started >> "{starts}"; exec "{sys.executable}" -m webapp.demo_server --transport stdio'
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"local": {"command": "sh", "args": ["-c", command]}}}))
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=None, args=("--config", str(config), *SHARED)).start()
    yield app, starts
    app.stop()


def test_regression_a_get_starts_no_process_and_40_refreshes_at_once_start_at_most_one(
    counted_stdio_dashboard: tuple[Dashboard, Path],
) -> None:
    app, starts = counted_stdio_dashboard
    with app.client() as client:
        wait_until(lambda: client.get("/api/servers/local").json()["state"] == "connected", what="the first probe")
        before = starts.read_text().count("started")
        for path in ["/api/servers/local?refresh=true", "/api/servers?refresh=true", "/api/server?refresh=true"]:
            refused = client.get(path)
            assert refused.status_code == 400
            assert "POST /api/servers/" in refused.json()["detail"]
    with httpx.Client(base_url=app.url, timeout=30) as client, concurrent.futures.ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lambda _: client.post("/api/servers/local/refresh"), range(40)))
    assert {answer.status_code for answer in answers} == {200}
    assert starts.read_text().count("started") - before <= 1


# ---- 4. Bodies and forms of any size --------------------------------------------------------------------------


def test_regression_a_body_over_the_limit_is_refused_before_it_is_read(client: httpx.Client) -> None:
    before = job_count(client)
    huge = {"tool": "run_job", "arguments": {"blob": "x" * (2 * 1024 * 1024)}}
    response = client.post("/api/jobs", json=huge)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The request's body is 2.0 MiB: this dashboard takes at most 1.0 MiB")
    chunked = client.post("/api/jobs", content=iter([b"{" + b" " * 600_000, b" " * 600_000 + b"}"]))
    assert chunked.status_code == 413  # no Content-Length to go by: counted as it comes
    assert job_count(client) == before


# ---- 5. X-Forwarded-For from anyone --------------------------------------------------------------------------


@pytest.mark.parametrize("trusted", [False, True])
def test_regression_forwarded_addresses_count_only_from_a_trusted_proxy(
    mcp_server: ChildServer, tmp_path: Path, trusted: bool
) -> None:
    args = ("--max-starts-per-minute", "3", *(("--trusted-proxy", "127.0.0.1") if trusted else ()))
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=args).start()
    try:
        with app.client() as client:
            codes = [
                client.post("/api/jobs", json=JOB, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(1, 6)
            ]
        assert codes == ([201] * 5 if trusted else [201, 201, 201, 429, 429])
        logged = "203.0.113.4" in app.output()
        assert logged == trusted  # the access log names the forwarded client only when the proxy is believed
    finally:
        app.stop()


# ---- 6, 7, 11, 12. The token, sessions and logins ------------------------------------------------------------


@pytest.fixture
def token_dashboard(mcp_server: ChildServer, tmp_path: Path) -> Iterator[Dashboard]:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=("--token", TOKEN)).start()
    yield app
    app.stop()


def test_regression_a_stale_token_in_a_link_loses_to_a_valid_session_or_bearer(token_dashboard: Dashboard) -> None:
    with token_dashboard.client() as client:
        assert client.get(f"/?token={TOKEN}", headers=HTML).status_code == 303
        stale = client.get("/jobs/abc?token=stale-and-wrong&after=3", headers=HTML)
        assert stale.status_code == 303 and stale.headers["location"] == "/jobs/abc?after=3"
    with token_dashboard.client() as script:
        script.headers["Authorization"] = f"Bearer {TOKEN}"
        assert script.get("/api/jobs?token=stale-and-wrong").status_code == 200
    with token_dashboard.client() as person:
        page = person.get("/jobs/abc?token=stale-and-wrong", headers=HTML)
        assert page.status_code == 401
        assert 'name="next" value="/jobs/abc"' in page.text  # the login form does not send them back to it


def test_regression_a_login_field_over_a_megabyte_is_a_413_with_no_traceback(token_dashboard: Dashboard) -> None:
    with token_dashboard.client() as client:
        response = client.post("/login", data={"token": "x" * (1024 * 1024 + 1), "next": "/"})
        assert response.status_code == 413
    assert "Traceback" not in token_dashboard.output()


def test_regression_wrong_tokens_are_slowed_per_address(token_dashboard: Dashboard) -> None:
    with token_dashboard.client() as client:
        codes = [client.post("/login", data={"token": f"guess-{n}", "next": "/"}).status_code for n in range(5)]
        assert codes == [401] * 5
        slowed = client.post("/login", data={"token": TOKEN, "next": "/"})  # even the right one, for now
        assert slowed.status_code == 429 and 0 < int(slowed.headers["retry-after"]) <= 60
        assert client.get("/api/jobs", headers={"Authorization": "Bearer guess"}).status_code == 429
        assert client.get(f"/?token={TOKEN}", headers=HTML).status_code == 429


def test_a_token_shorter_than_16_characters_is_refused_at_start(mcp_server: ChildServer, tmp_path: Path) -> None:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=("--token", "a"))
    with pytest.raises(RuntimeError, match="at least 16 characters"):
        app.start()


def test_a_session_ends_at_log_out(token_dashboard: Dashboard) -> None:
    with token_dashboard.client() as client:
        assert client.get(f"/?token={TOKEN}", headers=HTML).status_code == 303
        page = client.get("/", headers=HTML)
        assert 'action="/logout"' in page.text
        origin = {"Origin": token_dashboard.url}
        assert client.post("/logout", headers=origin).status_code == 403  # a write like any: its CSRF token
        out = client.post("/logout", data={"csrf_token": csrf_of(page.text)}, headers=origin)
        assert out.status_code == 303
        assert 'mcp_live_session=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
        assert client.get("/api/jobs").status_code == 401


def stream_status(client: httpx.Client, path: str) -> int:
    with client.stream("GET", path) as response:
        return response.status_code


def test_a_client_holds_at_most_so_many_live_streams(mcp_server: ChildServer, tmp_path: Path) -> None:
    args = ("--max-streams-per-client", "2")
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=mcp_server.url, args=args).start()
    try:
        with app.client() as client:
            job_id = client.post("/api/jobs", json={"tool": "run_job", "arguments": {"steps": 100}}).json()["id"]
            with (
                client.stream("GET", f"/jobs/{job_id}/events") as first,
                client.stream("GET", "/fragments/jobs/events") as second,
            ):
                assert (first.status_code, second.status_code) == (200, 200)
                third = client.get(f"/jobs/{job_id}/events")
                assert third.status_code == 429
                assert "--max-streams-per-client" in third.json()["detail"]
                assert client.get(f"/api/jobs/{job_id}/events").status_code == 200  # a page of events is no stream
            # Closed, they make room again.
            wait_until(lambda: stream_status(client, "/fragments/jobs/events") == 200, what="a stream to be let in")
    finally:
        app.stop()


# ---- 8. A filter of any size, and what a store error says ---------------------------------------------------


def test_regression_a_huge_logger_filter_is_a_422(client: httpx.Client) -> None:
    job = run_to_end(client, steps=1, delay=0)
    for path in [f"/api/jobs/{job['id']}/events", f"/api/jobs/{job['id']}/export", f"/jobs/{job['id']}"]:
        response = client.get(path, params={"logger": "a" * 10_000})
        assert response.status_code == 422, path
        assert "logger" in response.json()["detail"]


def test_regression_an_unavailable_store_is_a_503_that_names_no_file(own_server: ChildServer, db_path: Path) -> None:
    app = Dashboard(db_path, mcp_url=own_server.url).start()
    try:
        with app.client() as client, write_locked(db_path):
            response = client.post("/api/jobs", json=JOB, timeout=30)  # waits out SQLite's busy timeout, 5 s
            assert response.status_code == 503 and response.headers["retry-after"]
            assert response.json()["detail"] == "The job store is unavailable right now. Try again in a moment."
            assert str(db_path.parent) not in response.text and "sqlite3" not in response.text
    finally:
        app.stop()


# ---- 9. Control characters in the text export -------------------------------------------------------------


def test_regression_the_text_export_writes_control_characters_as_escapes(client: httpx.Client) -> None:
    script = [{"log": {"level": "info", "logger": "x\x1b[2J", "data": "a\rFORGED\x1b[31m\x07\x00\x9b end"}}]
    job = run_to_end(client, "scripted", script=script)
    text = client.get(f"/api/jobs/{job['id']}/export", params={"format": "text"}).text
    assert "\\x0dFORGED\\x1b[31m\\x07\\x00\\x9b end" in text and "x\\x1b[2J" in text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)  # tab and line feed aside: nothing a terminal acts on
    assert all_events(client, job["id"])[0]["data"] == "a\rFORGED\x1b[31m\x07\x00\x9b end"  # kept as sent


# ---- 10. Lines outside jobs -----------------------------------------------------------------------------------


@pytest.fixture
def two_listeners(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A demo server and a config naming it twice: `http` (listened to) and `sse` (where a job broadcasts)."""
    server = ChildServer().start()
    base = server.url.removesuffix("/mcp")
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"http": {"url": f"{base}/mcp"}, "sse": {"url": f"{base}/sse"}}}))
    yield config, base
    server.stop()


def flood_outside_jobs(config: Path, tmp_path: Path, *limits: str) -> tuple[Dashboard, httpx.Client]:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=None, args=("--config", str(config), *limits, *SHARED))
    app.start()
    client = app.client()
    wait_until(
        lambda: client.get("/api/servers/http").json()["outside_jobs"]["state"] == "listening",
        what="the listener",
        timeout=20,
    )
    job = client.post("/api/jobs", json={"server": "sse", "tool": "broadcast", "arguments": {"count": 300}})
    follow(client, job.json()["id"])
    return app, client


def test_regression_a_server_flooding_outside_jobs_is_rate_limited_and_what_is_dropped_is_counted(
    two_listeners: tuple[Path, str], tmp_path: Path
) -> None:
    app, client = flood_outside_jobs(two_listeners[0], tmp_path, "--max-server-lines-per-second", "1")
    try:
        wait_until(
            lambda: client.get("/api/servers/http").json()["outside_jobs"]["dropped"] >= 300 - 12,
            what="the dropped lines to be counted",
        )
        kept = client.get("/api/servers/http/events").json()["events"]
        assert 9 <= len(kept) <= 12  # a burst of ten seconds' worth at one a second
        page = client.get("/servers/http", headers=HTML).text
        assert "--max-server-lines-per-second" in page and "counted, not kept" in page
    finally:
        client.close()
        app.stop()


def test_regression_a_servers_lines_outside_jobs_are_capped_to_the_newest(
    two_listeners: tuple[Path, str], tmp_path: Path
) -> None:
    app, client = flood_outside_jobs(two_listeners[0], tmp_path, "--max-server-lines", "100")
    try:
        wait_until(
            lambda: any(e["data"].get("n") == 300 for e in client.get("/api/servers/http/events").json()["events"]),
            what="the last line to be kept",
        )
        kept = client.get("/api/servers/http/events").json()["events"]
        assert 100 <= len(kept) < 200  # the oldest are deleted as the newest come (a tenth of the cap at a time)
        assert kept[-1]["seq"] == 300 and kept[0]["seq"] > 100  # the sequence goes on: seqs are never reused
        assert client.get("/api/servers/http").json()["outside_jobs"]["dropped"] == 0
    finally:
        client.close()
        app.stop()
