"""Signing in to a remote server (issue 20), over real HTTP: the dashboard as its own process, and tests/oauth_server.py
(an MCP server behind a bearer check, with the authorization server that signs people in for it)."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest

from tests.helpers import Dashboard, follow, wait_until
from tests.postgres import TempPostgres
from webapp.bundled import ChildServer
from webapp.oauth import Sealer, SignInError, tokens

HTML = {"Accept": "text/html"}
KEY = "a key for the test"


def oauth_server(*args: str) -> ChildServer:
    server = ChildServer(module="tests.oauth_server")
    command = [sys.executable, "-m", "tests.oauth_server", "--port", str(server.port), *args]
    server.launch(command, what="the OAuth test server", timeout=20)
    return server


@pytest.fixture
def remote() -> Iterator[ChildServer]:
    # Tokens that expire in 30 s: inside the dashboard's refresh margin, so every connection refreshes first.
    server = oauth_server("--expires-in", "30")
    yield server
    server.stop()


@pytest.fixture
def dashboard(remote: ChildServer, tmp_path: Path) -> Iterator[Dashboard]:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=remote.url, args=("--secret-key", KEY))
    app.start()
    yield app
    app.stop()


@contextlib.contextmanager
def browser(app: Dashboard) -> Iterator[httpx.Client]:
    """A client that behaves as a browser does: it keeps the session cookie the first page gave it."""
    with httpx.Client(base_url=app.url, timeout=15) as client:
        assert client.get("/", headers=HTML).status_code == 200
        yield client


def state_of(client: httpx.Client) -> str:
    state: str = client.get("/api/servers/default").json()["state"]
    return state


def stats(remote: ChildServer) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(remote.url.removesuffix("/mcp") + "/_stats").json()
    return answer


def sign_in(client: httpx.Client) -> httpx.Response:
    """Click Sign in, follow the authorization URL as the browser would, and come back: the callback's answer."""
    response = client.post("/api/servers/default/sign-in")
    assert response.status_code == 200, response.text
    authorization = httpx.get(response.json()["authorize_url"])
    assert authorization.status_code == 302, authorization.text
    return client.get(authorization.headers["location"])


def test_a_server_that_needs_a_sign_in_says_so_and_a_job_on_it_gets_409_with_the_reason(
    dashboard: Dashboard,
) -> None:
    with browser(dashboard) as client:
        wait_until(lambda: state_of(client) == "needs_sign_in", what="the server to need a sign-in")
        refused = client.post("/api/jobs", json={"tool": "add", "arguments": {"a": 1, "b": 2}})
        assert refused.status_code == 409
        assert "needs a sign-in" in refused.json()["detail"]
        page = client.get("/servers/default", headers=HTML).text
        assert 'id="sign-in"' in page and "needs you to sign in" in page


def test_sign_in_with_pkce_then_a_job_a_refresh_and_a_sign_out(dashboard: Dashboard, remote: ChildServer) -> None:
    with browser(dashboard) as client:
        wait_until(lambda: state_of(client) == "needs_sign_in", what="the server to need a sign-in")
        response = client.post("/api/servers/default/sign-in")
        url = urlsplit(response.json()["authorize_url"])
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        assert query["resource"] == remote.url.removesuffix("mcp")  # RFC 8707: tokens for this server only
        assert query["redirect_uri"] == f"{dashboard.url}/oauth/callback"
        assert query["scope"] == "mcp:tools"  # from the server's challenge
        authorization = httpx.get(response.json()["authorize_url"])
        back = client.get(authorization.headers["location"])
        assert back.status_code == 303 and back.headers["location"] == "/servers/default"
        assert state_of(client) == "connected"

        # A job runs with the token, refreshed first (it expires inside the refresh margin).
        job = client.post("/api/jobs", json={"tool": "add", "arguments": {"a": 2, "b": 3}}).json()
        follow(client, job["id"])
        ended = client.get(f"/api/jobs/{job['id']}").json()
        assert ended["state"] == "succeeded", ended
        seen = stats(remote)
        assert seen["registrations"] == 1 and seen["authorization_code"] == 1
        assert seen["refresh_token"] >= 1

        # The same callback again: its state was used.
        again = client.get(authorization.headers["location"])
        assert again.status_code == 400

        # No token anywhere people or exports can see, and none in the clear in the store.
        issued = stats(remote)["issued"]
        shown = (
            client.get("/api/servers").text
            + client.get("/servers/default", headers=HTML).text
            + client.get(f"/api/jobs/{job['id']}/export").text
            + dashboard.output()
        )
        sealed = stored_sign_ins(dashboard)
        assert len(sealed) == 1 and sealed[0].startswith("v1.sealed:")
        for token in issued:
            assert token not in shown and token not in sealed[0]

        signed_out = client.post("/api/servers/default/sign-out").json()
        assert signed_out["signed_out"] is True and signed_out["state"] == "needs_sign_in"
        assert tokens_kept(dashboard) == []  # what is left is the server's challenge, for the next sign-in


