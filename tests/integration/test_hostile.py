"""A hostile MCP server (tests/hostile_server.py) against the real dashboard: whatever the server sends, every
answer is JSON or escaped HTML, never a server error, every kept string is valid Unicode, the limits hold, and
the dashboard keeps answering meanwhile."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests import hostile_server as hostile
from tests.helpers import Dashboard, all_events, wait_until
from webapp.bundled import ChildServer

MAX_EVENTS = 500
MAX_EVENT_BYTES = 256 * 1024
ENDED = ("succeeded", "failed", "cancelled", "timed_out", "interrupted")
# The fragments the dashboard's own stream swaps in, and how: any other <hx-partial> would be the server's.
OWN_PARTIAL = re.compile(
    r'data: <hx-partial hx-target="#(log|events-count|progress|job-status|hidden-lines|live-counts|questions)" '
    r'hx-swap="(beforeend|innerHTML|innerMorph|outerHTML)">'
)
# Elements no server text may become. (<details>, <input>, <a> and the like the pages use themselves: an injected
# one is caught by its attributes.)
FORBIDDEN_TAGS = {
    "img", "iframe", "frame", "frameset", "svg", "math", "mtext", "mglyph", "object", "embed", "base", "style",
    "template", "b", "i", "audio", "video", "hx-partial",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "hx-get", "hx-post", "hx-sse:connect", "poster"}


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(response: httpx.Response) -> Any:
    """The body as JSON, strictly: UTF-8, and no NaN or Infinity (which Python's json would take)."""
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return json.loads(response.content.decode("utf-8"), parse_constant=refuse_constant)


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser


def is_own_static(url: str) -> bool:
    """A URL of the dashboard's own static files (the pages write them relative, or absolute on loopback)."""
    parts = urlsplit(url)
    return parts.path.startswith("/static/") and parts.hostname in (None, "127.0.0.1") and parts.scheme in ("", "http")


def injected(html: str) -> list[str]:
    """What in `html` a browser would run or render as server-made markup: elements no server text may become,
    event handlers, `javascript:` URLs, and attributes or URLs that come from a payload (they name `pwned`)."""
    found = []
    for tag, attrs in parse_html(html).elements:
        values = {name: value or "" for name, value in attrs}
        if tag in FORBIDDEN_TAGS:
            found.append(f"<{tag} {values}>")
        elif tag == "script" and not is_own_static(values.get("src", "")):
            found.append(f"<script {values}>")
        elif tag == "link" and not is_own_static(values.get("href", "")):
            found.append(f"<link {values}>")
        elif tag == "meta" and not ("charset" in values or values.get("name") == "viewport"):
            found.append(f"<meta {values}>")
        for name, value in values.items():
            plain = re.sub(r"[\x00-\x20]", "", value).lower()
            runs = name.startswith("on") or name in ("style", "srcdoc")
            leads = name in URL_ATTRIBUTES and (plain.startswith("javascript:") or "pwned" in plain)
            if runs or leads or "pwned" in name:
                found.append(f"<{tag}> with {name}={value!r}")
    return found


def visible_text(html: str) -> str:
    return "".join(parse_html(html).text)


@pytest.fixture(scope="module")
def dashboard(hostile_mcp: ChildServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    db = tmp_path_factory.mktemp("hostile") / "jobs.sqlite3"
    limits = ("--max-events", str(MAX_EVENTS), "--max-event-bytes", str(MAX_EVENT_BYTES))
    app = Dashboard(db, mcp_url=hostile_mcp.url, args=limits).start()
    yield app
    app.stop()


@pytest.fixture
def client(dashboard: Dashboard) -> Iterator[httpx.Client]:
    with dashboard.client() as c:
        yield c


def start(client: httpx.Client, tool: str, **arguments: Any) -> str:
    response = client.post("/api/jobs", json={"tool": tool, "arguments": arguments})
    assert response.status_code == 201, response.text
    job_id: str = strict_json(response)["id"]
    return job_id


def read_stream(client: httpx.Client, job_id: str, timeout: float = 60) -> bytes:
    """A job's whole SSE body, as bytes, up to and with its `event: end` (every read bounded by `timeout`)."""
    body = b""
    with client.stream("GET", f"/jobs/{job_id}/events", timeout=timeout) as response:
        assert response.status_code == 200
        for chunk in response.iter_raw():
            body += chunk
            if re.search(rb"(^|\n)event: end\n(data: [^\n]*\n)?\n", body):
                return body
    raise AssertionError(f"the stream of job {job_id} ended without `event: end`: {body[-500:]!r}")


@pytest.fixture(scope="module")
def jobs(dashboard: Dashboard) -> dict[str, str]:
    """One finished job of each hostile kind, by kind: each run once for the module."""
    with dashboard.client() as client:
        ids = {
            "everything": start(client, hostile.EVERYTHING),
            "failing": start(client, hostile.EVERYTHING, fail=True),
            "big line": start(client, hostile.BIG_LINE),
            "deep json": start(client, hostile.DEEP_JSON),
            "lone surrogates": start(client, hostile.INVALID_UNICODE, how="escapes"),
            "invalid utf-8": start(client, hostile.INVALID_UNICODE, how="bytes"),
            "flood": start(client, hostile.FLOOD, count=5_000),
        }
        for job_id in ids.values():
            wait_until(
                lambda job_id=job_id: strict_json(client.get(f"/api/jobs/{job_id}"))["state"] in ENDED,  # type: ignore[misc]
                what=f"job {job_id} to end",
                timeout=60,
            )
    return ids


def job_of(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = strict_json(response)
    return job


def events_of(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    events = all_events(client, job_id)
    return events


# ---- The server's own description: names, descriptions, schemas -----------------------------------------------


def test_the_hostile_server_is_connected_and_its_tools_are_listed_under_their_hostile_names(
    client: httpx.Client,
) -> None:
    status = strict_json(client.get("/api/server"))
    assert status["state"] == "connected", status
    assert status["name"] == hostile.SERVER_NAME and status["version"] == hostile.SERVER_VERSION
    assert [tool["name"] for tool in status["tools"]] == list(hostile.TOOLS)


def test_every_page_and_fragment_shows_the_servers_names_descriptions_and_defaults_as_text(
    client: httpx.Client,
) -> None:
    pages = ["/", "/fragments/server", "/fragments/start-form", "/fragments/jobs"]
    pages += [f"/tools/arguments?{httpx.QueryParams(tool=name)}" for name in hostile.TOOLS]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
        assert injected(response.text) == [], path
    index = client.get("/").text
    shown = visible_text(index)
    assert hostile.SERVER_NAME in shown and hostile.SERVER_VERSION in shown
    assert hostile.DESCRIPTION in shown
    # The default arguments, in the form's textarea: the hostile parameter's name and default, as JSON.
    assert json.dumps(hostile.PARAMETER_DEFAULT) in shown and json.dumps(hostile.PARAMETER) in shown
    assert all(name in shown for name in hostile.TOOLS)


def test_openapi_json_is_the_dashboards_own_schema_and_names_no_hostile_tool_but_as_json_data(
    client: httpx.Client,
) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    schema = strict_json(response)
    assert not any("pwned" in path for path in schema["paths"])
    # Wherever a tool's name might appear (an example, an enum), it is a JSON string: data, never markup.
    raw = response.text
    for name in hostile.TOOLS:
        for found in re.finditer(re.escape(json.dumps(name)[1:-1]), raw):
            assert raw[found.start() - 1] == '"', "a tool name outside a JSON string"
    assert all(is_valid_unicode(text) for text in strings_in(schema))


# ---- Every answer about hostile jobs ----------------------------------------------------------------------------


def test_every_api_answer_about_hostile_jobs_is_strict_json_and_never_a_server_error(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    paths = ["/api/jobs", "/api/jobs?limit=1000", "/api/server", "/api/servers/default/refresh"]
    for job_id in jobs.values():
        paths += [f"/api/jobs/{job_id}", f"/api/jobs/{job_id}/events", f"/api/jobs/{job_id}/events?after=3&limit=2"]
        last = job_of(client, job_id)["events"]
        paths += [f"/api/jobs/{job_id}/events/{seq}" for seq in range(1, min(last, 80) + 1)]
        paths += [f"/api/jobs/{job_id}/events/{last + 1}", f"/api/jobs/{job_id}/cancel"]
    for path in paths:
        response = client.post(path) if path.endswith(("/cancel", "/refresh")) else client.get(path)
        assert 200 <= response.status_code < 500, (path, response.status_code, response.text[:500])
        strict_json(response)


def test_every_string_kept_of_a_hostile_job_is_valid_unicode_and_no_name_or_message_holds_a_nul(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    for kind, job_id in jobs.items():
        job = job_of(client, job_id)
        events = events_of(client, job_id)
        assert all(is_valid_unicode(text) for text in strings_in([job, events])), kind
        texts = [job["tool"], job["error"] or ""]
        texts += [event[field] or "" for event in events for field in ("level", "logger", "message")]
        assert not [text for text in texts if "\x00" in text], kind


def test_every_hostile_job_page_shows_what_the_server_sent_as_text(client: httpx.Client, jobs: dict[str, str]) -> None:
    for kind, job_id in jobs.items():
        response = client.get(f"/jobs/{job_id}")
        assert response.status_code == 200, (kind, response.text[:500])
        assert injected(response.text) == [], kind
    page = visible_text(client.get(f"/jobs/{jobs['everything']}").text)
    for payload in hostile.PAYLOADS[:9] + hostile.PAYLOADS[12:19]:  # markup only: as it was sent, as text
        assert payload in page, payload


def test_the_live_stream_of_every_hostile_job_escapes_every_payload_and_forges_no_sse_field(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    for kind, job_id in jobs.items():
        body = read_stream(client, job_id)
        assert b"\r" not in body, kind  # no server CR can end a line of ours
        lines = body.decode("utf-8").split("\n")
        events = [line for line in lines if line.startswith("event:")]
        assert events == ["event: end"], (kind, events)
        last_seq = job_of(client, job_id)["events"]
        for line in lines:
            assert line == "" or line.startswith(("data: ", "id: ", "event: ", ":")), (kind, line[:200])
            if line.startswith("id: "):
                assert line[4:].isdigit() and int(line[4:]) <= last_seq, (kind, line)
            if "<hx-partial" in line or "</hx-partial" in line:
                assert OWN_PARTIAL.fullmatch(line) or line == "data: </hx-partial>", (kind, line[:200])
        html = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        assert injected(html.replace("<hx-partial", "<div").replace("</hx-partial>", "</div>")) == [], kind
    stream = visible_text(read_stream(client, jobs["everything"]).decode())
    assert "&lt;script" not in stream and hostile.PAYLOADS[0] in stream  # escaped once: shown as sent


# ---- What each hostile tool sent, as kept ----------------------------------------------------------------------


def test_hostile_payloads_arrive_whole_in_every_field_of_log_progress_and_result(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    job = job_of(client, jobs["everything"])
    assert job["state"] == "succeeded", job
    events = events_of(client, jobs["everything"])
    logs = [event for event in events if event["kind"] == "log"]
    for payload in hostile.PAYLOADS:
        if "\x00" in payload:
            continue  # NUL: see the test on NUL below
        assert any(event["data"] == payload and event["logger"] == payload for event in logs), payload
        assert {"payload": payload, payload: [payload, {"deeper": {payload: hostile.PAYLOADS.index(payload) + 1}}]} in [
            event["data"] for event in logs
        ], payload
        assert any(event["message"] == payload for event in events if event["kind"] == "progress"), payload
    texts = [block["text"] for block in job["result"]["content"]]
    assert texts[:1] == [hostile.PAYLOADS[0]] and len(texts) == len(hostile.PAYLOADS)
    assert job["result"]["structuredContent"]["payloads"][1] == hostile.PAYLOADS[1]
    assert logs[-1]["data"] == "the last line: after every forged one"


def test_odd_and_forged_progress_is_kept_with_a_note_and_never_moves_the_bar(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    job = job_of(client, jobs["everything"])
    progress = [event for event in events_of(client, jobs["everything"]) if event["kind"] == "progress"]
    sane = progress[: len(hostile.PAYLOADS)]
    assert [event["note"] for event in sane] == [None] * len(hostile.PAYLOADS)
    odd = progress[len(hostile.PAYLOADS) :]
    assert [(event["progress"], event["total"]) for event in odd] == [
        (1, 0),  # a zero total
        (2, -5),  # a negative total
        (-3, None),  # negative progress
        (3, None),  # NaN total
        (4, None),  # Infinity
        (None, 10),  # NaN progress
        (None, None),  # -Infinity of -Infinity
        (None, None),  # 1e999 of 1e999
    ]
    assert all(event["note"] for event in odd), odd
    assert [event["note"] for event in odd[3:]] == ["not_finite"] * 5
    # The bar stayed where the last sane progress put it: full.
    assert (job["progress"], job["total"]) == (len(hostile.PAYLOADS), len(hostile.PAYLOADS))
    assert job["message"] == hostile.PAYLOADS[-1]


def test_a_level_that_is_not_a_level_is_kept_as_text_and_malformed_notifications_are_kept_as_they_came(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    events = events_of(client, jobs["everything"])
    malformed = [(event["method"], event["data"]) for event in events if event["kind"] == "notification"]
    assert malformed[:2] == [
        ("notifications/message", {"level": "info", "logger": 123, "data": "<img src=x onerror=window.pwned_153=1>"}),
        ("notifications/message", {"data": "no level"}),
    ]
    method, params = malformed[2]
    assert (method, params["progress"], params["total"]) == ("notifications/progress", "<b>7</b>", 10)
    assert len(malformed) == 3
    levels = [event["level"] for event in events if event["kind"] == "log"]
    assert '<img src=x onerror="window.pwned_151=1">' in levels
    assert "info\ufffd\x1b[31m" in levels  # NUL as U+FFFD
    long_level = next(level for level in levels if level.startswith("<i><i>"))
    assert len(long_level) == 200 and long_level.endswith("…")
    assert job_of(client, jobs["everything"])["state"] == "succeeded"


def test_a_failing_tools_hostile_error_is_kept_whole_and_shown_as_text(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    job = job_of(client, jobs["failing"])
    assert job["state"] == "failed"
    assert hostile.PAYLOADS[0] in job["error"] and hostile.PAYLOADS[12] in job["error"]
    page = client.get(f"/jobs/{jobs['failing']}").text
    assert injected(page) == [] and hostile.PAYLOADS[0] in visible_text(page)


def test_a_10_mb_line_is_kept_cut_to_max_event_bytes_with_the_size_it_had(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    job = job_of(client, jobs["big line"])
    assert job["state"] == "succeeded", job
    events = events_of(client, jobs["big line"])
    assert [event["data_bytes"] for event in events] == [hostile.BIG_LINE_BYTES, None]
    full = json.dumps(hostile.big_line(), ensure_ascii=False).encode()
    assert len(full) == hostile.BIG_LINE_BYTES
    kept = events[0]["data"]
    # The start of the line's JSON text, cut before the character the limit falls in (four bytes, two kept).
    assert kept.encode() == full[: MAX_EVENT_BYTES - 2]
    assert events[1]["data"] == "the line after the big one"
    one = strict_json(client.get(f"/api/jobs/{jobs['big line']}/events/1"))
    assert one["data"] == kept and one["data_bytes"] == hostile.BIG_LINE_BYTES
    page = client.get(f"/jobs/{jobs['big line']}")
    assert "cut: 10.0 MiB were sent" in visible_text(page.text)
    assert len(page.content) < 100_000  # the page shows the line's start, not the 256 KiB kept


def test_json_nested_10000_deep_ends_its_job_cleanly_and_150_deep_is_kept_cut_at_100_levels(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    job = job_of(client, jobs["deep json"])
    assert job["state"] in ("succeeded", "failed"), job
    events = events_of(client, jobs["deep json"])
    assert events[0]["data"] == "before the deep ones"
    shallow = events[1]["data"]
    for _ in range(100):
        assert isinstance(shallow, list) and len(shallow) == 1
        shallow = shallow[0]
    assert shallow == "(cut: nested deeper than 100 levels)"
    if job["state"] == "failed":  # the SDK's parser refused the deep line, and the call with it
        assert "deep" not in json.dumps(events[2:]), events[2:]
        assert job["error"]
    else:
        assert events[-1]["data"] == "after the deep ones"


def test_lone_surrogates_end_the_call_as_the_sdk_cannot_parse_them_and_nothing_invalid_is_kept(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    job = job_of(client, jobs["lone surrogates"])
    assert job["state"] == "failed" and "Failed to parse SSE message" in job["error"], job
    events = events_of(client, jobs["lone surrogates"])
    assert [event["data"] for event in events] == ["before the invalid unicode"]
    assert all(is_valid_unicode(text) for text in strings_in([job, events]))


def test_bytes_that_are_no_utf_8_arrive_as_replacement_characters_and_the_job_goes_on(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    job = job_of(client, jobs["invalid utf-8"])
    assert job["state"] == "succeeded", job
    events = events_of(client, jobs["invalid utf-8"])
    assert events[1]["logger"].endswith("\ufffd<b>x</b>") and events[2]["message"].endswith("\ufffd<b>x</b>")
    assert events[-1]["data"] == "after the invalid unicode"
    assert all(is_valid_unicode(text) for text in strings_in([job, events]))


def test_a_flood_past_max_events_keeps_exactly_max_events_and_counts_the_rest(
    client: httpx.Client, jobs: dict[str, str]
) -> None:
    job = job_of(client, jobs["flood"])
    assert job["state"] == "succeeded", job
    assert (job["events"], job["dropped_events"]) == (MAX_EVENTS, 5_000 - MAX_EVENTS)
    events = events_of(client, jobs["flood"])
    assert [event["data"]["n"] for event in events] == list(range(1, MAX_EVENTS + 1))
    page = client.get(f"/jobs/{jobs['flood']}").text
    assert f"{5_000 - MAX_EVENTS} more event(s) came beyond the limit of {MAX_EVENTS}" in visible_text(page)


# ---- Staying responsive --------------------------------------------------------------------------------------


def test_the_dashboard_keeps_answering_while_a_10_mb_line_and_a_flood_arrive(client: httpx.Client) -> None:
    # Behaviour, not speed (make bench measures that): every request is answered, none is left hanging past a
    # generous bound, while both jobs run to their end.
    big, flood = start(client, hostile.BIG_LINE), start(client, hostile.FLOOD, count=20_000)
    answers = 0
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=client.base_url, timeout=10) as prompt:
        while True:
            assert prompt.get("/api/server").status_code == 200
            states = [strict_json(prompt.get(f"/api/jobs/{job_id}"))["state"] for job_id in (big, flood)]
            answers += 1
            if all(state in ENDED for state in states):
                break
            assert time.monotonic() < deadline, "the jobs did not end within a minute"
    assert answers > 1, "the dashboard was asked only once: the jobs ended before it could be asked again"
    assert job_of(client, flood)["dropped_events"] == 20_000 - MAX_EVENTS


PROMPT = 2.0  # seconds within which the dashboard must answer GET /api/server, however busy


@pytest.fixture
def own_dashboard(hostile_mcp: ChildServer, tmp_path: Path) -> Iterator[Dashboard]:
    """A dashboard of the test's own, which the test may leave frozen: killed at the end, as a frozen one would not
    hear SIGTERM before the end of what froze it."""
    app = Dashboard(tmp_path / "jobs.sqlite3", mcp_url=hostile_mcp.url).start()
    yield app
    app.stop(signal.SIGKILL)


def start_in_background(app: Dashboard, tool: str, arguments: dict[str, Any]) -> list[httpx.Response | Exception]:
    """POST the job from a thread; the list gets its answer (or the error) when it comes."""
    answer: list[httpx.Response | Exception] = []

    def post() -> None:
        try:
            with httpx.Client(base_url=app.url, timeout=60) as slow:
                answer.append(slow.post("/api/jobs", json={"tool": tool, "arguments": arguments}))
        except httpx.HTTPError as exc:
            answer.append(exc)

    threading.Thread(target=post, daemon=True).start()
    return answer


def keep_asking_until(app: Dashboard, answered: list[httpx.Response | Exception], timeout: float = 30) -> None:
    """GET /api/server again and again, each within PROMPT seconds, until the background start has its answer."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=app.url, timeout=PROMPT) as prompt:
        while not answered:
            try:
                assert prompt.get("/api/server").status_code == 200
            except httpx.TimeoutException:
                raise AssertionError(f"the dashboard did not answer GET /api/server within {PROMPT:g} s") from None
            assert time.monotonic() < deadline, "the start got no answer in time"


def schema_fetches(hostile_mcp: ChildServer) -> list[str]:
    """Who fetched a schema document from the hostile server (their User-Agents)."""
    stats = httpx.get(f"http://{hostile_mcp.host}:{hostile_mcp.port}/stats", timeout=5).json()
    fetched_by: list[str] = stats["fetched_by"]
    return fetched_by


def test_a_schema_pattern_that_backtracks_exponentially_does_not_freeze_the_dashboard(
    own_dashboard: Dashboard,
) -> None:
    # The tool's default argument, as the start form pre-fills it: Python's `re` takes hours over it.
    answer = start_in_background(own_dashboard, hostile.REDOS, {"word": hostile.REDOS_DEFAULT})
    keep_asking_until(own_dashboard, answer)
    assert isinstance(answer[0], httpx.Response) and answer[0].status_code < 500, answer


def test_a_schema_reference_to_a_url_is_never_fetched_by_the_dashboard(
    own_dashboard: Dashboard, hostile_mcp: ChildServer
) -> None:
    before = len(schema_fetches(hostile_mcp))
    answer = start_in_background(own_dashboard, hostile.REMOTE_REF, {"value": "x"})
    judged = lambda: bool(answer) or len(schema_fetches(hostile_mcp)) > before  # noqa: E731
    wait_until(judged, what="the start to be judged", timeout=30)
    assert schema_fetches(hostile_mcp)[before:] == []


def test_a_schema_reference_to_a_url_that_answers_slowly_does_not_freeze_the_dashboard(
    own_dashboard: Dashboard,
) -> None:
    answer = start_in_background(own_dashboard, hostile.REMOTE_REF, {"value": "x"})
    keep_asking_until(own_dashboard, answer)
    assert isinstance(answer[0], httpx.Response) and answer[0].status_code < 500, answer
