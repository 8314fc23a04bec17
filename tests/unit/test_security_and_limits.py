"""The pieces of the security layer and of the limits, one by one."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace

import pytest

from webapp.events import Job
from webapp.guards import Attempts
from webapp.recorder import TOO_DEEP, Limits, Recorder, bounded, shorten
from webapp.rendering import clip, size
from webapp.security import RedactTokens, allowed_hosts, host_matches, is_loopback, normal_origin, safe_next
from webapp.sessions import SessionKeeper


def test_data_within_the_limit_is_kept_whole_and_beyond_it_cut_with_its_size() -> None:
    assert bounded({"a": [1, 2]}, 1024) == ({"a": [1, 2]}, None, '{"a": [1, 2]}')
    kept, sent, text = bounded("é" * 1000, 1024)  # 2,002 bytes as JSON
    assert sent == 2002
    assert isinstance(kept, str) and len(kept.encode()) <= 1024 and kept.startswith('"é')
    assert json.loads(text) == kept  # the JSON the store keeps is that of what is kept
    assert bounded({"x": math.nan}, 1024)[2] == '{"x": "nan"}'  # JSON has no NaN: kept as text


def test_data_that_cannot_be_written_as_json_becomes_a_notice() -> None:
    deep: list[object] = []
    inner = deep
    for _ in range(5000):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    assert bounded(deep, 1024) == (TOO_DEEP, None, json.dumps(TOO_DEEP))


def test_long_names_are_cut_visibly() -> None:
    assert shorten("x" * 10, 10) == "x" * 10
    assert shorten("x" * 11, 10) == "x" * 9 + "…"


def test_past_the_events_limit_events_are_counted_not_recorded() -> None:
    recorder = Recorder(Job(id="j", tool="t", arguments={}, idle_timeout=None, max_duration=None), Limits(events=2))
    for n in range(5):
        recorder.log("info", None, n)
    recorder.progress(1, 2, "over")
    events, job = recorder.pending()
    assert [e.seq for e in events] == [1, 2]
    assert (job.last_seq, job.dropped_events, job.progress) == (2, 4, None)  # over-limit progress moves nothing


def test_a_line_is_clipped_to_its_byte_limit_and_says_its_size() -> None:
    assert clip("short", 100) == ("short", None)
    shown, full = clip("é" * 100, 51)
    assert full == 200 and shown == "é" * 25  # never half a character
    assert (size(812), size(4096), size(10 * 1024 * 1024)) == ("812 B", "4.0 KiB", "10.0 MiB")


@pytest.mark.parametrize(
    ("bind", "extra", "allowed", "refused"),
    [
        ("127.0.0.1", (), ["127.0.0.1", "localhost"], ["evil.example", "192.168.1.5"]),
        ("192.168.1.5", (), ["192.168.1.5", "localhost"], ["evil.example"]),
        ("127.0.0.1", ("dash.example", "*.lan"), ["dash.example", "box.lan"], ["lan", "dash.example.evil"]),
    ],
)
def test_hosts_the_dashboard_answers_to(
    bind: str, extra: tuple[str, ...], allowed: list[str], refused: list[str]
) -> None:
    hosts = allowed_hosts(bind, extra)
    assert all(host_matches(host, hosts) for host in allowed)
    assert not any(host_matches(host, hosts) for host in refused)


def test_loopback_is_told_apart_from_every_other_address() -> None:
    assert all(is_loopback(h) for h in ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
    assert not any(is_loopback(h) for h in ["0.0.0.0", "192.168.1.5", "example.com", "::"])


def test_after_login_a_person_goes_only_to_a_page_of_this_dashboard_and_never_back_to_a_token() -> None:
    assert safe_next("/jobs/abc?after=3") == "/jobs/abc?after=3"
    assert safe_next("/jobs/abc?token=stale&after=3") == "/jobs/abc?after=3"
    assert safe_next("/?token=stale") == "/"
    for elsewhere in ["https://evil.example/", "//evil.example/x", "evil.example", "javascript:alert(1)"]:
        assert safe_next(elsewhere) == "/"


def test_a_session_cookie_is_signed_and_read_back_only_by_a_keeper_of_the_same_secret_and_token() -> None:
    keeper = SessionKeeper(b"s" * 32, "a-token-of-sixteen+", lifetime=3600)
    session = keeper.new(signed_in=True)
    value = keeper.cookie_value(session)
    assert "a-token-of-sixteen+" not in value
    assert keeper.read(value) == session.__class__(session.id, int(session.created_at), int(session.renewed_at), True)
    assert SessionKeeper(b"s" * 32, "a-token-of-sixteen+", 3600).read(value) is not None  # another web process
    assert SessionKeeper(b"s" * 32, "another-token-here!", 3600).read(value) is None  # a new token ends it
    assert SessionKeeper(b"t" * 32, "a-token-of-sixteen+", 3600).read(value) is None
    fields, _, signature = value.rpartition(".")
    assert fields.endswith(".1")  # signed in
    assert keeper.read(f"{fields[:-1]}0.{signature}") is None  # a field changed by hand breaks the signature
    for junk in ["", "x", "a.b.c", value + "x", "v1." * 100]:
        assert keeper.read(junk) is None


def test_a_session_expires_when_unused_is_renewed_when_used_and_never_outlives_a_week() -> None:
    keeper = SessionKeeper(b"s" * 32, None, lifetime=3600)
    fresh = keeper.new(signed_in=False)
    assert keeper.renewed(fresh) is None  # just made: the cookie stays as it is
    idle = replace(fresh, created_at=fresh.created_at - 7200, renewed_at=fresh.renewed_at - 7200)
    assert keeper.read(keeper.cookie_value(idle)) is None  # two hours unused: gone
    used = replace(fresh, renewed_at=fresh.renewed_at - 1900)
    renewed = keeper.renewed(used)
    assert renewed is not None and renewed.id == used.id and renewed.renewed_at > used.renewed_at
    old = replace(fresh, created_at=fresh.created_at - 8 * 86_400)
    assert keeper.read(keeper.cookie_value(old)) is None


def test_a_csrf_token_belongs_to_its_session() -> None:
    keeper = SessionKeeper(b"s" * 32, None, lifetime=3600)
    one, two = keeper.new(signed_in=False), keeper.new(signed_in=False)
    assert keeper.csrf_matches(one, keeper.csrf_token(one))
    assert not keeper.csrf_matches(one, keeper.csrf_token(two))
    assert not keeper.csrf_matches(one, "")


def test_origins_compare_scheme_host_and_port() -> None:
    assert normal_origin("http://LocalHost:8800") == "http://localhost:8800"
    assert normal_origin("https://dash.example") == "https://dash.example:443"
    assert normal_origin("http://[::1]:8000") == "http://[::1]:8000"
    assert normal_origin("http://localhost:8810") != normal_origin("http://localhost:8800")
    for nothing in ["null", "", "file://", "ftp://x", "http://", "http://x:notaport"]:
        assert normal_origin(nothing) is None


def test_tokens_in_access_log_lines_are_starred_out() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s"', ("1.2.3.4", "GET", "/?token=abc&x=1"), None
    )
    assert RedactTokens().filter(record)
    assert record.getMessage() == '1.2.3.4 - "GET /?token=***&x=1"'


def test_a_client_may_start_so_many_jobs_a_minute_and_is_told_when_it_may_again() -> None:
    limiter = Attempts(2)
    assert limiter.take("a") is None and limiter.take("a") is None
    wait = limiter.take("a")
    assert wait is not None and 59 < wait <= 60
    assert limiter.take("b") is None  # each client its own count
