"""A form from a tool's input schema: a field per property, read back into the arguments object.

The start form shows one field per property (text, number, whole number, checkbox, a choice, or JSON for what a
single field cannot hold) beside the JSON view of the whole object, the `arguments` textarea; static/app.js keeps
the two in step, and the server reads both: a field wins for its property, the JSON view holds the rest. The same
rules hold here and in app.js: an empty field leaves its argument out (the tool's default applies), and a value a
field cannot show (a string in the JSON view where a number is expected) disables that field, so that the JSON
view decides.

The schema is the MCP server's, so untrusted: every text is escaped by the templates, at most MAX_FIELDS fields are
made, nesting is one level (a nested object is a JSON field), and arguments are checked with jsonschema_rs as
services.check_arguments does: a linear-time regex engine, and no `$ref` ever fetched.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import jsonschema_rs

from webapp.events import clean_text

FIELD_PREFIX = "arg."  # a field's name in the form: arg.<property>
JSON_VIEW = "arguments"  # the textarea with the whole arguments object
MAX_FIELDS = 100  # fields made from one schema; the other properties are edited in the JSON view
MAX_CHOICES = 100  # an enum with more values is a plain field of its type
MAX_CHOICE_BYTES = 1024  # an enum with a value longer than this (as JSON) is a plain field of its type
MAX_HINT = 1000  # characters of a description shown
MAX_LABEL = 200  # characters of a property's name shown
MAX_MESSAGE = 300  # characters of an error message shown
MAX_ERRORS = 100  # validation errors read from one check
MAX_NUMBER_TEXT = 100  # characters of a number field read: past that it is no number a tool wants

Kind = Literal["text", "number", "integer", "boolean", "choice", "json"]
KIND_OF_TYPE: dict[str, Kind] = {"string": "text", "number": "number", "integer": "integer", "boolean": "boolean"}
TYPE_LABELS: dict[Kind, str] = {
    "text": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "choice": "one of",
    "json": "JSON",
}
# A number as a person (or a browser's number field) writes it: 12, -3.5, .5, 1e3. ASCII digits only.
NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
WHOLE = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a choice field: `value` is the JSON text of the enum value, `label` what a person reads."""

    value: str
    label: str


@dataclass(frozen=True, slots=True)
class ArgumentField:
    """One property of the schema as a form field, with what it shows now."""

    name: str  # the property, as the arguments object spells it
    index: int  # its place in the form: element ids are made from it, never from the name
    kind: Kind
    required: bool = False
    nullable: bool = False  # the schema allows null: a required empty field sends null
    hint: str = ""  # the property's description
    choices: tuple[Choice, ...] = ()
    default_checked: bool = False  # a checkbox whose argument is absent shows the default
    value: str = ""  # what the control shows: text, a number, JSON text, or the chosen Choice.value
    checked: bool = False
    json_only: bool = False  # the JSON view holds a value this field cannot show: the field is off, the JSON decides

    @property
    def input_name(self) -> str:
        return FIELD_PREFIX + self.name

    @property
    def id(self) -> str:
        return f"arg-{self.index}"

    @property
    def label(self) -> str:
        return clip(self.name, MAX_LABEL)

    @property
    def type_label(self) -> str:
        return TYPE_LABELS[self.kind]


@dataclass(frozen=True, slots=True)
class ArgumentsForm:
    """The fields of a tool's arguments, and how many properties have none (beyond MAX_FIELDS)."""

    fields: tuple[ArgumentField, ...] = ()
    left_out: int = 0


class ArgumentErrors(ValueError):
    """Arguments the form cannot send: a message for each field that is wrong (`JSON_VIEW` for the JSON view).
    `status_code`: 400 for text that is no value (malformed input), 422 for values that do not fit the schema."""

    def __init__(self, errors: Mapping[str, str], status_code: int = 400) -> None:
        self.errors = dict(errors)
        self.status_code = status_code
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = [text if name == JSON_VIEW else f"{where(name)}: {text}" for name, text in self.errors.items()]
        return "Some arguments need a change. " + " ".join(part if part.endswith(".") else part + "." for part in parts)


class FieldError(ValueError):
    """A field's text is not a value of its kind."""


def where(field_name: str) -> str:
    """The property a field name stands for."""
    return field_name.removeprefix(FIELD_PREFIX)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- The schema as fields ----