def test_a_callback_with_an_unknown_state_another_sessions_state_or_no_code_is_refused_and_changes_nothing(
    dashboard: Dashboard,
) -> None:
    with browser(dashboard) as client, browser(dashboard) as stranger:
        wait_until(lambda: state_of(client) == "needs_sign_in", what="the server to need a sign-in")
        assert client.get("/oauth/callback", params={"code": "x", "state": "made-up"}).status_code == 400
        response = client.post("/api/servers/default/sign-in")
        state = parse_qs(urlsplit(response.json()["authorize_url"]).query)["state"][0]
        authorization = httpx.get(response.json()["authorize_url"])
        # Another browser brings the callback: refused, and the sign-in stays the first browser's to finish.
        assert stranger.get(authorization.headers["location"]).status_code == 400
        assert tokens_kept(dashboard) == []
        no_code = client.get("/oauth/callback", params={"state": state})
        assert no_code.status_code == 400 and "without a code" in no_code.json()["detail"]
        assert state_of(client) == "needs_sign_in"
        assert tokens_kept(dashboard) == []


@pytest.mark.parametrize(
    ("answer", "said"),
    [("html", "text/html, not a JSON token"), ("other-resource", "a token for another resource")],
)
def test_a_token_endpoint_that_answers_with_html_or_for_another_resource_fails_the_sign_in_saying_so(
    tmp_path: Path, answer: str, said: str
) -> None:
    remote = oauth_server("--token-answer", answer)
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=remote.url).start()
    try:
        with browser(app) as client:
            wait_until(lambda: state_of(client) == "needs_sign_in", what="the server to need a sign-in")
            failed = sign_in(client)
            assert failed.status_code == 502
            assert said in failed.json()["detail"]
            assert state_of(client) == "needs_sign_in"
            # Without --secret-key the server page says tokens would be kept in the clear.
            assert "data-tokens-in-the-clear" in client.get("/servers/default", headers=HTML).text
    finally:
        app.stop()
        remote.stop()


def stored_sign_ins(app: Dashboard) -> list[str]:
    with sqlite3.connect(app.db) as db:
        return [row[0] for row in db.execute("SELECT sealed FROM sign_ins")]


def tokens_kept(app: Dashboard) -> list[str]:
    records = [Sealer(KEY).open(sealed) for sealed in stored_sign_ins(app)]
    return [record["access_token"] for record in records if record is not None and record["access_token"]]


def test_metadata_naming_another_issuer_than_the_resource_metadata_names_is_refused(tmp_path: Path) -> None:
    remote = oauth_server("--issuer", "http://127.0.0.1:9/elsewhere")
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=remote.url).start()
    try:
        with browser(app) as client:
            wait_until(lambda: state_of(client) == "needs_sign_in", what="the server to need a sign-in")
            refused = client.post("/api/servers/default/sign-in")
            assert refused.status_code == 409
            assert "names the issuer http://127.0.0.1:9/elsewhere" in refused.json()["detail"]
            assert stats(remote)["authorizations"] == 0
    finally:
        app.stop()
        remote.stop()


def test_a_legacy_sse_server_signs_in_and_runs_a_job_with_its_token(remote: ChildServer, tmp_path: Path) -> None:
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=remote.url.removesuffix("/mcp") + "/sse").start()
    try:
        with browser(app) as client:
            wait_until(lambda: state_of(client) == "needs_sign_in", what="the server to need a sign-in")
            assert sign_in(client).status_code == 303
            assert state_of(client) == "connected"
            job = client.post("/api/jobs", json={"tool": "add", "arguments": {"a": 20, "b": 22}}).json()
            follow(client, job["id"])
            ended = client.get(f"/api/jobs/{job['id']}").json()
            assert ended["state"] == "succeeded", ended
    finally:
        app.stop()


@pytest.fixture
def long_lived(tmp_path: Path) -> Iterator[tuple[ChildServer, Dashboard]]:
    """A server whose tokens last an hour: a refresh then comes only from a 401."""
    remote = oauth_server("--expires-in", "3600")
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=remote.url, args=("--secret-key", KEY)).start()
    yield remote, app
    app.stop()
    remote.stop()


def test_a_revoked_token_is_refreshed_once_and_a_revoked_sign_in_fails_the_job_saying_so(
    long_lived: tuple[ChildServer, Dashboard],
) -> None:
    remote, dashboard = long_lived
    base = remote.url.removesuffix("/mcp")
    with browser(dashboard) as client:
        wait_until(lambda: state_of(client) == "needs_sign_in", what="the server to need a sign-in")
        assert sign_in(client).status_code == 303
        assert stats(remote)["refresh_token"] == 0
        # The access token is revoked: the server answers 401, and the refresh token gets a new one.
        assert httpx.post(f"{base}/_revoke").status_code == 204
        job = client.post("/api/jobs", json={"tool": "add", "arguments": {"a": 1, "b": 1}}).json()
        follow(client, job["id"])
        assert client.get(f"/api/jobs/{job['id']}").json()["state"] == "succeeded"
        assert stats(remote)["refresh_token"] >= 1

        # Everything revoked: the job fails saying the server needs a sign-in (never a raw 401), and so does the server.
        assert httpx.post(f"{base}/_revoke", params={"refresh": "1"}).status_code == 204
        job = client.post("/api/jobs", json={"tool": "add", "arguments": {"a": 1, "b": 1}}).json()
        follow(client, job["id"])
        failed = client.get(f"/api/jobs/{job['id']}").json()
        assert failed["state"] == "failed" and "needs a sign-in" in failed["error"], failed
        assert "401" not in failed["error"]
        client.post("/api/servers/default/refresh")
        wait_until(lambda: state_of(client) == "needs_sign_in", what="the server to need a sign-in again")


