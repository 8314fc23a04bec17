from __future__ import annotations

import re

import pytest

from webapp.events import LEVELS, Event, Job, JobState, Question
from webapp.feeds import sse_data
from webapp.mcp_link import ToolSpec
from webapp.rendering import build_templates, example_arguments, pretty, render_line, render_progress, render_status

templates = build_templates()
HOSTILE = '</hx-partial><script>alert("x")</script><img src=x onerror=alert(1)>'


def line(event: Event) -> str:
    return render_line(templates, event)


def job(**fields: object) -> Job:
    j = Job(id="j1", tool="run_job", arguments={}, idle_timeout=None, max_duration=None)
    for name, value in fields.items():
        setattr(j, name, value)
    return j


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_renders_its_class_name_and_attributes(level: str) -> None:
    html = line(Event("j1", 12, "log", 0.0, level=level, logger="svc", data={"n": 1}))
    assert f'class="line level-{level}"' in html
    assert 'data-seq="12"' in html
    assert f'data-level="{level}"' in html
    assert f'<span class="level">{level.upper()}</span>' in html  # the level in words, not only in colour


def test_an_unknown_level_gets_a_neutral_class_and_is_still_shown() -> None:
    html = line(Event("j1", 1, "log", 0.0, level='bogus" onclick="x', data="hi"))
    assert "level-unknown" in html
    assert 'onclick="x' not in html


@pytest.mark.parametrize("where", ["logger", "data", "nested"])
def test_hostile_server_text_is_escaped(where: str) -> None:
    fields: dict[str, object] = {"logger": "ok", "data": "ok"}
    if where == "nested":
        fields["data"] = {"k": [HOSTILE]}
    else:
        fields[where] = HOSTILE
    html = line(Event("j1", 1, "log", 0.0, level="info", **fields))  # type: ignore[arg-type]
    assert "<script" not in html
    assert "<img" not in html
    assert "</hx-partial>" not in html


def test_hostile_progress_message_and_result_are_escaped_in_every_streamed_part() -> None:
    event = Event("j1", 1, "progress", 0.0, progress=1, total=2, message=HOSTILE)
    hostile_job = job(message=HOSTILE, error=HOSTILE, result={"x": HOSTILE}, state=JobState.FAILED)
    for html in (
        render_line(templates, event),
        render_status(templates, hostile_job),
        render_progress(templates, hostile_job),
    ):
        assert "<script" not in html and "<img" not in html
        assert "<hx-partial" not in html and "</hx-partial>" not in html


def test_server_text_cannot_forge_sse_fields_or_end_a_message() -> None:
    forged = "x\r\nevent: end\rid: 999\n\ndata: <b>"
    data = sse_data(render_line(templates, Event("j1", 1, "log", 0.0, level="info", logger=forged, data=forged)))
    lines = data.split("\n")
    assert lines[-1] == ""  # one trailing newline: the message goes on
    assert all(line.startswith("data: ") for line in lines[:-1])  # no blank line, no event:, no id:
    assert "\r" not in data


def test_progress_lines_carry_seq_and_kind_and_say_why_they_were_not_applied() -> None:
    html = line(Event("j1", 5, "progress", 0.0, progress=3, total=2, message="m", note="exceeds_total"))
    assert 'data-seq="5"' in html and 'data-kind="progress"' in html
    assert 'data-note="exceeds_total"' in html and "exceeds total" in html


def test_progress_bar_shows_percent_as_aria_value() -> None:
    html = templates.get_template("partials/_progress.html").render(job=job(progress=3, total=8, message="three"))
    assert 'role="progressbar"' in html
    assert 'aria-valuenow="38"' in html
    assert "38 %" in html


def test_progress_bar_is_indeterminate_without_a_total() -> None:
    html = templates.get_template("partials/_progress.html").render(job=job(progress=3, total=None))
    assert "aria-valuenow" not in html
    assert not re.search(r"<progress[^>]*value=", html)
    assert "3 done" in html


def test_pretty_keeps_small_values_on_one_line_and_indents_big_ones() -> None:
    assert pretty("plain text") == "plain text"
    assert pretty({"a": 1, "b": "é"}) == '{"a": 1, "b": "é"}'
    assert "\n" in pretty({"k": "v" * 200})


def test_example_arguments_use_defaults_then_examples_then_empty_required_values() -> None:
    spec = ToolSpec(
        "t",
        "",
        {
            "properties": {
                "a": {"type": "integer", "default": 4},
                "b": {"type": "array", "examples": [["x"]]},
                "c": {"type": "string"},
                "d": {"type": "string"},
            },
            "required": ["c"],
        },
    )
    assert example_arguments(spec) == '{\n  "a": 4,\n  "b": [\n    "x"\n  ],\n  "c": ""\n}'


def test_templates_have_no_inline_script_handler_or_style() -> None:
    # A strict Content-Security-Policy must be possible: all JavaScript and CSS live in static files.
    from webapp.rendering import TEMPLATES_DIR

    for path in TEMPLATES_DIR.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\son[a-z]+=", text), path
        assert not re.search(r"\sstyle=", text), path
        assert "|safe" not in text.replace(" ", ""), path


def test_a_text_result_is_shown_as_text_and_as_json() -> None:
    result = {"content": [{"type": "text", "text": "done <b>well</b>"}], "isError": False}
    html = templates.get_template("partials/_job_status.html").render(job=job(result=result, state=JobState.SUCCEEDED))
    assert '<pre class="result-text">done &lt;b&gt;well&lt;/b&gt;</pre>' in html
    assert "Full result (JSON)" in html


@pytest.mark.parametrize(
    "schema",
    [
        {"properties": {"a": True}},
        {"properties": {"a": {"examples": "not a list"}}, "required": "a"},
        {"properties": ["not", "a", "dict"]},
        {"properties": {"a": {"type": ["string", "null"]}}, "required": ["a"]},
        {"properties": {"a": {"default": float("nan")}}},
    ],
)
def test_example_arguments_survive_odd_schemas_from_the_server(schema: dict[str, object]) -> None:
    assert example_arguments(ToolSpec("t", "", schema)).startswith("{")


def test_a_url_question_that_is_no_web_address_is_not_made_a_link() -> None:
    templates = build_templates()
    job = Job(id="j", tool="t", arguments={}, idle_timeout=None, max_duration=None, state=JobState.INPUT_REQUIRED)
    for url, linked in [
        ("javascript:alert(1)", False),
        ("data:text/html,<b>x</b>", False),
        ("https://a.example/x", True),
    ]:
        job.questions = [Question("q1", "Open this", None, 0.0, mode="url", url=url)]
        html = templates.get_template("partials/_questions.html").render(job=job)
        assert ('<a class="question-url"' in html) is linked, url
        assert "javascript:alert" not in html.replace('<code class="question-url-text">javascript:alert(1)</code>', "")
