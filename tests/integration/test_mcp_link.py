"""The MCP link against the real bundled server over loopback HTTP, on both transports."""

from __future__ import annotations

import ssl
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpcore2
import pytest

from webapp.bundled import ChildServer, free_port
from webapp.events import ProgressNote
from webapp.mcp_link import HttpTarget, LinkError, StdioTarget, Target, describe_server, open_link
from webapp.tls import tls_context

pytestmark = pytest.mark.anyio


class Sink:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.stderr_lines: list[str] = []

    def log(self, level: str, logger: str | None, data: Any) -> None:
        self.seen.append(("log", data))

    def progress(
        self, progress: float, total: float | None, message: str | None, *, note: ProgressNote | None = None
    ) -> None:
        self.seen.append((f"progress ({note})" if note else "progress", progress))

    def notification(self, method: str, params: Any) -> None:
        self.seen.append(("notification", method))

    def request(self, method: str, params: Any, note: str = "refused") -> None:
        self.seen.append(("request", method))

    def stderr(self, line: str) -> None:
        self.stderr_lines.append(line)

    def task_status(self, params: dict[str, Any]) -> None:
        self.seen.append(("task status", params.get("status")))


@pytest.fixture(
    params=[
        ("/mcp", "auto"),
        ("/sse", "auto"),
        ("/mcp", "legacy"),
        ("/sse", "legacy"),
        ("stdio", "auto"),
        ("stdio", "legacy"),
    ],
    ids=[
        "streamable-http",
        "legacy-sse",
        "streamable-http-2025-session",
        "legacy-sse-2025-session",
        "stdio",
        "stdio-2025-session",
    ],
)
def target(request: pytest.FixtureRequest, mcp_server: ChildServer) -> Target:
    path, protocol = request.param
    if path == "stdio":
        return StdioTarget(sys.executable, ("-m", "webapp.demo_server", "--transport", "stdio"), protocol)
    return HttpTarget(mcp_server.url.removesuffix("/mcp") + path, protocol)


async def test_every_notification_is_relayed_in_arrival_order_before_the_call_returns(target: Target) -> None:
    sink = Sink()
    async with open_link(target, sink, token="t") as link:
        outcome = await link.call_tool("flood", {"count": 1500})
        seen_when_the_call_returned = list(sink.seen)
    assert not outcome.is_error
    # The server alternates log n, progress n: any loss, duplicate or swap breaks this exact list.
    expected: list[tuple[str, Any]] = []
    for n in range(1, 1501):
        expected += [("log", {"n": n}), ("progress", n)]
    assert seen_when_the_call_returned == expected
    assert sink.seen == seen_when_the_call_returned


async def test_other_notifications_and_server_requests_are_relayed_in_order_with_their_method(target: Target) -> None:
    sink = Sink()
    async with open_link(target, sink, token="t") as link:
        outcome = await link.call_tool("announce_changes", {})
    assert outcome.text == "announced 4 change(s)"
    changes = [
        ("notification", "notifications/resources/updated"),
        ("notification", "notifications/resources/list_changed"),
        ("notification", "notifications/tools/list_changed"),
        ("notification", "notifications/prompts/list_changed"),
    ]
    if target.protocol == "legacy":  # a 2025-era session can carry the server's question; the SDK refuses it
        asked = [("request", "elicitation/create"), ("log", "the question got no answer: Elicitation not supported")]
    else:  # 2026-07-28 has no back channel for it: the server cannot even ask
        asked = [sink.seen[-2]]
        assert "no back-channel for server-initiated requests" in str(asked[0][1])
    assert sink.seen == [("log", "announcing changes"), *changes, *asked, ("log", "changes announced")]


async def test_connections_share_one_tls_context_rather_than_load_certificates_each(
    mcp_server: ChildServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the trusted certificates took the event loop for tens of ms on every probe and every job's connection
    (make bench's p99 latency was that stall, issue 18): they are loaded once per process."""
    loads: list[object] = []
    load = httpcore2.default_ssl_context

    def counted(**options: Any) -> ssl.SSLContext:
        loads.append(options)
        return load(**options)

    monkeypatch.setattr(httpcore2, "default_ssl_context", counted)
    tls_context.cache_clear()
    base = mcp_server.url.removesuffix("/mcp")
    for path in ("/mcp", "/sse", "/mcp", "/sse"):
        target = HttpTarget(base + path, "auto")
        await describe_server(target)
        async with open_link(target, Sink(), token="t") as link:
            assert not (await link.call_tool("run_job", {"steps": 1, "delay": 0})).is_error
    assert len(loads) == 1


async def test_a_tool_error_is_an_outcome_not_an_exception(target: Target) -> None:
    sink = Sink()
    async with open_link(target, sink, token="t") as link:
        outcome = await link.call_tool("run_job", {"steps": 4, "delay": 0, "fail_at": 2})
    assert outcome.is_error
    assert "step 2 failed" in outcome.text
    assert outcome.result["isError"] is True


async def test_describe_server_names_the_server_its_protocol_and_tools(target: Target) -> None:
    description = await describe_server(target)
    assert description.name == "mcp-live-demo"
    assert (description.protocol_version == "2025-11-25") is (target.protocol == "legacy")
    assert {t.name for t in description.tools} == {
        "process_items",
        "run_job",
        "flood",
        "scripted",
        "announce_changes",
        "broadcast",
        "long_task",
        "confirm",
    }
    run_job = next(t for t in description.tools if t.name == "run_job")
    assert set(run_job.input_schema["properties"]) == {"steps", "delay", "fail_at"}


async def test_nothing_listening_is_a_clear_link_error() -> None:
    nowhere = HttpTarget(f"http://127.0.0.1:{free_port()}/mcp")
    with pytest.raises(LinkError, match=r"cannot reach the MCP server at http://127\.0\.0\.1:\d+/mcp"):
        async with open_link(nowhere, Sink(), token="t"):
            pass
    with pytest.raises(LinkError, match="cannot reach"):
        await describe_server(nowhere)


class _Doorman(BaseHTTPRequestHandler):
    """Turns every request away with 401, noting the Authorization header it came with."""

    seen: ClassVar[list[str | None]] = []

    def _refuse(self) -> None:
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_DELETE = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def doorman() -> Iterator[str]:
    _Doorman.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Doorman)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
async def test_configured_headers_go_with_every_request_and_secrets_stay_out_of_errors(doorman: str, path: str) -> None:
    secret = "s3cret-token-1234"
    target = HttpTarget(f"{doorman}{path}", headers={"Authorization": f"Bearer {secret}"}, secrets=(secret,))
    with pytest.raises(LinkError) as caught:
        await describe_server(target)
    assert _Doorman.seen and set(_Doorman.seen) == {f"Bearer {secret}"}
    assert secret not in str(caught.value)