def test_a_sign_in_made_by_a_web_process_is_used_by_a_worker_on_a_shared_postgresql(
    remote: ChildServer, postgres: TempPostgres
) -> None:
    db = postgres.create_database("sign_in_cluster")
    web = Dashboard(db, mcp_url=remote.url, role="web", args=("--secret-key", KEY)).start()
    worker = Dashboard(db, mcp_url=remote.url, role="worker", args=("--secret-key", KEY)).start()
    try:
        with browser(web) as client:
            wait_until(lambda: state_of(client) == "needs_sign_in", what="the server to need a sign-in")
            assert sign_in(client).status_code == 303
            job = client.post("/api/jobs", json={"tool": "add", "arguments": {"a": 3, "b": 4}}).json()
            follow(client, job["id"])
            ended = client.get(f"/api/jobs/{job['id']}").json()
            assert ended["state"] == "succeeded" and ended["worker"] == worker.worker_id, ended
    finally:
        worker.stop()
        web.stop()


def test_the_client_id_metadata_document_is_public_at_an_https_public_url_and_absent_otherwise(
    remote: ChildServer, tmp_path: Path
) -> None:
    token = "a-token-of-the-dashboard-0123456789"
    public = "https://mcp.example.com"
    app = Dashboard(
        tmp_path / "jobs.sqlite3", mcp_url=remote.url, args=("--public-url", public, "--token", token)
    ).start()
    try:
        document = httpx.get(f"{app.url}/client-metadata.json")  # no token: authorization servers fetch it
        assert document.status_code == 200
        assert document.json()["client_id"] == f"{public}/client-metadata.json"
        assert document.json()["redirect_uris"] == [f"{public}/oauth/callback"]
        assert document.json()["token_endpoint_auth_method"] == "none"
        assert httpx.get(f"{app.url}/api/servers").status_code == 401  # everything else still needs the token
    finally:
        app.stop()
    plain = Dashboard(tmp_path / "plain.sqlite3", mcp_url=remote.url).start()
    try:
        assert httpx.get(f"{plain.url}/client-metadata.json").status_code == 404
    finally:
        plain.stop()


def test_a_callback_without_the_session_cookie_reloads_itself_from_the_dashboard_once_and_makes_no_session(
    dashboard: Dashboard,
) -> None:
    # A cross-site redirect brings no SameSite=Strict cookie: the page reloads the callback same-site, which does.
    first = httpx.get(f"{dashboard.url}/oauth/callback", params={"code": "c", "state": "s"}, headers=HTML)
    assert first.status_code == 200 and "set-cookie" not in first.headers
    assert 'content="0;url=/oauth/callback?code=c&amp;state=s&amp;again=1"' in first.text
    again = httpx.get(f"{dashboard.url}/oauth/callback", params={"code": "c", "state": "s", "again": "1"})
    assert again.status_code == 400  # still no session: nothing to finish


def test_a_token_endpoint_that_does_not_answer_in_time_fails_saying_so(monkeypatch: pytest.MonkeyPatch) -> None:
    remote = oauth_server("--token-answer", "slow")
    base = remote.url.removesuffix("/mcp")
    try:
        client = httpx.post(f"{base}/register", json={"redirect_uris": ["http://127.0.0.1/cb"]}).json()
        monkeypatch.setattr(tokens, "TOKEN_TIMEOUT", 1.0)  # the real 10 s, shortened for the test
        with pytest.raises(SignInError, match="did not answer within 1 s"):
            anyio.run(
                tokens.request_token,
                f"{base}/token",
                client,
                {"grant_type": "authorization_code", "code": "x", "redirect_uri": "http://127.0.0.1/cb"},
                f"{base}/",
            )
    finally:
        remote.kill()  # its token request never ends: a graceful stop would wait for it


def test_a_callback_naming_another_issuer_is_refused_as_a_mix_up(dashboard: Dashboard) -> None:
    with browser(dashboard) as client:
        wait_until(lambda: state_of(client) == "needs_sign_in", what="the server to need a sign-in")
        response = client.post("/api/servers/default/sign-in")
        location = httpx.get(response.json()["authorize_url"]).headers["location"]
        mixed_up = client.get(location + "&iss=https%3A%2F%2Fattacker.example")
        assert (
            mixed_up.status_code == 400 and "does not come from the authorization server" in mixed_up.json()["detail"]
        )
        assert tokens_kept(dashboard) == []
