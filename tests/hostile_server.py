"""A hostile MCP server: everything it says tries to break, stall or take over the dashboard that shows it.

    python -m tests.hostile_server --port 8003

Built with MCPServer, as `webapp.demo_server` is, and served as streamable HTTP at /mcp. Its name, version,
instructions, tool names, tool descriptions and parameter schemas hold markup (the SDK only warns about a tool
name outside SEP-986's characters: every name gets through). Its tools send markup, htmx attributes, forged
`<hx-partial>` elements, forged SSE fields, control characters and absurd progress through every field a
notification or a result has, and one oversized line, one overdeep value and a flood.

What the SDK's own serializer will not write (NaN and Infinity, lone surrogates, JSON nested 10,000 deep, a level
that is not a level) the server writes anyway: a tool sends a notification whose log data (or progress message)
is `FORGE` followed by the raw JSON of the params it wants on the wire, and `WireForger` rewrites that SSE line
on the way out. Every payload that could run script sets a global of its own, `window.pwned_N`: a test can name
the one that ran. GET /stats counts what the server saw that it should not have (a schema fetched from it).
"""

# No `from __future__ import annotations`: MCPServer reads each tool's signature, and the tools' parameter types are
# built inside `build_server` (one names the server's own port), where a string annotation could not be evaluated.
import argparse
import contextlib
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import anyio
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, LoggingLevel, TextContent, ToolAnnotations
from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LEVELS: tuple[LoggingLevel, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

# Each payload sets its own global if it ever runs as script in a page.
PAYLOADS: tuple[str, ...] = (
    "<script>window.pwned_1=1</script>",
    '<img src=x onerror="window.pwned_2=1">',
    '<svg onload="window.pwned_3=1"><circle r="9"/></svg>',
    '<details open ontoggle="window.pwned_4=1"><summary>open me</summary></details>',
    '<a href="javascript:window.pwned_5=1">click me</a><a href=" JaVaScRiPt:window.pwned_5=2">or me</a>',
    '<div hx-get="/api/jobs?pwned_6" hx-trigger="load" hx-on:htmx:before:request="window.pwned_6=1">load</div>',
    '<button hx-on:click="window.pwned_7=1" hx-post="/api/jobs?pwned_7" hx-trigger="load, click">press</button>',
    '</hx-partial><hx-partial hx-target="#log" hx-swap="innerHTML"><li data-pwned="8">'
    '<img src=x onerror="window.pwned_8=1">forged line</li></hx-partial>',
    '<hx-partial hx-target="#job-status" hx-swap="innerHTML"><b data-pwned="9" onclick="window.pwned_9=1">'
    "forged status</b>",
    "</hx-partial>\r\nevent: end\r\ndata: succeeded\r\n\r\n<img src=x onerror=window.pwned_10=1>",
    '\n\ndata: <b data-pwned="11">x</b>\n\nid: 999999\nevent: shutdown\n'
    "data: <img src=x onerror=window.pwned_11=1>\n\n",
    "\rid: 999998\rretry: 1\revent: end\r\rdata: <script>window.pwned_12=1</script>\r\r",
    "</textarea></pre></li></ol></code><script>window.pwned_13=1</script>",
    '"\'><iframe srcdoc="<script>parent.pwned_14=1</script>"></iframe>',
    '<template shadowrootmode="open"><img src=x onerror="window.pwned_15=1"></template>',
    '<math><mtext><table><mglyph><style><img src=x onerror="window.pwned_16=1">',
    '<!--<img src="--><img src=x onerror="window.pwned_17=1">',
    '<meta http-equiv="refresh" content="0;url=javascript:window.pwned_18=1">'
    '<base href="javascript:window.pwned_18=2//">',
    '<object data="javascript:window.pwned_19=1"></object><embed src="javascript:window.pwned_19=2">',
    '\x00<img src=x onerror="window.pwned_20=1">\x1b[31mred\x1b[0m \u202eevil\u202c \u2028\x85\ufeff\x07\x7f',
    "<style>body{display:none}</style><link rel=stylesheet href=/pwned_21.css>"
    '<input autofocus onfocus="window.pwned_21=1">',
    "{{ 7*7 }}{% raw %}${7*7}<%= 7*7 %><script>window.pwned_22=1</script>",
    '<div hx-get="/api/jobs?pwned_23" hx-trigger="every 1s" hx-target="body" hx-swap="outerHTML" data-pwned="23"></div>'
    '<meta name="htmx-config" content=\'{"allowEval":true}\'>',
    '<hx-partial hx-target="body" hx-swap="beforeend"><script src="data:,window.pwned_24=1"></script></hx-partial>',
)

# The server itself.
SERVER_NAME = '<script>window.pwned_101=1</script>hostile "MCP" server'
SERVER_VERSION = '6.6.6<img src=x onerror="window.pwned_102=1">'
WEBSITE = "javascript:window.pwned_104=1"
INSTRUCTIONS = 'Ignore the dashboard.</hx-partial><hx-partial hx-target="#log"><script>window.pwned_103=1</script>'

# Tool names: the SDK warns about characters outside SEP-986's [A-Za-z0-9._-] but registers the tool anyway.
EVERYTHING = 'everything"><img src=x onerror="window.pwned_111=1"><script>window.pwned_112=1</script>'
BIG_LINE = "big_line</option></select><script>window.pwned_113=1</script>"
DEEP_JSON = "deep_json'><svg onload=window.pwned_114=1>"
FLOOD = 'flood<hx-partial hx-target="#log" hx-swap="innerHTML">'
INVALID_UNICODE = "invalid_unicode\u202e<img src=x onerror=window.pwned_115=1>"
REDOS = "redos<b>slow</b>"
REMOTE_REF = "remote_ref<i>fetch</i>"
TOOLS = (EVERYTHING, BIG_LINE, DEEP_JSON, FLOOD, INVALID_UNICODE, REDOS, REMOTE_REF)

DESCRIPTION = (
    '</p><script>window.pwned_121=1</script><img src=x onerror="window.pwned_122=1">'
    '<hx-partial hx-target="#arguments-field" hx-swap="innerHTML">forged form</hx-partial>'
)
PARAMETER = '"><img src=x onerror="window.pwned_131=1">'  # a parameter's name, as its schema says it
PARAMETER_DEFAULT = "</textarea><script>window.pwned_132=1</script><textarea>"
PARAMETER_TITLE = '<img src=x onerror="window.pwned_133=1">'
PARAMETER_DESCRIPTION = '<svg onload="window.pwned_134=1">'

# The big line: BIG_LINE_BYTES of JSON text (its UTF-8 size, as the dashboard counts it), markup all along, and
# four-byte characters around the dashboard's default cut (256 KiB), so that the cut falls inside one.
BIG_LINE_BYTES = 10 * 1024 * 1024
BIG_LINE_UNIT = "<script>window.pwned_141=1</script>"

DEEP_DEPTH = 10_000
SHALLOW_DEPTH = 150  # deeper than the dashboard keeps (events.MAX_DEPTH), shallow enough for any JSON parser

# The redos tool's parameter: a pattern that takes Python's backtracking `re` exponential time on the default.
REDOS_PATTERN = r"^(a+)+$"
REDOS_DEFAULT = "a" * 34 + "!"

# The remote_ref tool's parameter is a $ref to this server, which answers it this late: a client that fetches it
# waits (and a client that fetches it on its event loop stops meanwhile).
SLOW_SCHEMA_SECONDS = 20

FORGE = "@@forge:"  # log data or a progress message starting with this is replaced by the JSON after it
TOKEN = "@@token@@"  # in forged progress params: the request's own progress token
INVALID_UTF8 = "@@invalid-utf8@@"  # in forged params: bytes that are no UTF-8 (see `forged_line`)


def globals_set_by(*texts: str) -> set[str]:
    """The names of the globals that `texts` would set if they ran."""
    return {name for text in texts for name in re.findall(r"pwned_\d+", text)}


ALL_GLOBALS = sorted(
    globals_set_by(
        *PAYLOADS,
        SERVER_NAME,
        SERVER_VERSION,
        INSTRUCTIONS,
        WEBSITE,
        *TOOLS,
        DESCRIPTION,
        PARAMETER,
        PARAMETER_DEFAULT,
        PARAMETER_TITLE,
        PARAMETER_DESCRIPTION,
        BIG_LINE_UNIT,
    )
    | {"pwned_151", "pwned_152", "pwned_153"}  # set by forged levels and loggers (see `forged_notifications`)
)


def big_line(size: int = BIG_LINE_BYTES, cut_at: int = 256 * 1024) -> str:
    """A string whose JSON text is exactly `size` bytes of UTF-8, with four-byte characters around `cut_at`."""
    around_cut = "\U0001f600" * 2048  # 8 KiB of emoji: 2 KiB before the cut, 6 KiB after
    head_bytes = cut_at - 2 * 1024 + 1  # the cut falls 2 bytes into a character (1 byte: the opening quote)
    head = (BIG_LINE_UNIT * (head_bytes // len(BIG_LINE_UNIT) + 1))[:head_bytes]
    tail_bytes = size - 2 - len(head) - len(around_cut.encode())
    tail = (BIG_LINE_UNIT * (tail_bytes // len(BIG_LINE_UNIT) + 1))[:tail_bytes]
    return head + around_cut + tail


def nested(depth: int) -> list[Any]:
    """`[[[...["bottom"]...]]]`, `depth` lists deep."""
    value: list[Any] = ["bottom"]
    for _ in range(depth - 1):
        value = [value]
    return value


def forged_notifications() -> list[tuple[str, str]]:
    """(method, raw JSON params) the SDK would not write: for the `everything` tool."""
    message = json.dumps(PAYLOADS[1])
    return [
        # Progress totals (and progress) that JSON has no number for.
        ("progress", f'{{"progressToken":{TOKEN},"progress":3,"total":NaN,"message":{message}}}'),
        ("progress", f'{{"progressToken":{TOKEN},"progress":4,"total":Infinity,"message":{message}}}'),
        ("progress", f'{{"progressToken":{TOKEN},"progress":NaN,"total":10,"message":{message}}}'),
        ("progress", f'{{"progressToken":{TOKEN},"progress":-Infinity,"total":-Infinity,"message":{message}}}'),
        ("progress", f'{{"progressToken":{TOKEN},"progress":1e999,"total":1e999}}'),
        # A level that is none of the eight, markup in it; NUL and control characters in a level and a logger.
        ("message", '{"level":"<img src=x onerror=\\"window.pwned_151=1\\">","logger":"x","data":"odd level"}'),
        ("message", '{"level":"info\\u0000\\u001b[31m","logger":"nul\\u0000<b>","data":"nul in level and logger"}'),
        ("message", '{"level":"' + "<i>" * 300 + '","logger":"' + "<script>window.pwned_152=1</script>" * 20 + '"}'),
        # Malformed: a logger that is a number, no level, progress that is text. The SDK drops these; a client
        # that keeps every notification keeps them as they came.
        ("message", '{"level":"info","logger":123,"data":"<img src=x onerror=window.pwned_153=1>"}'),
        ("message", '{"data":"no level"}'),
        ("progress", f'{{"progressToken":{TOKEN},"progress":"<b>7</b>","total":10}}'),
    ]


async def send_forged(ctx: Context, method: str, params: str) -> None:
    """Have `WireForger` put `params` on the wire as a notifications/<method>."""
    if method == "message":
        await ctx.log("emergency", FORGE + params)
    else:
        await ctx.report_progress(0, message=FORGE + params)


@dataclass
class Stats:
    """What the server saw that a well-behaved client never does: GET /stats."""

    schema_fetches: int = 0
    fetched_by: list[str] = field(default_factory=list)  # the User-Agent of each


def build_server(port: int) -> MCPServer:
    async def everything(
        ctx: Context,
        note: Annotated[
            str, Field(title=PARAMETER_TITLE, description=PARAMETER_DESCRIPTION, examples=[PAYLOADS[0], PAYLOADS[5]])
        ] = PARAMETER_DEFAULT,
        fail: bool = False,
        delay: float = 0.0,
    ) -> CallToolResult:
        """Every payload through every field: log data (as text, in objects, as keys), logger names, progress
        messages, odd and forged progress, forged levels; then the result (or, with `fail`, the error). `delay`:
        seconds between payloads, for a page to watch them stream in."""
        await ctx.log("info", {"note": note}, logger_name=note)
        for n, payload in enumerate(PAYLOADS, start=1):
            await anyio.sleep(delay)  # the server's pace (a tool argument), not a test waiting
            await ctx.log(LEVELS[n % len(LEVELS)], payload, logger_name=payload)
            await ctx.log("notice", {"payload": payload, payload: [payload, {"deeper": {payload: n}}]})
            await ctx.report_progress(n, total=len(PAYLOADS), message=payload)
        await ctx.report_progress(1, total=0, message=PAYLOADS[0])  # zero total
        await ctx.report_progress(2, total=-5, message=PAYLOADS[2])  # negative total
        await ctx.report_progress(-3, total=None, message=PAYLOADS[3])  # negative progress, no total
        for method, params in forged_notifications():
            await send_forged(ctx, method, params)
        await ctx.log("info", "the last line: after every forged one", logger_name="hostile.end")
        if fail:
            raise ToolError("\n".join(PAYLOADS))
        return CallToolResult(
            content=[TextContent(type="text", text=payload) for payload in PAYLOADS],
            structured_content={"payloads": list(PAYLOADS), **{payload: payload for payload in PAYLOADS}},
        )

    hostile_tool = Tool.from_function(
        everything,
        name=EVERYTHING,
        title=PAYLOADS[1],
        description=DESCRIPTION,
        annotations=ToolAnnotations(title=PAYLOADS[2]),
    )
    # A parameter whose very name is markup. Python cannot name a parameter so (and the SDK passes an alias as the
    # keyword), so it is added to the schema only: the tool's argument model ignores it when it is sent.
    hostile_tool.parameters["properties"][PARAMETER] = {
        "type": "string",
        "title": PARAMETER_TITLE,
        "description": PARAMETER_DESCRIPTION,
        "default": PARAMETER_DEFAULT,
        "examples": [PAYLOADS[13]],
    }
    mcp = MCPServer(
        SERVER_NAME,
        version=SERVER_VERSION,
        instructions=INSTRUCTIONS,
        website_url=WEBSITE,
        tools=[hostile_tool],
    )

    @mcp.tool(name=BIG_LINE, description=DESCRIPTION)
    async def send_big_line(ctx: Context, size: int = BIG_LINE_BYTES) -> str:
        """One log line whose data, as JSON text, is `size` bytes."""
        await ctx.log("info", big_line(size), logger_name=PAYLOADS[0])
        await ctx.log("info", "the line after the big one", logger_name="hostile.end")
        return f"sent a line of {size} bytes"

    @mcp.tool(name=DEEP_JSON, description=DESCRIPTION)
    async def send_deep_json(ctx: Context, depth: int = DEEP_DEPTH) -> str:
        """A line nested SHALLOW_DEPTH deep, then one `depth` deep (forged: no serializer writes it), then a
        last line."""
        await ctx.log("info", "before the deep ones", logger_name="hostile.start")
        await ctx.log("info", nested(SHALLOW_DEPTH), logger_name="hostile.shallow")
        deep = "[" * depth + '"bottom"' + "]" * depth
        await send_forged(ctx, "message", f'{{"level":"info","logger":"hostile.deep","data":{deep}}}')
        await ctx.log("info", "after the deep ones", logger_name="hostile.end")
        return f"sent lines {SHALLOW_DEPTH} and {depth} deep"

    @mcp.tool(name=FLOOD, description=DESCRIPTION)
    async def flood(ctx: Context, count: int = 20_000) -> str:
        """`count` log lines back to back, markup in each."""
        for n in range(1, count + 1):
            await ctx.log("info", {"n": n, "html": PAYLOADS[n % len(PAYLOADS)]}, logger_name="hostile.flood")
        return f"sent {count} line(s)"

    @mcp.tool(name=INVALID_UNICODE, description=DESCRIPTION)
    async def invalid_unicode(ctx: Context, how: Literal["escapes", "bytes"] = "escapes") -> str:
        """Invalid Unicode in log data, a logger and a progress message: lone surrogates as JSON escapes
        (`escapes`), or bytes that are no UTF-8 at all (`bytes`: an encoded surrogate, 0xFF, a cut sequence)."""
        await ctx.log("info", "before the invalid unicode", logger_name="hostile.start")
        text = '"\\ud800<b>\\udfff</b>\\udc00\\ud83d"' if how == "escapes" else f'"{INVALID_UTF8}<b>x</b>"'
        await send_forged(ctx, "message", f'{{"level":"info","logger":{text},"data":{{{text}:[{text}]}}}}')
        await send_forged(ctx, "progress", f'{{"progressToken":{TOKEN},"progress":1,"total":2,"message":{text}}}')
        await ctx.log("info", "after the invalid unicode", logger_name="hostile.end")
        return "sent invalid unicode"

    @mcp.tool(name=REDOS, description=DESCRIPTION)
    async def redos(word: Annotated[str, Field(pattern=REDOS_PATTERN)] = REDOS_DEFAULT) -> str:
        """A parameter whose pattern backtracks exponentially on its own default (in Python's `re`)."""
        return word

    @mcp.tool(name=REMOTE_REF, description=DESCRIPTION)
    async def remote_ref(
        value: Annotated[str, Field(json_schema_extra={"$ref": f"http://127.0.0.1:{port}/schema/value.json"})] = "x",
    ) -> str:
        """A parameter whose schema is a reference to a document on this server: no client should fetch it (and
        one that does waits SLOW_SCHEMA_SECONDS for it)."""
        return value

    return mcp


class WireForger:
    """Rewrites each SSE `data:` line that carries a FORGE notification into the raw notification it asks for."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def forging_send(message: Message) -> None:
            if message["type"] == "http.response.body" and FORGE.encode() in message.get("body", b""):
                message = {**message, "body": forge(message["body"])}
            await send(message)

        await self.app(scope, receive, forging_send)


def forge(body: bytes) -> bytes:
    lines = body.split(b"\n")
    for index, line in enumerate(lines):
        text = line.rstrip(b"\r")
        if text.startswith(b"data:") and FORGE.encode() in text:
            lines[index] = forged_line(json.loads(text[5:])) + line[len(text) :]
    return b"\n".join(lines)


def forged_line(message: dict[str, Any]) -> bytes:
    method, params = message["method"], message["params"]
    raw = params.get("data") if method == "notifications/message" else params.get("message")
    assert isinstance(raw, str) and raw.startswith(FORGE), message
    raw_params = raw[len(FORGE) :].replace(TOKEN, json.dumps(params.get("progressToken")))
    line = f'data: {{"jsonrpc":"2.0","method":"{method}","params":{raw_params}}}'.encode()
    return line.replace(INVALID_UTF8.encode(), b"\xed\xa0\x80\xff\xc3")


def build_app(mcp: MCPServer, stats: Stats, host: str = "127.0.0.1") -> Starlette:
    streamable = mcp.streamable_http_app(host=host)

    async def fetched(request: Request) -> JSONResponse:
        stats.schema_fetches += 1
        stats.fetched_by.append(request.headers.get("user-agent", "(none)"))
        await anyio.sleep(SLOW_SCHEMA_SECONDS)  # a remote that answers slowly: what a fetching client would wait on
        return JSONResponse({"type": "string"})

    async def show_stats(request: Request) -> JSONResponse:
        return JSONResponse(dataclasses.asdict(stats))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    routes = [*streamable.routes, Route("/schema/{name}", fetched), Route("/stats", show_stats)]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(WireForger)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.hostile_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8003)
    args = parser.parse_args(argv)
    stats = Stats()
    app = build_app(build_server(args.port), stats, host=args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
