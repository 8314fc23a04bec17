"""A hand-written MCP server (legacy HTTP+SSE transport) that keeps talking after it has answered.

The SDK's own server drops notifications of a finished request; a real server need not, so this one
answers `tools/call` with 3 progress notifications, the result, and then `--late` more progress
notifications for the same token. JSON-RPC by hand is the point here: it is the odd server.
    python -m tests.late_server --port 8002
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import uvicorn
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

Message = dict[str, Any]


def build_app(late: int) -> Starlette:
    sessions: dict[str, MemoryObjectSendStream[Message]] = {}
    background: list[TaskGroup] = []

    async def open_stream(request: Request) -> StreamingResponse:
        session = str(len(sessions) + 1)
        send, receive = anyio.create_memory_object_stream[Message](10_000)
        sessions[session] = send

        async def events() -> AsyncIterator[str]:
            yield f"event: endpoint\ndata: /messages/?session_id={session}\n\n"
            async with receive:
                async for message in receive:
                    yield f"event: message\ndata: {json.dumps(message)}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def post_message(request: Request) -> Response:
        send = sessions[request.query_params["session_id"]]
        background[0].start_soon(answer, send, await request.json())
        return Response(status_code=202)

    async def answer(send: MemoryObjectSendStream[Message], request: Message) -> None:
        method, request_id, params = request.get("method"), request.get("id"), request.get("params") or {}
        if request_id is None:
            return  # a notification (initialized, cancelled): nothing to say
        if method == "initialize":
            result: Message = {
                "protocolVersion": params["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "late-talker", "version": "1.0.0"},
            }
        elif method == "tools/list":
            result = {"tools": [{"name": "answer_then_report", "inputSchema": {"type": "object"}}]}
        elif method == "tools/call":
            token = params["_meta"]["progressToken"]
            total = 3 + late
            for n in range(1, 4):
                await send.send(progress(token, n, total, f"in time {n}"))
            await send.send(
                {"jsonrpc": "2.0", "id": request_id, "result": {"content": [{"type": "text", "text": "answered"}]}}
            )
            for n in range(4, total + 1):
                await send.send(progress(token, n, total, f"late {n}"))
            return
        else:
            await send.send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": f"no {method}"}})
            return
        await send.send({"jsonrpc": "2.0", "id": request_id, "result": result})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            background.append(tg)
            yield
            tg.cancel_scope.cancel()

    routes = [Route("/sse", open_stream), Route("/messages/", post_message, methods=["POST"])]
    return Starlette(routes=routes, lifespan=lifespan)


def progress(token: Any, n: int, total: int, message: str) -> Message:
    params = {"progressToken": token, "progress": n, "total": total, "message": message}
    return {"jsonrpc": "2.0", "method": "notifications/progress", "params": params}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--late", type=int, default=20, help="progress notifications sent after the result")
    args = parser.parse_args()
    uvicorn.run(build_app(args.late), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
