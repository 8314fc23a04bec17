"""Jinja templates and the filters they use. Every template is .html, so autoescape is always on."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from webapp.events import KINDS, LEVELS, Event, Job, iso_time, json_safe
from webapp.mcp_link import ToolSpec
from webapp.schema_form import describe_form
from webapp.settings import Settings


def package_dir(name: str) -> Path:
    """A folder shipped inside the package (a wheel holds them; in the checkout they are links to the top-level
    `templates/` and `static/`), found through importlib.resources wherever the package is installed."""
    found = importlib.resources.files("webapp") / name
    if not isinstance(found, Path) or not found.is_dir():
        raise RuntimeError(f"MCP Live's {name}/ is missing from its installation ({found}): reinstall it")
    return found


TEMPLATES_DIR = package_dir("templates")
STATIC_DIR = package_dir("static")


# What a job's feed renders as its events come (see webapp.feeds).
LINE = "partials/_log_line.html"
STATUS = "partials/_job_status.html"
PROGRESS = "partials/_progress.html"
QUESTIONS = "partials/_questions.html"
LIVE_TEMPLATES = (LINE, STATUS, PROGRESS, QUESTIONS)


def build_templates(settings: Settings | None = None) -> Jinja2Templates:
    """The templates, with the settings they show (the limits) as a global."""
    settings = settings or Settings()
    templates = Jinja2Templates(
        directory=TEMPLATES_DIR, context_processors=[every_server, reader_theme, session_context]
    )
    env = templates.env
    env.trim_blocks = env.lstrip_blocks = True
    # Templates are read once: checking each file for changes on every render costs a stat() per log line.
    env.auto_reload = False
    env.filters.update(
        pretty=pretty,
        compact=compact,
        iso=iso_time,
        level_class=level_class,
        number=number,
        size=size,
        clip=clip,
        duration=duration,
        url_host=url_host,
        web_address=web_address,
    )
    env.globals.update(
        LEVELS=LEVELS,
        KINDS=KINDS,
        example_arguments=example_arguments,
        example_values=example_values,
        describe_form=describe_form,
        settings=settings,
        max_line_bytes=settings.max_line_bytes,
    )
    # Compiled now rather than at the first job's first lines: compiling them takes the event loop for tens of ms.
    for name in LIVE_TEMPLATES:
        env.get_template(name)
    return templates


def every_server(request: Request) -> dict[str, Any]:
    """What every page's header shows: each server's status."""
    services = getattr(request.state, "services", None)
    return {"servers": services.servers.statuses if services is not None else []}


def session_context(request: Request) -> dict[str, Any]:
    """The page's CSRF token (for its forms and static/app.js) and whether its reader signed in with the token (then
    the header offers to log out); see webapp.security.Gate."""
    state = request.scope.get("state", {})
    return {"csrf_token": state.get("csrf_token"), "signed_in": state.get("signed_in", False)}


THEMES = ("light", "dark")


def reader_theme(request: Request) -> dict[str, Any]:
    """The theme the reader chose with the header's toggle (static/theme.js keeps it in the `theme` cookie), so
    the page is drawn in it from the first paint; None: no choice made, the system's (prefers-color-scheme)."""
    theme = request.cookies.get("theme")
    return {"ui_theme": theme if theme in THEMES else None}


COMPACT_WIDTH = 120


def pretty(data: Any) -> str:
    """Log data as a person reads it: strings as they are, small values as one line of JSON, big ones indented."""
    if isinstance(data, str):
        return data
    compact = json.dumps(data, ensure_ascii=False)
    return compact if len(compact) <= COMPACT_WIDTH else json.dumps(data, indent=2, ensure_ascii=False)


def compact(data: Any) -> str:
    """A log line's data on one line: strings as they are, anything else as JSON (the page can indent it)."""
    return data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)


def clip(text: str, max_bytes: int) -> tuple[str, int | None]:
    """`text` as a line shows it: whole, or its first `max_bytes` and its full size in bytes."""
    if len(text) * 4 <= max_bytes:  # a character is at most four bytes
        return text, None
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text, None
    return encoded[:max_bytes].decode("utf-8", "ignore"), len(encoded)


def size(n: int) -> str:
    """Bytes as a person reads them: 812 B, 4.0 KiB, 10.0 MiB."""
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


def level_class(level: str | None) -> str:
    """A CSS-safe level name; a level outside the eight gets its own neutral style."""
    return level if level in LEVELS else "unknown"


def number(value: float | None) -> str:
    """A number as a person writes it: 1000000, not 1e+06; 2.5 stays 2.5."""
    if value is None:
        return "?"
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}"


def duration(seconds: float) -> str:
    """12.3 s, 4:05 or 1:02:03, as app.js writes it too."""
    if seconds < 60:
        return f"{max(seconds, 0):.1f} s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


MAX_PREFILL_BYTES = 16 * 1024  # a default or example bigger than this is not filled in (the tool's default applies)


def example_arguments(tool: ToolSpec | None) -> str:
    """Starting arguments for the form: each property's default, else its first example, else empty. A value too
    big to fill in (MAX_PREFILL_BYTES: a server may put megabytes there) is left out, so the page stays small."""
    return example_values(tool.input_schema if tool is not None else {})


def example_values(schema: Any) -> str:
    """The JSON text of a form's starting values for `schema` (see example_arguments): what a question's form
    shows at first, its defaults applied."""
    if not isinstance(schema, dict):
        return "{}"
    properties = schema.get("properties")
    required = schema.get("required")
    args: dict[str, Any] = {}
    # The schema comes from the server: read it defensively, any part may be of an unexpected type.
    for name, prop in properties.items() if isinstance(properties, dict) else ():
        if not isinstance(prop, dict):
            continue
        examples = prop.get("examples")
        if "default" in prop:
            value = prop["default"]
        elif isinstance(examples, list) and examples:
            value = examples[0]
        elif isinstance(required, list) and name in required:
            value = _empty_value(prop.get("type"))
        else:
            continue
        if len(json.dumps(json_safe(value))) <= MAX_PREFILL_BYTES:
            args[name] = value
    return json.dumps(json_safe(args), indent=2)


def _empty_value(kind: Any) -> Any:
    if not isinstance(kind, str):
        return None
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}.get(kind)


def render_line(templates: Jinja2Templates, event: Event, events_url: str | None = None) -> str:
    """One log line; `events_url`: where its whole event is, by seq (a job's, by default)."""
    return templates.get_template(LINE).render(event=event, events_url=events_url)


def render_status(templates: Jinja2Templates, job: Job) -> str:
    return templates.get_template(STATUS).render(job=job)


def render_questions(templates: Jinja2Templates, job: Job) -> str:
    return templates.get_template(QUESTIONS).render(job=job)


def web_address(url: str | None) -> bool:
    """Whether a server's URL may be a link on the page: http or https only (never javascript: or data:)."""
    try:
        return urlsplit(url or "").scheme in ("http", "https")
    except ValueError:
        return False


def url_host(url: str | None) -> str:
    """The host a question's URL leads to, said in plain text before anyone follows it."""
    try:
        host = urlsplit(url or "").hostname
    except ValueError:
        host = None
    return host or "(no host)"


def render_progress(templates: Jinja2Templates, job: Job) -> str:
    return templates.get_template(PROGRESS).render(job=job)


def render_hidden_lines(templates: Jinja2Templates, job: Job, hidden: int) -> str:
    return templates.get_template("partials/_hidden_lines.html").render(job=job, hidden=hidden)
