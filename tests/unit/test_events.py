from __future__ import annotations

from webapp.events import LEVELS, Event, Job, JobState, clean_data, clean_text, iso_time


def test_state_names_are_spelled_as_the_api_promises() -> None:
    assert {s.value for s in JobState} == {
        "queued",
        "starting",
        "running",
        "input_required",
        "cancelling",
        "succeeded",
        "failed",
        "cancelled",
        "timed_out",
        "interrupted",
    }
    assert {s.value for s in JobState if s.is_terminal} == {
        "succeeded",
        "failed",
        "cancelled",
        "timed_out",
        "interrupted",
    }


def test_levels_are_the_eight_syslog_severities_in_order() -> None:
    assert LEVELS == ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def test_percent_is_clamped_and_unknown_without_a_total() -> None:
    job = Job(id="j", tool="t", arguments={}, idle_timeout=None, max_duration=None)
    assert job.percent is None
    job.progress, job.total = 3, None
    assert job.percent is None
    job.total = 12
    assert job.percent == 25
    job.progress = 20
    assert job.percent == 100


def test_job_json_has_every_documented_field() -> None:
    job = Job(id="abc", tool="run_job", arguments={"steps": 2}, idle_timeout=5, max_duration=60, created_at=0)
    assert set(job.to_json()) >= {
        "id",
        "tool",
        "arguments",
        "state",
        "progress",
        "total",
        "message",
        "result",
        "error",
        "created_at",
        "finished_at",
        "idle_timeout",
        "max_duration",
        "dropped_events",
        "warnings",
        "worker",
    }
    assert job.to_json()["state"] == "queued"  # a new job waits for a worker
    assert job.to_json()["created_at"] == "1970-01-01T00:00:00.000Z"


def test_event_json_has_every_documented_field() -> None:
    event = Event("j", 7, "log", 1.5, level="notice", logger="x", data={"a": [1]})
    assert event.to_json() == {
        "seq": 7,
        "kind": "log",
        "method": "notifications/message",
        "level": "notice",
        "logger": "x",
        "data": {"a": [1]},
        "progress": None,
        "total": None,
        "message": None,
        "note": None,
        "data_bytes": None,
        "received_at": iso_time(1.5),
    }


def test_server_text_is_made_valid_unicode_without_nul() -> None:
    assert clean_text("plain") == "plain"
    assert clean_text("a\x00b") == "a\ufffdb"
    assert clean_text("é\ud800x") == "é\ufffdx"
    assert clean_data({"k\udfff": ["ok", "\ud83d", 1, None]}) == {"k\ufffd": ["ok", "\ufffd", 1, None]}
    assert clean_data({"nul": "a\x00b"}) == {"nul": "a\x00b"}  # JSON text escapes NUL: it may stay in data