def fields_of(schema: Mapping[str, Any]) -> ArgumentsForm:
    """The fields of `schema` (a tool's input schema), empty, in the order of its properties."""
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping):
        return ArgumentsForm()
    required = schema.get("required")
    required_names = {name for name in required if isinstance(name, str)} if isinstance(required, list) else set()
    fields: list[ArgumentField] = []
    left_out = 0
    for name, prop in properties.items():
        # A name that is not valid Unicode could not travel through the form unchanged: the JSON view has it.
        if len(fields) >= MAX_FIELDS or not isinstance(name, str) or clean_text(name) != name:
            left_out += 1
            continue
        fields.append(field_of(name, prop, len(fields), name in required_names))
    return ArgumentsForm(tuple(fields), left_out)


def field_of(name: str, prop: Any, index: int, required: bool) -> ArgumentField:
    kind, nullable, choices = kind_of(prop)
    description = prop.get("description") if isinstance(prop, Mapping) else None
    hint = clip(clean_text(description), MAX_HINT) if isinstance(description, str) else ""
    default_checked = kind == "boolean" and isinstance(prop, Mapping) and prop.get("default") is True
    return ArgumentField(name, index, kind, required, nullable, hint, choices, default_checked)


def kind_of(prop: Any) -> tuple[Kind, bool, tuple[Choice, ...]]:
    """The field a property gets, whether it may be null, and its choices. What one field cannot express (a
    reference, a union, no type, an object or array) is a JSON field."""
    if not isinstance(prop, Mapping) or "$ref" in prop or "allOf" in prop:
        return "json", False, ()
    titled = titled_choices(prop.get("oneOf", prop.get("anyOf")))
    if titled is not None:
        return "choice", False, titled
    base: Mapping[str, Any] = prop
    nullable = False
    unions = [prop[key] for key in ("anyOf", "oneOf") if key in prop]
    if unions:
        other = non_null_alternative(unions[0]) if len(unions) == 1 else None
        if other is None:
            return "json", False, ()
        base, nullable = {**prop, **other}, True
    values = [base["const"]] if "const" in base else base.get("enum")
    if isinstance(values, list) and 0 < len(values) <= MAX_CHOICES:
        choices = choices_of(values)
        if choices is not None:
            return "choice", nullable, choices
    kind = base.get("type")
    if isinstance(kind, list):
        names = [k for k in kind if isinstance(k, str)]
        others = [k for k in names if k != "null"]
        if len(names) != len(kind) or len(others) != 1:
            return "json", False, ()
        nullable = nullable or "null" in names
        kind = others[0]
    if not isinstance(kind, str) or kind not in KIND_OF_TYPE:
        return "json", nullable, ()
    return KIND_OF_TYPE[kind], nullable, ()


def titled_choices(alternatives: Any) -> tuple[Choice, ...] | None:
    """`oneOf: [{"const": ..., "title": ...}, ...]`, how a question (elicitation) offers choices with names for
    people: a choice of those values, each labelled by its title."""
    if not isinstance(alternatives, list) or not 0 < len(alternatives) <= MAX_CHOICES:
        return None
    if not all(isinstance(a, Mapping) and "const" in a for a in alternatives):
        return None
    choices = choices_of([a["const"] for a in alternatives])
    if choices is None or len(choices) != len(alternatives):
        return None
    titles = [a.get("title") for a in alternatives]
    return tuple(
        replace(choice, label=clip(clean_text(title), MAX_LABEL)) if isinstance(title, str) and title else choice
        for choice, title in zip(choices, titles, strict=True)
    )


def non_null_alternative(alternatives: Any) -> Mapping[str, Any] | None:
    """`X` of `anyOf: [X, {"type": "null"}]` (how pydantic writes `X | None`), if X is a plain schema."""
    if not isinstance(alternatives, list) or len(alternatives) != 2:
        return None
    nulls = [a for a in alternatives if isinstance(a, Mapping) and a.get("type") == "null"]
    others = [a for a in alternatives if a not in nulls]
    if len(nulls) != 1 or len(others) != 1 or not isinstance(others[0], Mapping):
        return None
    other: Mapping[str, Any] = others[0]
    if any(key in other for key in ("$ref", "allOf", "anyOf", "oneOf")):
        return None
    return other


def choices_of(values: list[Any]) -> tuple[Choice, ...] | None:
    choices: list[Choice] = []
    seen: set[str] = set()
    for value in values:
        try:
            # ASCII JSON: a lone surrogate in an enum value travels escaped, and comes back the same.
            text = json.dumps(value, allow_nan=False)
        except (ValueError, TypeError, RecursionError):
            return None
        if len(text) > MAX_CHOICE_BYTES:  # a choice the page would carry twice (value and label): a plain field
            return None
        key = canonical(value)
        if key in seen:
            continue
        seen.add(key)
        label = clean_text(value) if isinstance(value, str) else clean_text(json.dumps(value, ensure_ascii=False))
        choices.append(Choice(text, clip(label, MAX_LABEL)))
    return tuple(choices)


