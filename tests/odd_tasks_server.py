"""An MCP server (2026-07-28, the tasks extension) whose every task is wrong in its own way, for the dashboard's
bad-input tests: a task id too long to keep, a status no revision has, a result that is no tool's result, a poll
interval of zero, and input requests that are no question (sampling) or a question too big to draw.

    python -m tests.odd_tasks_server --port 8003
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from mcp import MCPError, types
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Extension, MCPServer, MethodBinding
from mcp.types import INVALID_PARAMS
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
ODD_TOOLS = ("long_id", "odd_status", "not_a_result", "fast_poll", "asks_oddly", "asks_url", "asks_hostile")
HOSTILE = '"><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
# A question whose every word is an attack: its message, its field's name, title and description, a choice.
HOSTILE_SCHEMA = {
    "type": "object",
    "properties": {
        HOSTILE: {"type": "string", "title": HOSTILE, "description": HOSTILE, "default": HOSTILE},
        "pick": {"type": "string", "oneOf": [{"const": HOSTILE, "title": HOSTILE}]},
    },
}
BIG = "Why? " * 250_000  # a question of 1.25 MB
NOW = "2026-12-04T10:00:00.000Z"
URL = "https://sign.example.org/consent?job=7"


@dataclass
class OddTask:
    tool: str
    gets: int = 0
    born: float = field(default_factory=time.monotonic)
    answers: dict[str, Any] = field(default_factory=dict)
    cancelled: bool = False


class TaskIdParams(types.RequestParams):
    task_id: str


class UpdateParams(TaskIdParams):
    input_responses: dict[str, Any]


class OddTasks(Extension):
    identifier = TASKS_EXTENSION

    def __init__(self) -> None:
        self.tasks: dict[str, OddTask] = {}

    async def intercept_tool_call(
        self, params: types.CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: Any
    ) -> Any:
        if params.name not in ODD_TOOLS:
            return await call_next(ctx)
        task_id = "x" * 300 if params.name == "long_id" else f"odd-{params.name}-{len(self.tasks) + 1}"
        self.tasks[task_id] = OddTask(params.name)
        return {"resultType": "task", **self._shape(task_id, "working")}

    def methods(self) -> list[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskIdParams, self.get),
            MethodBinding("tasks/update", UpdateParams, self.update),
            MethodBinding("tasks/cancel", TaskIdParams, self.cancel),
        ]

    def _shape(self, task_id: str, status: str, poll_ms: int = 200, **more: Any) -> dict[str, Any]:
        return {
            "taskId": task_id,
            "status": status,
            "createdAt": NOW,
            "lastUpdatedAt": NOW,
            "ttlMs": 600_000,
            "pollIntervalMs": poll_ms,
            **more,
        }

    def _find(self, task_id: str) -> OddTask:
        task = self.tasks.get(task_id)
        if task is None:
            raise MCPError(code=INVALID_PARAMS, message="Failed to retrieve task: Task not found")
        return task

    async def get(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        task = self._find(params.task_id)
        task.gets += 1
        done = {"resultType": "complete"}
        if task.cancelled:
            return done | self._shape(params.task_id, "cancelled")
        if task.tool == "odd_status":
            return done | self._shape(params.task_id, "paused")
        if task.tool == "not_a_result":
            return done | self._shape(params.task_id, "completed", result={"unexpected": True})
        if task.tool == "fast_poll":  # a second's work, at a poll interval of zero
            if time.monotonic() - task.born < 1.0:
                return done | self._shape(params.task_id, "working", poll_ms=0)
            text = {"content": [{"type": "text", "text": "done"}], "isError": False}
            return done | self._shape(params.task_id, "completed", poll_ms=0, result=text)
        if task.tool == "asks_oddly":
            if "big" in task.answers:
                answer = {"content": [{"type": "text", "text": f"answered {task.answers['big']['action']}"}]}
                return done | self._shape(params.task_id, "completed", result=answer | {"isError": False})
            requests = {
                "model": {"method": "sampling/createMessage", "params": {"messages": [], "maxTokens": 5}},
                "big": {
                    "method": "elicitation/create",
                    "params": {"mode": "form", "message": BIG, "requestedSchema": {"type": "array"}},
                },
            }
            return done | self._shape(params.task_id, "input_required", inputRequests=requests)
        if task.tool in ("asks_url", "asks_hostile"):
            if task.answers:
                (answer,) = task.answers.values()
                text = {"content": [{"type": "text", "text": f"answered {answer['action']}"}], "isError": False}
                return done | self._shape(params.task_id, "completed", result=text)
            ask: dict[str, Any]
            if task.tool == "asks_url":
                ask = {"mode": "url", "message": "Sign the form", "url": URL, "elicitationId": "e1"}
            else:
                ask = {"mode": "form", "message": HOSTILE, "requestedSchema": HOSTILE_SCHEMA}
            requests = {"ask": {"method": "elicitation/create", "params": ask}}
            return done | self._shape(params.task_id, "input_required", inputRequests=requests)
        return done | self._shape(params.task_id, "working")

    async def update(self, ctx: ServerRequestContext[Any, Any], params: UpdateParams) -> dict[str, Any]:
        self._find(params.task_id).answers.update(params.input_responses)
        return {}

    async def cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        self._find(params.task_id).cancelled = True
        return {}


def build_app(host: str) -> Starlette:
    tasks = OddTasks()
    mcp = MCPServer("odd-tasks", version="1.0.0", extensions=[tasks])
    for name in ODD_TOOLS:

        async def plain() -> str:
            return "run plainly"  # only without the tasks extension

        mcp.tool(name=name, structured_output=False)(plain)

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({task_id: {"gets": t.gets, "answers": t.answers} for task_id, t in tasks.tasks.items()})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            yield

    routes = [*mcp.streamable_http_app(host=host).routes, Route("/stats", stats)]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8003)
    args = parser.parse_args()
    uvicorn.run(build_app(args.host), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
