"""The bundled streaming MCP server: tools that talk while they work.

Serves streamable HTTP at /mcp and the legacy SSE transport at /sse (+ /messages/) on one port,
so the dashboard can be tried against both transports, and GET /stats: how many tool calls are
running, finished or were cancelled, and how many tasks started, finished, were cancelled or expired.
`long_task` runs as an MCP Task on both protocol revisions (see webapp/demo_tasks.py).

    python -m webapp.demo_server --port 8001
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any
from weakref import WeakKeyDictionary

import anyio
import uvicorn
from mcp import MCPDeprecationWarning, types
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import LoggingLevel
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from webapp.demo_tasks import (
    DEFAULT_TTL_MS,
    CallReporter,
    LegacyTasksMiddleware,
    Reporter,
    TasksExtension,
    TaskStore,
    TaskTools,
    Work,
    parse_arguments,
)

LEVELS: tuple[LoggingLevel, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)


@dataclass
class CallStats:
    """What the server's tools are doing, served at GET /stats: lets a client see its cancel arrive."""

    running: int = 0
    finished: int = 0
    cancelled: int = 0

    @contextlib.asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        self.running += 1
        try:
            yield
        except anyio.get_cancelled_exc_class():
            self.cancelled += 1
            raise
        else:
            self.finished += 1
        finally:
            self.running -= 1


class SessionLevels:
    """`logging/setLevel` for 2025-era sessions, which MCPServer neither handles nor advertises: the level each
    connection asked for. (On 2026-07-28 each request carries its level, and the SDK drops what is below it.)

    The SDK hands handlers a new ServerSession per request; its connection is the one handle that lasts."""

    def __init__(self) -> None:
        self._levels: WeakKeyDictionary[object, LoggingLevel] = WeakKeyDictionary()
        self._sessions: WeakKeyDictionary[object, Any] = WeakKeyDictionary()  # what `broadcast` reaches

    async def set_level(
        self, ctx: ServerRequestContext[Any, Any], params: types.SetLevelRequestParams
    ) -> types.EmptyResult:
        self._levels[ctx.session._connection] = params.level
        self._sessions[ctx.session._connection] = ctx.session
        return types.EmptyResult()

    async def broadcast(self, level: LoggingLevel, data: Any, logger: str, *, besides: object) -> int:
        """Log to every other connection that asked for a level, outside any request (on its standalone
        stream): the lines a client hears between tool calls. Returns how many connections it reached."""
        reached = 0
        for connection, session in list(self._sessions.items()):
            asked = self._levels.get(connection)
            if connection is besides or (asked is not None and LEVELS.index(level) < LEVELS.index(asked)):
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await session.send_log_message(level, data, logger=logger)
            except Exception:  # a connection that has gone: forget it
                self._sessions.pop(connection, None)
            else:
                reached += 1
        return reached

    def allow(self, ctx: Context, level: LoggingLevel) -> bool:
        asked = self._levels.get(ctx.request_context.session._connection)
        return asked is None or LEVELS.index(level) >= LEVELS.index(asked)


class Answer(BaseModel):
    # No docstring: it would become the schema's description, shown to the person with every question.
    answer: str


class LongTask(BaseModel):
    """`long_task`'s arguments, checked alike for a plain call and for a task, and the work it does."""

    steps: Annotated[int, Field(ge=1, le=10_000)] = 10
    delay: Annotated[float, Field(ge=0, le=60)] = 0.5
    ask: str | None = None  # a question for the person, asked half-way
    fail: bool = False  # end with a tool error (isError)

    async def run(self, reporter: Reporter) -> types.CallToolResult:
        said = ""
        for step in range(1, self.steps + 1):
            await anyio.sleep(self.delay)
            await reporter.log("info", {"step": step, "of": self.steps, "msg": f"step {step} of {self.steps}"})
            await reporter.progress(step, self.steps, f"step {step}/{self.steps}")
            if self.ask and step == (self.steps + 1) // 2:
                reply = await reporter.ask(self.ask, Answer)
                said = f"; the answer: {reply.data.answer}" if isinstance(reply, AcceptedElicitation) else ""
                said = said or f"; no answer ({reply.action})"
                await reporter.log("notice", f"the question was answered: {reply.action}")
        text = f"{'failed after' if self.fail else 'completed'} {self.steps} step(s){said}"
        return types.CallToolResult(content=[types.TextContent(text=text)], is_error=self.fail)


def long_task_work(arguments: dict[str, Any] | None) -> Work:
    return parse_arguments(LongTask, "long_task", arguments).run


TASK_TOOLS: TaskTools = {"long_task": long_task_work}


def ask_the_person(question: str) -> Elicit[Answer]:
    return Elicit(question, Answer)


