"""A form from a tool's input schema (webapp.schema_form): the fields a schema gets, what they show, what a
submitted form sends, each error beside its field, and the partial that draws them, hostile schemas included."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from webapp.mcp_link import ToolSpec
from webapp.rendering import build_templates, example_arguments
from webapp.schema_form import (
    JSON_VIEW,
    MAX_FIELDS,
    ArgumentErrors,
    ArgumentsForm,
    arguments_from_form,
    describe_form,
    fields_of,
    read_arguments,
    schema_errors,
    submitted_values,
)

# The bundled server's run_job, as pydantic writes it: an integer, a number, and an integer that may be null.
RUN_JOB: dict[str, Any] = {
    "type": "object",
    "properties": {
        "steps": {"default": 40, "title": "Steps", "type": "integer"},
        "delay": {"default": 0.1, "title": "Delay", "type": "number"},
        "fail_at": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None, "title": "Fail At"},
    },
}
EVERY_KIND: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "Who to greet."},
        "count": {"type": "integer", "minimum": 1},
        "ratio": {"type": "number"},
        "loud": {"type": "boolean", "default": True},
        "colour": {"enum": ["red", "green", 3, None]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "options": {"type": "object", "properties": {"deep": {"type": "object"}}},
        "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "anything": {},
        "ref": {"$ref": "#/$defs/thing"},
        "maybe": {"type": ["string", "null"]},
    },
    "required": ["name", "count", "loud"],
    "$defs": {"thing": {"type": "string"}},
}
HOSTILE = '"><script>window.pwned=1</script><img src=x onerror=alert(1)>'


def kinds(form: ArgumentsForm) -> dict[str, str]:
    return {f.name: f.kind for f in form.fields}


def form_items(arguments: Any = None, **fields: str) -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = [("tool", "t")]
    if arguments is not None:
        items.append((JSON_VIEW, arguments if isinstance(arguments, str) else json.dumps(arguments)))
    items += [(f"arg.{name}", value) for name, value in fields.items()]
    return items


# ---- The fields a schema gets ----


def test_each_property_gets_the_field_its_type_calls_for_and_what_one_field_cannot_hold_is_json() -> None:
    assert kinds(fields_of(EVERY_KIND)) == {
        "name": "text",
        "count": "integer",
        "ratio": "number",
        "loud": "boolean",
        "colour": "choice",
        "tags": "json",
        "options": "json",
        "either": "json",
        "anything": "json",
        "ref": "json",
        "maybe": "text",
    }


def test_required_descriptions_defaults_and_null_are_read_from_the_schema() -> None:
    fields = {f.name: f for f in fields_of(EVERY_KIND).fields}
    assert [name for name, f in fields.items() if f.required] == ["name", "count", "loud"]
    assert fields["name"].hint == "Who to greet."
    assert fields["loud"].default_checked
    assert fields["maybe"].nullable and not fields["name"].nullable
    assert [(c.value, c.label) for c in fields["colour"].choices] == [
        ('"red"', "red"),
        ('"green"', "green"),
        ("3", "3"),
        ("null", "null"),
    ]


def test_pydantics_optional_integer_is_an_integer_field_that_may_be_null() -> None:
    (steps, delay, fail_at) = fields_of(RUN_JOB).fields
    assert (steps.kind, delay.kind, fail_at.kind) == ("integer", "number", "integer")
    assert fail_at.nullable and not steps.nullable


@pytest.mark.parametrize(
    "schema",
    [{}, {"properties": None}, {"properties": []}, {"properties": {"a": 5}}, {"properties": {"a": {"type": 7}}}],
    ids=["no properties", "null", "a list", "a number as a schema", "an odd type"],
)
def test_a_schema_of_unexpected_shape_gives_json_fields_or_none_and_never_fails(schema: dict[str, Any]) -> None:
    assert set(kinds(fields_of(schema)).values()) <= {"json"}


def test_at_most_max_fields_fields_are_made_and_the_rest_are_counted_for_the_json_view() -> None:
    schema = {"properties": {f"p{n}": {"type": "string"} for n in range(MAX_FIELDS + 25)}}
    form = fields_of(schema)
    assert len(form.fields) == MAX_FIELDS
    assert form.left_out == 25


def test_an_enum_too_long_for_a_choice_is_a_field_of_its_type() -> None:
    schema = {"properties": {"word": {"type": "string", "enum": [f"w{n}" for n in range(500)]}}}
    assert kinds(fields_of(schema)) == {"word": "text"}


# ---- What the fields show ----


def test_the_fields_show_the_json_views_values_and_defaults() -> None:
    form = describe_form(EVERY_KIND, json.dumps({"name": "Ada", "count": 3, "colour": 3, "tags": ["a"]}))
    shown = {f.name: (f.value, f.checked, f.json_only) for f in form.fields}
    assert shown["name"] == ("Ada", False, False)
    assert shown["count"] == ("3", False, False)
    assert shown["ratio"] == ("", False, False)
    assert shown["loud"] == ("", True, False)  # absent: the checkbox shows the default
    assert shown["colour"] == ("3", False, False)
    assert json.loads(shown["tags"][0]) == ["a"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("count", "lots"), ("count", 2.5), ("ratio", True), ("name", 5), ("name", "two\nlines"), ("loud", None)],
)
def test_a_value_a_field_cannot_show_turns_the_field_off_for_the_json_view_to_decide(name: str, value: Any) -> None:
    form = describe_form(EVERY_KIND, json.dumps({name: value}))
    (field,) = [f for f in form.fields if f.name == name]
    assert field.json_only
    # And the form sent without it (a turned-off field is not sent) keeps the JSON view's value.
    assert arguments_from_form(EVERY_KIND, form_items({name: value})) == {name: value}


def test_null_in_a_field_that_may_be_null_shows_empty() -> None:
    (_, _, fail_at) = describe_form(RUN_JOB, '{"fail_at": null}').fields
    assert (fail_at.value, fail_at.json_only) == ("", False)


def test_what_was_typed_comes_back_in_the_fields_with_the_form() -> None:
    form = describe_form(RUN_JOB, '{"steps": 40}', {"arg.steps": "4x", "arg.delay": ""})
    assert [f.value for f in form.fields] == ["4x", "", ""]


def test_invalid_json_in_the_json_view_leaves_the_fields_empty() -> None:
    assert [f.value for f in describe_form(RUN_JOB, "{nope").fields] == ["", "", ""]


# ---- What a submitted form sends ----


def test_fields_win_over_the_json_view_for_their_properties_and_the_rest_is_kept() -> None:
    items = form_items({"steps": 1, "delay": 9, "extra": [1]}, steps="12", delay="0.5", fail_at="3")
    assert arguments_from_form(RUN_JOB, items) == {"steps": 12, "delay": 0.5, "extra": [1], "fail_at": 3}


def test_an_empty_optional_field_leaves_its_argument_out_even_if_the_json_view_has_it() -> None:
    items = form_items({"steps": 1, "fail_at": None}, steps="", delay=" ", fail_at="")
    assert arguments_from_form(RUN_JOB, items) == {}


def test_a_form_with_only_the_json_view_sends_it_as_it_is() -> None:
    assert arguments_from_form(RUN_JOB, form_items({"steps": "lots"})) == {"steps": "lots"}
    assert arguments_from_form(RUN_JOB, [("tool", "run_job")]) == {}


def test_each_kind_reads_its_text() -> None:
    items = form_items(
        {},
        name="  Ada ",
        count="1e3",
        ratio="-.5",
        loud="true",
        colour="null",
        tags='["x", "y"]',
        anything='{"a": 1}',
        maybe="",
    )
    # The checkbox: a hidden "false" comes first, the checked box's "true" after it.
    items.insert(1, ("arg.loud", "false"))
    assert arguments_from_form(EVERY_KIND, items) == {
        "name": "  Ada ",
        "count": 1000,
        "ratio": -0.5,
        "loud": True,
        "colour": None,
        "tags": ["x", "y"],
        "anything": {"a": 1},
    }


def test_an_unchecked_checkbox_sends_false() -> None:
    assert arguments_from_form(EVERY_KIND, form_items({"loud": True}, loud="false")) == {"loud": False}


def test_required_empty_fields_send_an_empty_string_or_null_where_the_schema_allows_it() -> None:
    schema = {
        "properties": {"text": {"type": "string"}, "n": {"type": ["integer", "null"]}, "m": {"type": "integer"}},
        "required": ["text", "n", "m"],
    }
    assert arguments_from_form(schema, form_items({}, text="", n="", m="")) == {"text": "", "n": None}


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("count", "lots", "Must be a whole number"),
        ("count", "2.5", "Must be a whole number"),
        ("count", "0x10", "Must be a whole number"),
        ("count", "1" * 500, "Must be a whole number"),
        ("ratio", "1e999", "usual size"),
        ("ratio", "NaN", "Must be a number"),
        ("ratio", "١٢", "Must be a number"),  # digits, but not ASCII ones
        ("tags", "[1,", "Not valid JSON"),
        ("tags", "[" * 100_000 + "]" * 100_000, "will not read"),
        ("colour", '"blue"', "Choose one of the values offered"),
        ("loud", "maybe", "true or false"),
    ],
)
def test_a_field_whose_text_is_no_value_of_its_kind_gets_its_own_message(field: str, text: str, message: str) -> None:
    with pytest.raises(ArgumentErrors) as caught:
        arguments_from_form(EVERY_KIND, form_items({}, **{field: text}))
    assert list(caught.value.errors) == [f"arg.{field}"]
    assert message in caught.value.errors[f"arg.{field}"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "Arguments are not valid JSON"),
        ("[1]", "Arguments must be a JSON object"),
        ("1" * 5000, "will not read"),
    ],
)
def test_a_json_view_that_is_no_object_is_the_json_views_error(text: str, message: str) -> None:
    with pytest.raises(ArgumentErrors) as caught:
        arguments_from_form(RUN_JOB, form_items(text, steps="3"))
    assert list(caught.value.errors) == [JSON_VIEW]
    assert message in caught.value.errors[JSON_VIEW]


def test_form_values_that_are_files_or_other_names_are_ignored() -> None:
    items: list[tuple[str, object]] = [("arg.steps", object()), ("arg.unknown", "5"), ("other", "x")]
    assert submitted_values(items) == {"arg.unknown": "5"}
    assert arguments_from_form(RUN_JOB, items) == {}


# ---- Checked against the schema, each message beside its field ----


def test_schema_errors_are_put_beside_their_fields_and_the_rest_beside_the_json_view() -> None:
    schema = {**EVERY_KIND, "additionalProperties": False}
    arguments = {"name": "x", "count": 0, "tags": ["a", 7], "surprise": 1}
    errors = schema_errors(schema, arguments)
    assert errors == {
        "arg.count": "0 is less than the minimum of 1",
        "arg.tags": 'at /1: 7 is not of type "string"',
        "arg.loud": "Required.",
        JSON_VIEW: "Additional properties are not allowed ('surprise' was unexpected)",
    }


def test_read_arguments_gives_every_fields_message_at_once_reading_errors_first() -> None:
    with pytest.raises(ArgumentErrors) as caught:
        read_arguments(EVERY_KIND, form_items({"loud": True}, name="Ada", count="many", ratio="x2", tags='"a"'))
    assert caught.value.errors == {
        "arg.count": "Must be a whole number, like 40.",
        "arg.ratio": "Must be a number, like 0.5.",
        "arg.tags": '"a" is not of type "array"',
    }
    assert caught.value.message.startswith("Some arguments need a change. count: Must be a whole number, like 40. ")
    assert caught.value.status_code == 400  # text that is no number is malformed input


def test_values_that_are_read_but_do_not_fit_the_schema_are_a_422_summed_up_in_a_sentence_each() -> None:
    schema = {**EVERY_KIND, "additionalProperties": False}
    with pytest.raises(ArgumentErrors) as caught:
        read_arguments(schema, form_items({"name": "x", "loud": True, "surprise": 1}, count="0"))
    assert caught.value.status_code == 422
    assert caught.value.message == (
        "Some arguments need a change. count: 0 is less than the minimum of 1. "
        "Additional properties are not allowed ('surprise' was unexpected)."
    )


def test_read_arguments_passes_what_fits() -> None:
    assert read_arguments(RUN_JOB, form_items({}, steps="3", delay="0", fail_at="")) == {"steps": 3, "delay": 0}


def test_a_schema_that_refers_elsewhere_is_never_fetched_and_the_server_alone_judges() -> None:
    schema = {"properties": {"v": {"$ref": "http://127.0.0.1:9/never.json"}}}
    assert schema_errors(schema, {"v": 1}) == {}


def test_a_backtracking_pattern_is_checked_in_linear_time() -> None:
    schema = {"properties": {"word": {"type": "string", "pattern": "^(a+)+$"}}}
    started = time.monotonic()
    errors = schema_errors(schema, {"word": "a" * 40 + "!"})
    assert time.monotonic() - started < 1  # Python's re would take hours
    assert list(errors) == ["arg.word"]


# ---- The partial that draws them ----

templates = build_templates()


def render(schema: dict[str, Any], arguments: str, **context: Any) -> str:
    form = describe_form(schema, arguments, context.pop("submitted", None))
    return templates.get_template("partials/_arguments.html").render(
        tool=None, arguments=arguments, argument_form=form, **context
    )


def test_the_partial_draws_each_kind_marks_required_fields_and_describes_them() -> None:
    html = render(EVERY_KIND, '{"name": "Ada"}')
    assert '<input type="text" class="arg-control" id="arg-0" name="arg.name" required' in html
    assert 'aria-describedby="arg-0-hint"' in html and 'id="arg-0-hint">Who to greet.</p>' in html
    assert 'value="Ada"' in html
    assert 'type="number" class="arg-control" id="arg-1" name="arg.count" required' in html and 'step="1"' in html
    assert 'name="arg.ratio"' in html and 'step="any"' in html
    assert '<input type="hidden" name="arg.loud" value="false">' in html
    assert (
        'type="checkbox" class="arg-control" id="arg-3" name="arg.loud" value="true" checked aria-required="true"'
        in html
    )
    assert '<option value="&#34;red&#34;">red</option>' in html
    assert '<textarea class="arg-control" id="arg-5" name="arg.tags"' in html
    assert '<textarea id="arguments" name="arguments"' in html  # the JSON view stays


def test_the_partial_puts_each_error_beside_its_field_with_aria_invalid() -> None:
    html = render(RUN_JOB, "{}", field_errors={"arg.steps": "Must be a whole number.", JSON_VIEW: "Not valid JSON."})
    assert 'aria-describedby="arg-0-error" aria-invalid="true"' in html
    assert 'id="arg-0-error">Must be a whole number.</p>' in html
    assert 'aria-describedby="arguments-sync arguments-error" aria-invalid="true"' in html
    assert 'id="arguments-error">Not valid JSON.</p>' in html


def test_a_field_that_cannot_show_its_value_is_drawn_off_and_says_why() -> None:
    html = render(RUN_JOB, '{"steps": "lots"}')
    assert 'name="arg.steps" disabled aria-describedby="arg-0-json-only"' in html
    assert 'id="arg-0-json-only">The JSON view below holds a value this field cannot show' in html


def test_a_hostile_schema_is_drawn_as_text_only() -> None:
    schema = {
        "properties": {
            HOSTILE: {"type": "string", "description": HOSTILE, "default": HOSTILE, "title": HOSTILE},
            "pick": {"enum": [HOSTILE, {HOSTILE: HOSTILE}]},
            "deep": {"type": "object", "default": {HOSTILE: [HOSTILE]}},
        },
        "required": [HOSTILE],
    }
    arguments = json.dumps({HOSTILE: HOSTILE, "pick": HOSTILE, "deep": {HOSTILE: [HOSTILE]}})
    html = render(schema, arguments, field_errors={f"arg.{HOSTILE}": HOSTILE})
    assert "<script" not in html and "<img" not in html
    assert 'name="arg.&#34;&gt;&lt;script&gt;' in html
    assert "onerror=alert(1)&gt;" in html  # as text, inside attributes and elements alike


def test_the_partial_without_fields_is_the_json_view_alone() -> None:
    html = templates.get_template("partials/_arguments.html").render(tool=None, arguments="{}")
    assert "arg-fields" not in html and '<textarea id="arguments" name="arguments"' in html


def test_properties_beyond_the_limit_are_said_to_be_in_the_json_view() -> None:
    schema = {"properties": {f"p{n}": {"type": "string"} for n in range(MAX_FIELDS + 1)}}
    assert "1 more property has no field here: set it in the JSON view." in render(schema, "{}")


def test_regression_a_schema_with_megabytes_of_defaults_and_choices_draws_a_small_form() -> None:
    # A server's 6 MB default once became a 36 MB form page (issue 21, finding 4).
    huge = "x" * (6 * 1024 * 1024)
    schema = {
        "properties": {
            "blob": {"type": "string", "default": huge},
            "pick": {"enum": [huge, "small"]},
            "steps": {"type": "integer", "default": 3},
        }
    }
    tool = ToolSpec("t", "", schema)
    arguments = example_arguments(tool)
    assert json.loads(arguments) == {"steps": 3}  # too big to fill in: left out, so the tool's default applies
    html = render(schema, arguments)
    assert len(html) < 64 * 1024
    assert kinds(fields_of(schema))["pick"] == "json"  # no choice carrying megabytes twice


def test_a_questions_titled_choices_are_a_choice_labelled_by_their_titles() -> None:
    schema = {
        "properties": {
            "interpretation": {
                "type": "string",
                "oneOf": [{"const": "programming", "title": "Python programming language"}, {"const": "snake"}],
            }
        }
    }
    (field,) = fields_of(schema).fields
    assert field.kind == "choice"
    assert [(c.value, c.label) for c in field.choices] == [
        ('"programming"', "Python programming language"),
        ('"snake"', "snake"),
    ]
    assert read_arguments(schema, [("arg.interpretation", '"programming"')]) == {"interpretation": "programming"}