def canonical(value: Any) -> str:
    """JSON text equal for equal values, as JavaScript compares them: 1 and 1.0 alike, true and 1 not."""
    return json.dumps(plain_numbers(value), sort_keys=True)


def plain_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    return value


# ---- What the fields show ----


def describe_form(
    schema: Mapping[str, Any], arguments: str, submitted: Mapping[str, str] | None = None
) -> ArgumentsForm:
    """The fields of `schema`, showing the values of `arguments` (the JSON view's text), or what was `submitted`
    in them (`submitted_values`) when the form comes back with errors: what the person typed stays."""
    form = fields_of(schema)
    current, _ = read_json_view(arguments)
    shown = []
    for field in form.fields:
        if submitted is not None and field.input_name in submitted:
            raw = submitted[field.input_name]
            shown.append(replace(field, value=raw, checked=raw in ("true", "on")))
        else:
            shown.append(show(field, current or {}))
    return ArgumentsForm(tuple(shown), form.left_out)


def show(field: ArgumentField, arguments: Mapping[str, Any]) -> ArgumentField:
    """`field` showing its argument in `arguments`; off (`json_only`) when it cannot show it."""
    present = field.name in arguments
    value = arguments.get(field.name)
    if field.kind == "boolean":
        if not present:
            return replace(field, checked=field.default_checked)
        return replace(field, checked=value) if isinstance(value, bool) else replace(field, json_only=True)
    if field.kind == "choice":
        key = canonical(value) if present else None
        for choice in field.choices:
            if present and canonical(json.loads(choice.value)) == key:
                return replace(field, value=choice.value)
    if not present or (value is None and field.nullable):
        return field
    text = shown_text(field.kind, value)
    return replace(field, value=text) if text is not None else replace(field, json_only=True)


def shown_text(kind: Kind, value: Any) -> str | None:
    """`value` as a field of `kind` shows it, or None if it cannot."""
    if kind == "text":
        # A one-line field cannot hold a line break, nor a page invalid Unicode or NUL.
        fits = isinstance(value, str) and "\n" not in value and "\r" not in value and clean_text(value) == value
        return value if fits else None
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if isinstance(value, float) and not (math.isfinite(value) and (kind == "number" or value.is_integer())):
            return None
        try:
            return str(value) if isinstance(value, int) else repr(value)
        except ValueError:  # an int of more digits than Python will write
            return None
    if kind == "json":
        try:
            text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
        except (ValueError, TypeError, RecursionError):
            return None
        return text if clean_text(text) == text else json.dumps(value, indent=2)
    return None


# ---- What the form sends ----


def submitted_values(items: Iterable[tuple[str, object]]) -> dict[str, str]:
    """Each field's text in a submitted form (`(await request.form()).multi_items()`): the last value of each
    `arg.` name wins, so a checkbox's "true" beats the "false" of the hidden input before it."""
    return {name: value for name, value in items if name.startswith(FIELD_PREFIX) and isinstance(value, str)}