def build_server(stats: CallStats | None = None, tasks: TaskStore | None = None) -> MCPServer:
    """Create the demo MCP server and its tools. `long_task` runs as a task only where `tasks` is running (see
    `TaskStore.running`); elsewhere a task call gets an error, and a plain call works as any other tool."""
    tasks = tasks or TaskStore()
    mcp = MCPServer(
        "mcp-live-demo",
        version="1.0.0",
        extensions=[TasksExtension(tasks, TASK_TOOLS)],
        middleware=[LegacyTasksMiddleware(tasks, TASK_TOOLS)],
    )
    stats = stats or CallStats()
    levels = SessionLevels()
    # Registering the handler is also what makes the server advertise the `logging` capability.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        mcp._lowlevel_server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, levels.set_level)

    async def send_log(ctx: Context, level: LoggingLevel, data: Any, logger_name: str | None = None) -> None:
        if levels.allow(ctx, level):
            await ctx.log(level, data, logger_name=logger_name)

    @mcp.tool()
    async def process_items(
        items: Annotated[list[str], Field(examples=[["report.pdf", "notes.md", "data.csv", "photo.jpg"]])],
        ctx: Context,
        delay: float = 0.2,
    ) -> str:
        """Process a list of items (files, documents), reporting each one as it is done."""
        total = len(items)
        async with stats.track():
            for done, item in enumerate(items, start=1):
                await anyio.sleep(delay)
                await send_log(ctx, "info", f"processed {item}", logger_name="demo.items")
                await ctx.report_progress(done, total=total, message=f"processed {item}")
        return f"processed {total} item(s)"

    @mcp.tool()
    async def run_job(ctx: Context, steps: int = 40, delay: float = 0.1, fail_at: int | None = None) -> str:
        """A long job: one log line per step, cycling through all eight levels, then progress."""
        async with stats.track():
            for step in range(1, steps + 1):
                await anyio.sleep(delay)
                level = LEVELS[(step - 1) % len(LEVELS)]
                data: dict[str, Any] = {"step": step, "of": steps, "level": level, "msg": f"step {step} at {level}"}
                await send_log(ctx, level, data, logger_name=f"demo.job.{level}")
                if fail_at is not None and step == fail_at:
                    raise ToolError(f"step {step} failed (fail_at={fail_at})")
                await ctx.report_progress(step, total=steps, message=f"step {step}/{steps}")
        return f"completed {steps} step(s)"

    @mcp.tool()
    async def broadcast(
        ctx: Context, message: str = "hello, listeners", level: LoggingLevel = "notice", count: int = 1
    ) -> str:
        """Send `message` as a log line (`count` times, numbered) to every other client session that asked for a
        log level (2025-era sessions), outside any call of theirs: what a client hears between tool calls."""
        reached = 0
        for n in range(1, count + 1):
            data = {"msg": message} if count == 1 else {"msg": message, "n": n}
            reached = await levels.broadcast(
                level, data, "demo.broadcast", besides=ctx.request_context.session._connection
            )
        return f"sent to {reached} session(s)"

    @mcp.tool()
    async def flood(ctx: Context, count: int = 10000, timeout_every: int = 0) -> str:
        """Send `count` log lines and `count` progress notifications back to back (for benchmarks); with
        `timeout_every`, every so many lines say "upstream timeout" (something to search for)."""
        async with stats.track():
            for n in range(1, count + 1):
                data: dict[str, Any] = {"n": n}
                if timeout_every and n % timeout_every == 0:
                    data["msg"] = "upstream timeout"
                await send_log(ctx, LEVELS[n % len(LEVELS)], data, logger_name="demo.flood")
                await ctx.report_progress(n, total=count, message=f"{n}/{count}")
        return f"sent {count} log line(s) and {count} progress notification(s)"

    @mcp.tool()
    async def scripted(
        script: Annotated[
            list[dict[str, Any]],
            Field(
                examples=[
                    [
                        {"log": {"level": "warning", "logger": "odd", "data": "<b>not bold</b>"}},
                        {"progress": {"progress": 5, "total": 10, "message": "half"}},
                        {"progress": {"progress": 3, "total": 10, "message": "backwards"}},
                    ]
                ]
            ),
        ],
        ctx: Context,
        delay: float = 0.0,
    ) -> str:
        """Send exactly the notifications given, in order: {"log": {level, logger, data}} or
        {"progress": {progress, total, message, token?}} (`token`: progress of another request than this call).
        For trying odd or hostile servers."""
        async with stats.track():
            for entry in script:
                await anyio.sleep(delay)
                if "log" in entry:
                    log = entry["log"]
                    await send_log(ctx, log.get("level", "info"), log.get("data"), logger_name=log.get("logger"))
                elif "token" in entry["progress"]:
                    # Progress for another request than this call: a client must keep it apart.
                    p = entry["progress"]
                    await ctx.request_context.session.send_progress_notification(
                        p["token"], p["progress"], p.get("total"), p.get("message"), related_request_id=ctx.request_id
                    )
                else:
                    p = entry["progress"]
                    await ctx.report_progress(p["progress"], total=p.get("total"), message=p.get("message"))
        return f"sent {len(script)} notification(s)"

    @mcp.tool()
    async def announce_changes(ctx: Context, ask: bool = True) -> str:
        """Send what a server says beside logs and progress: a resource update, the three list changes and,
        with `ask`, a question for the user (elicitation), which a client without a person may refuse.
        Only 2025-era sessions carry these; on 2026-07-28 the question cannot even be asked."""
        session = ctx.request_context.session
        changes: list[types.ServerNotification] = [
            types.ResourceUpdatedNotification(params=types.ResourceUpdatedNotificationParams(uri="demo://report")),
            types.ResourceListChangedNotification(),
            types.ToolListChangedNotification(),
            types.PromptListChangedNotification(),
        ]
        async with stats.track():
            logger = "demo.changes"
            await send_log(ctx, "info", "announcing changes", logger_name=logger)
            for change in changes:
                await session.send_notification(change, related_request_id=ctx.request_id)
            if ask:
                try:
                    answer = await ctx.elicit("Publish the report?", schema=Confirmation)
                    await send_log(ctx, "notice", f"the question was answered: {answer.action}", logger_name=logger)
                except Exception as exc:  # refused by the client, or no way to ask on this revision
                    await send_log(ctx, "notice", f"the question got no answer: {exc}", logger_name=logger)
            await send_log(ctx, "info", "changes announced", logger_name=logger)
        return f"announced {len(changes)} change(s)"

    # structured_output=False: MCPServer would otherwise give the tool an outputSchema, and an SDK client's
    # call_tool rejects a task's result that carries no structuredContent.
    @mcp.tool(structured_output=False)
    async def long_task(
        ctx: Context,
        steps: Annotated[int, Field(ge=1, le=10_000)] = 10,
        delay: Annotated[float, Field(ge=0, le=60)] = 0.5,
        ask: str | None = None,
        fail: bool = False,
    ) -> types.CallToolResult:
        """A long job that runs as an MCP Task when the client asks for one (2025-11-25: a task-augmented call;
        2026-07-28: the io.modelcontextprotocol/tasks extension), else as a plain call. Each step: a log line,
        progress and a status message. `ask`: a question for the person half-way; `fail`: a tool error at the end."""

        async def log(level: LoggingLevel, data: Any) -> None:
            await send_log(ctx, level, data, logger_name="demo.task")

        async with stats.track():
            work = LongTask(steps=steps, delay=delay, ask=ask, fail=fail)
            return await work.run(CallReporter(ctx, log))

    @mcp.tool(structured_output=False)
    async def confirm(question: str, reply: Annotated[ElicitationResult[Answer], Resolve(ask_the_person)]) -> str:
        """Ask the person `question` before answering: by a multi-round-trip result on 2026-07-28
        (`resultType: "input_required"`), by elicitation/create on 2025-11-25."""
        if isinstance(reply, AcceptedElicitation):
            return f"you said: {reply.data.answer}"
        return f"no answer ({reply.action})"

    return mcp


