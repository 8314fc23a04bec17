"""The pieces of a server sign-in that need no network (issue 20): sealing, the config's pre-registered client,
where a person may be sent, the token endpoint's client authentication, scopes and the step-up limit."""

from __future__ import annotations

import base64
import logging

import pytest

from webapp.mcp_link import HttpTarget
from webapp.oauth import Challenge, PreRegistered, Sealer, SignInError, SignInRecord, begin
from webapp.oauth.flow import Authority, PendingSignIn, authorization_url, choose_scope, is_safe_to_send_people_to
from webapp.oauth.tokens import client_auth
from webapp.security import RedactTokens
from webapp.servers import ConfigError, parse_config
from webapp.settings import Settings

RECORD = {"access_token": "at-secret-123", "refresh_token": "rt-secret-456"}


def test_a_sealed_record_shows_no_token_and_opens_with_its_key_only() -> None:
    sealed = Sealer("the key").seal(RECORD)
    assert sealed.startswith("v1.sealed:")
    assert "at-secret-123" not in sealed and "rt-secret-456" not in sealed
    assert Sealer("the key").open(sealed) == RECORD
    assert Sealer("another key").open(sealed) is None
    assert Sealer(None).open(sealed) is None  # a process without the key: no sign-in, not a crash


def test_without_a_key_records_are_kept_in_the_clear_and_say_so() -> None:
    sealer = Sealer(None)
    assert sealer.in_the_clear and not Sealer("k").in_the_clear
    kept = sealer.seal(RECORD)
    assert kept.startswith("v1.clear:") and sealer.open(kept) == RECORD
    assert Sealer("k").open(kept) == RECORD  # a key given later still reads what was kept before it


def test_a_record_survives_its_json_round_trip_with_its_challenge() -> None:
    record = SignInRecord(access_token="a", challenge=Challenge("s1 s2", "https://x/.well-known/r", step_up=True))
    assert SignInRecord.from_json(record.to_json()) == record


def test_the_configs_oauth_client_takes_its_secret_from_the_environment_and_keeps_it_secret() -> None:
    config = {
        "mcpServers": {
            "remote": {
                "url": "https://mcp.example.com/mcp",
                "oauth": {"client_id": "dash", "client_secret": "${CLIENT_SECRET}", "scopes": ["read", "write"]},
            }
        }
    }
    [target] = parse_config(config, "auto", {"CLIENT_SECRET": "s3cr3t-value"})
    assert isinstance(target, HttpTarget)
    assert target.oauth == PreRegistered("dash", "s3cr3t-value", ("read", "write"))
    assert "s3cr3t-value" in target.secrets


@pytest.mark.parametrize(
    ("oauth", "said"),
    [
        ({"client_secret": "x"}, "client_id"),
        ({"client_id": "x", "password": "y"}, "not password"),
        ({"client_id": "x", "scopes": [1]}, "list of strings"),
        ({"client_id": "${MISSING}"}, "not set in the environment"),
    ],
)
def test_a_bad_oauth_entry_in_the_config_says_what_is_wrong(oauth: dict[str, object], said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        parse_config({"mcpServers": {"r": {"url": "https://x/mcp", "oauth": oauth}}}, "auto", {})


def test_a_stdio_server_takes_no_oauth() -> None:
    with pytest.raises(ConfigError, match="oauth is for URL servers"):
        parse_config({"mcpServers": {"r": {"command": "x", "oauth": {"client_id": "c"}}}}, "auto", {})


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://auth.example.com/authorize", True),
        ("http://127.0.0.1:9000/authorize", True),
        ("http://localhost/authorize", True),
        ("http://[::1]:8/authorize", True),
        ("http://auth.example.com/authorize", False),
        ("http://10.0.0.1/authorize", False),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
    ],
)
def test_people_are_sent_only_to_https_or_to_this_machine(url: str, safe: bool) -> None:
    assert is_safe_to_send_people_to(url) is safe


def authority(endpoint: str = "https://auth.example.com/authorize") -> Authority:
    return Authority("https://auth.example.com", endpoint, "https://auth.example.com/token", None, None, None, None)


def pending(endpoint: str) -> PendingSignIn:
    return PendingSignIn(
        "s", "session", "state", "v" * 64, "http://127.0.0.1/cb", authority(endpoint), {"client_id": "c"}, None, 0, 0.0
    )


def test_an_authorization_url_over_plain_http_to_another_machine_is_refused() -> None:
    with pytest.raises(SignInError, match="neither HTTPS nor on this machine"):
        authorization_url(pending("http://auth.example.com/authorize"), "challenge")
    assert authorization_url(pending("https://auth.example.com/authorize?tenant=1"), "c").startswith(
        "https://auth.example.com/authorize?tenant=1&response_type=code"
    )


def test_the_token_endpoint_gets_the_client_as_it_was_registered() -> None:
    data = {"grant_type": "authorization_code"}
    form, headers = client_auth(
        {"client_id": "a b", "client_secret": "p:w", "token_endpoint_auth_method": "client_secret_basic"}, data
    )
    assert form == data and headers["Authorization"] == "Basic " + base64.b64encode(b"a%20b:p%3Aw").decode()
    form, headers = client_auth(
        {"client_id": "a", "client_secret": "p", "token_endpoint_auth_method": "client_secret_post"}, data
    )
    assert form == {**data, "client_id": "a", "client_secret": "p"} and headers == {}
    form, headers = client_auth({"client_id": "a", "token_endpoint_auth_method": "none"}, data)
    assert form == {**data, "client_id": "a"} and headers == {}
    with pytest.raises(SignInError, match="private_key_jwt"):
        client_auth({"client_id": "a", "token_endpoint_auth_method": "private_key_jwt"}, data)


def test_a_step_up_asks_for_what_was_granted_and_what_the_server_asks_now() -> None:
    record = SignInRecord(access_token="a", requested_scope="read", granted_scope="read")
    chosen = choose_scope(authority(), Challenge("read write", step_up=True), record, ())
    assert chosen == "read write"
    assert choose_scope(authority(), Challenge("files"), None, ()) == "files"
    assert choose_scope(authority(), None, None, ()) is None  # nothing said anywhere: no scope parameter
    assert choose_scope(authority(), Challenge("files"), None, ("a", "b")) == "a b"  # the config's, when it says


@pytest.mark.anyio
async def test_after_two_step_ups_the_dashboard_stops_asking_for_more_scope() -> None:
    record = SignInRecord(access_token="a", step_ups=2, challenge=Challenge("admin", step_up=True))
    with pytest.raises(SignInError, match="giving up"):
        await begin(
            "s",
            "http://127.0.0.1:9/mcp",
            session_id="x",
            record=record,
            pre_registered=None,
            redirect_uri="http://127.0.0.1/cb",
            metadata_document=None,
        )


def test_a_public_url_must_be_an_http_address_and_loses_its_trailing_slash() -> None:
    assert Settings(public_url="https://mcp.example.com/").public_url == "https://mcp.example.com"
    with pytest.raises(ValueError, match="public URL"):
        Settings(public_url="mcp.example.com")


def test_a_sign_ins_code_and_state_are_kept_out_of_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s "%s %s"',
        ("1.2.3.4", "GET", "/oauth/callback?code=abc&state=def"),
        None,
    )
    RedactTokens().filter(record)
    assert record.getMessage() == '1.2.3.4 "GET /oauth/callback?code=***&state=***"'
    other = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, "GET /api/jobs?state=running", None, None)
    RedactTokens().filter(other)
    assert other.getMessage() == "GET /api/jobs?state=running"  # elsewhere a state is a job's state