def read_json_view(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON view's object, or None and why not."""
    value, error = read_json(text.strip() or "{}")
    if error is not None:
        return None, f"Arguments are {error}"
    if not isinstance(value, dict):
        return None, 'Arguments must be a JSON object, like {"steps": 40}.'
    return value, None


def read_field(field: ArgumentField, raw: str) -> tuple[bool, Any]:
    """(whether the argument is sent, its value) for a field's text; FieldError when the text is no value."""
    if field.kind == "boolean":
        if raw in ("true", "on", "false"):
            return True, raw != "false"
        raise FieldError("Must be true or false.")
    if (raw if field.kind == "text" else raw.strip()) == "":
        if field.required and field.kind == "text":
            return True, ""
        if field.required and field.nullable:
            return True, None
        return False, None
    if field.kind == "text":
        return True, raw
    if field.kind in ("number", "integer"):
        return True, read_number(raw.strip(), whole=field.kind == "integer")
    if field.kind == "choice":
        for choice in field.choices:
            if raw == choice.value:
                return True, json.loads(choice.value)
        raise FieldError("Choose one of the values offered.")
    value, error = read_json(raw)
    if error is not None:
        raise FieldError(error[0].upper() + error[1:])
    return True, value


def read_number(text: str, *, whole: bool) -> int | float:
    if len(text) > MAX_NUMBER_TEXT or not NUMBER.fullmatch(text):
        raise FieldError(f"Must be a {'whole ' if whole else ''}number, like {'40' if whole else '0.5'}.")
    if WHOLE.fullmatch(text):
        return int(text)
    number = float(text)
    if not math.isfinite(number):
        raise FieldError("Must be a number of a usual size.")
    if whole:
        if not number.is_integer():
            raise FieldError("Must be a whole number.")
        return int(number)
    return number


def read_json(text: str) -> tuple[Any, str | None]:
    """The value of JSON text, or None and why not, to follow "Arguments are" (as pages.parse_arguments says)."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
    except (ValueError, RecursionError) as exc:  # a number of thousands of digits, nesting thousands deep
        return None, f"JSON this dashboard will not read: {str(exc)[:120]}"


def arguments_from_form(schema: Mapping[str, Any], items: Iterable[tuple[str, object]]) -> dict[str, Any]:
    """The arguments object a submitted form asks for: the JSON view's, with each field's value over it (an empty
    optional field leaves its argument out). ArgumentErrors when a field's text is no value of its kind, or the
    JSON view is no JSON object. A form without fields (a script that sends only `arguments`) is its JSON view."""
    arguments, errors, _ = read_form(schema, list(items))
    if errors:
        raise ArgumentErrors(errors)
    return arguments


def read_form(
    schema: Mapping[str, Any], items: list[tuple[str, object]]
) -> tuple[dict[str, Any], dict[str, str], bool]:
    """(the arguments, each field's error, whether the JSON view was read)."""
    texts = [value for name, value in items if name == JSON_VIEW and isinstance(value, str)]
    arguments, view_error = read_json_view(texts[-1] if texts else "{}")
    errors = {JSON_VIEW: view_error} if view_error is not None else {}
    arguments = arguments or {}
    submitted = submitted_values(items)
    for field in fields_of(schema).fields:
        if field.input_name not in submitted:
            continue  # not in the form (or off, for the JSON view to decide): the JSON view's value stands
        try:
            present, value = read_field(field, submitted[field.input_name])
        except FieldError as exc:
            errors[field.input_name] = str(exc)
            arguments.pop(field.name, None)
            continue
        if present:
            arguments[field.name] = value
        else:
            arguments.pop(field.name, None)
    return arguments, errors, view_error is None


# ---- Checking against the schema ----


def read_arguments(schema: Mapping[str, Any], items: Iterable[tuple[str, object]]) -> dict[str, Any]:
    """`arguments_from_form`, then checked against `schema`: ArgumentErrors with every field's message, those of
    reading first (a field that is no number is not also said to be missing)."""
    arguments, errors, view_read = read_form(schema, list(items))
    unreadable = bool(errors)
    if view_read:
        for name, message in schema_errors(schema, arguments).items():
            errors.setdefault(name, message)
    if errors:
        raise ArgumentErrors(errors, 400 if unreadable else 422)
    return arguments


def schema_errors(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> dict[str, str]:
    """{field name: message} for what does not fit `schema`; empty when all fits, or when the schema cannot be
    used (invalid, referring to other documents, a pattern the linear-time engine cannot run): then, as in
    services.check_arguments, the server alone judges."""
    try:
        validator = jsonschema_rs.validator_for(
            dict(schema), retriever=refuse_to_fetch, pattern_options=jsonschema_rs.RegexOptions()
        )
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError):
        return {}
    errors = []
    for error in validator.iter_errors(dict(arguments)):
        errors.append(error)
        if len(errors) >= MAX_ERRORS:
            break
    return errors_by_field(errors, fields_of(schema))


def errors_by_field(errors: Iterable[jsonschema_rs.ValidationError], form: ArgumentsForm) -> dict[str, str]:
    """The first message for each field, from jsonschema_rs errors: an error inside a property goes beside its
    field (with where inside it, for a JSON field); a missing required property too; the rest (an unexpected
    property, one without a field) beside the JSON view."""
    names = {field.name for field in form.fields}
    found: dict[str, str] = {}
    for error in errors:
        path = list(error.instance_path)
        message = clip(error.message, MAX_MESSAGE)
        if path and isinstance(path[0], str) and path[0] in names:
            key, inner = FIELD_PREFIX + path[0], path[1:]
        elif not path and isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Required):
            missing = error.kind.property
            key, inner = (FIELD_PREFIX + missing, []) if missing in names else (JSON_VIEW, [])
            if missing in names:
                message = "Required."
        else:
            key, inner = JSON_VIEW, path
        if inner:
            message = f"at {pointer(inner)}: {message}"
        found.setdefault(key, message)
    return found


def pointer(path: list[str | int]) -> str:
    """A JSON Pointer (RFC 6901) to a place in the arguments."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def refuse_to_fetch(uri: str) -> Any:
    raise ValueError(f"{uri} is not fetched: a tool's schema may only refer to itself")