class Confirmation(BaseModel):
    publish: bool


def build_app(mcp: MCPServer, stats: CallStats, tasks: TaskStore, host: str = "127.0.0.1") -> Starlette:
    """Both transports on one Starlette app: streamable HTTP at /mcp, legacy SSE at /sse; GET /stats.
    Its lifespan runs `tasks` (the store `mcp` was built with): tasks outlive their connections, not the app."""
    streamable = mcp.streamable_http_app(host=host)
    legacy = mcp.sse_app(host=host)

    async def show_stats(request: Request) -> JSONResponse:
        counts = {f"tasks_{name}": n for name, n in dataclasses.asdict(tasks.counts).items()}
        return JSONResponse(dataclasses.asdict(stats) | counts)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Mounted outside MCPServer.run(), the session manager must be run by our lifespan.
        async with tasks.running(), mcp.session_manager.run():
            yield

    routes = [*streamable.routes, *legacy.routes, Route("/stats", show_stats)]
    return Starlette(routes=routes, lifespan=lifespan)


async def serve_stdio(mcp: MCPServer, tasks: TaskStore) -> None:
    async with tasks.running():
        await mcp.run_stdio_async()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m webapp.demo_server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on (default: 8001)")
    parser.add_argument(
        "--transport",
        choices=("http", "stdio"),
        default="http",
        help="http: streamable HTTP at /mcp and legacy SSE at /sse (the default); stdio: JSON-RPC on stdin and "
        "stdout, as a client's child process",
    )
    parser.add_argument(
        "--task-ttl",
        type=float,
        default=DEFAULT_TTL_MS / 1000,
        metavar="SECONDS",
        help="how long a task is kept when its client asks for no time of its own: always on 2026-07-28 "
        f"(default: {DEFAULT_TTL_MS // 1000}; 1 to 3600)",
    )
    args = parser.parse_args(argv)
    stats = CallStats()
    tasks = TaskStore(default_ttl_ms=round(args.task_ttl * 1000))
    mcp = build_server(stats, tasks)
    if args.transport == "stdio":
        # Its logs go out as notifications; the SDK's deprecation notice (logging, in 2026-07-28) is no news here.
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        print(f"demo MCP server on stdio, pid {os.getpid()}", file=sys.stderr, flush=True)  # a line of stderr
        anyio.run(serve_stdio, mcp, tasks)
        return
    app = build_app(mcp, stats, tasks, host=args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
