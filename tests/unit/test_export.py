from __future__ import annotations

from webapp.events import Event, Job
from webapp.export import as_text_line, file_name


def test_a_file_name_keeps_only_safe_characters_of_a_hostile_tool_name() -> None:
    job = Job(id="abc123", tool='../<script>"x"; rm -rf', arguments={}, idle_timeout=None, max_duration=None)
    assert file_name(job, "text") == "script_x_rm_-rf-abc123.log"
    assert file_name(Job(id="j", tool="../", arguments={}, idle_timeout=None, max_duration=None), "jsonl") == (
        "job-j.jsonl"
    )


def test_text_lines_say_what_each_kind_is_and_indent_lines_within_data() -> None:
    log = Event("j", 1, "log", 0.0, level="error", logger="db", data="first\nsecond")
    assert as_text_line(log) == "1970-01-01T00:00:00.000Z ERROR     db first\n    second\n"
    progress = Event("j", 2, "progress", 0.0, progress=3, total=10, message="three", note="not_increasing")
    assert as_text_line(progress) == "1970-01-01T00:00:00.000Z PROGRESS  - 3/10 three (not_increasing)\n"
    request = Event("j", 3, "request", 0.0, data={"a": 1}, method="roots/list", note="refused")
    assert as_text_line(request) == '1970-01-01T00:00:00.000Z REQUEST   roots/list {"a": 1} (refused)\n'
    cut = Event("j", 4, "log", 0.0, level="info", logger=None, data="xx", data_bytes=9000)
    assert as_text_line(cut) == "1970-01-01T00:00:00.000Z INFO      - xx [cut: 9000 bytes were sent]\n"


def test_control_characters_a_terminal_acts_on_are_escaped_in_text_lines() -> None:
    forged = "ok\r2026-01-01T00:00:00.000Z ERROR     admin forged\x1b[2K\x07\x00\x9b\x7f"
    line = as_text_line(Event("j", 1, "log", 0.0, level="info", logger="l\x1b]0;title\x07", data=forged))
    assert line == (
        "1970-01-01T00:00:00.000Z INFO      l\\x1b]0;title\\x07 "
        "ok\\x0d2026-01-01T00:00:00.000Z ERROR     admin forged\\x1b[2K\\x07\\x00\\x9b\\x7f\n"
    )
    tabbed = as_text_line(Event("j", 2, "stderr", 0.0, data="a\tb\nc"))
    assert tabbed == "1970-01-01T00:00:00.000Z STDERR    - a\tb\n    c\n"  # tab kept, a new line indented
