"""The pieces of the security layer and of the limits, one by one."""

from __future__ import annotations

import json
import logging
import math

import pytest

from webapp.events import Job
from webapp.recorder import TOO_DEEP, Limits, Recorder, bounded, shorten
from webapp.rendering import clip, size
from webapp.security import RedactTokens, allowed_hosts, host_matches, is_loopback, safe_next, session_value
from webapp.services import StartLimiter


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


def test_after_login_a_person_goes_only_to_a_page_of_this_dashboard() -> None:
    assert safe_next("/jobs/abc?after=3") == "/jobs/abc?after=3"
    for elsewhere in ["https://evil.example/", "//evil.example/x", "evil.example", "javascript:alert(1)"]:
        assert safe_next(elsewhere) == "/"


def test_the_session_cookie_is_derived_from_the_token_not_the_token_itself() -> None:
    assert session_value("t1") == session_value("t1") != session_value("t2")
    assert "t1" not in session_value("t1")


def test_tokens_in_access_log_lines_are_starred_out() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s"', ("1.2.3.4", "GET", "/?token=abc&x=1"), None
    )
    assert RedactTokens().filter(record)
    assert record.getMessage() == '1.2.3.4 - "GET /?token=***&x=1"'


def test_a_client_may_start_so_many_jobs_a_minute_and_is_told_when_it_may_again() -> None:
    limiter = StartLimiter(per_minute=2)
    assert limiter.wait_before("a") is None and limiter.wait_before("a") is None
    wait = limiter.wait_before("a")
    assert wait is not None and 59 < wait <= 60
    assert limiter.wait_before("b") is None  # each client its own count
