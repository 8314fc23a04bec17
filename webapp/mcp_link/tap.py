"""A tap on a job's connection: every message the server sends is seen here first, in wire order.

The SDK runs each notification callback in a task of its own, so callbacks can run out of order and after the call
has returned. The tap hands the job's log and progress notifications to its sink synchronously instead, and keeps
them from the SDK's session (that skips their second validation and a task each: half the cost of receiving them,
measured 18,000 against 9,100 notifications/s). Anything else is recorded too and goes on to the session, which
answers requests.

The tap also sees our `tools/call` go out and its answer come in: progress that follows a plain answer is late
(`after_end`), but an answer that makes the call a task (2025's CreateTaskResult, 2026's `resultType: "task"`) or
asks for input first (2026's `input_required`) does not end the call. And it carries requests of our own that the
session must not see (`RawCalls`): a 2025 task call, whose answer the SDK's result validation would refuse.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Protocol, Self

import anyio
from mcp.client import Transport
from mcp.shared.message import SessionMessage
from mcp.types import JSONRPCError, JSONRPCNotification, JSONRPCRequest, JSONRPCResponse, RequestId

from webapp.events import QUESTION, REFUSED, ProgressNote, clean_data, clean_text

ELICITATION = "elicitation/create"
TASK_STATUS = "notifications/tasks/status"


class NotificationSink(Protocol):
    """Receives a job's notifications in arrival order. No call may block or await."""

    def log(self, level: str, logger: str | None, data: Any) -> None: ...

    def progress(
        self, progress: float, total: float | None, message: str | None, *, note: ProgressNote | None = None
    ) -> None:
        """`note`: why this progress must not move the bar, when the wire already says so."""

    def notification(self, method: str, params: Any) -> None:
        """Any other notification, a malformed log or progress included."""

    def request(self, method: str, params: Any, note: str = REFUSED) -> None:
        """A request from the server: a question for a person (`note` QUESTION), or one the SDK refuses."""

    def stderr(self, line: str) -> None:
        """A line a stdio server wrote to its stderr."""

    def task_status(self, params: dict[str, Any]) -> None:
        """A 2025 `notifications/tasks/status`: a task's new status (the job's task runner decides what it is)."""


class RawCalls:
    """Requests of ours written straight to the transport, with string ids the session never uses: their answers
    are taken off the wire here and never reach the session."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._waiting: dict[str, tuple[anyio.Event, list[JSONRPCResponse | JSONRPCError]]] = {}
        self.writer: Any = None  # the tapped write stream, once the transport is open

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any] | JSONRPCError:
        """Send a request and wait for its answer: the result, or the JSON-RPC error."""
        assert self.writer is not None, "the connection is not open"
        request_id = f"mcp-live-{next(self._ids)}"
        done, answer = anyio.Event(), list[JSONRPCResponse | JSONRPCError]()
        self._waiting[request_id] = (done, answer)
        try:
            await self.writer.send(
                SessionMessage(JSONRPCRequest(jsonrpc="2.0", id=request_id, method=method, params=params))
            )
            await done.wait()
        finally:
            del self._waiting[request_id]
        reply = answer[0]
        return reply if isinstance(reply, JSONRPCError) else dict(reply.result)

    def take(self, message: JSONRPCResponse | JSONRPCError) -> bool:
        waiting = self._waiting.get(message.id) if isinstance(message.id, str) else None
        if waiting is None:
            return False
        done, answer = waiting
        answer.append(message)
        done.set()
        return True


class Tap:
    """Watches one connection's messages in wire order and hands the job's notifications to the sink.

    A progress notification of ours that follows the call's answer is `after_end`, one with another token
    `other_token`: recorded once each, never applied to the bar.
    """

    def __init__(self, sink: NotificationSink, token: str, on_tools_changed: Callable[[], None] | None) -> None:
        self.sink = sink
        self.token = token
        self.on_tools_changed = on_tools_changed
        self.raw = RawCalls()
        self._call_id: RequestId | None = None
        self._answered = False

    def outgoing(self, item: SessionMessage) -> None:
        message = item.message
        if isinstance(message, JSONRPCRequest) and message.method == "tools/call":
            # A retried call (after input was required, or a header mismatch) is answered anew.
            self._call_id, self._answered = message.id, False

    def incoming(self, item: SessionMessage | Exception) -> bool:
        """Handle `item`; True when it is the job's notification and the session need not see it."""
        if isinstance(item, Exception):
            return False
        message = item.message
        if isinstance(message, JSONRPCNotification):
            params = message.params or {}
            if message.method == "notifications/message" and self._log(params):
                return True
            if message.method == "notifications/progress" and self._progress(params):
                return True
            if message.method == TASK_STATUS and isinstance(params, dict):
                self.sink.task_status(clean_data(params))
                return True
            # Anything else is a line too. The session sees it as well: it may act on it, or log it as malformed.
            self.sink.notification(clean_text(message.method), clean_data(params))
            if message.method == "notifications/tools/list_changed" and self.on_tools_changed is not None:
                self.on_tools_changed()
        elif isinstance(message, JSONRPCRequest) and message.method != "ping":
            # A question goes to a person (the session calls our elicitation callback); anything else the session
            # refuses: "... not supported".
            note = QUESTION if message.method == ELICITATION else REFUSED
            self.sink.request(clean_text(message.method), clean_data(message.params or {}), note)
        elif isinstance(message, JSONRPCResponse | JSONRPCError):
            if message.id == self._call_id:
                self._answered = not _continues(message)
                if isinstance(message, JSONRPCResponse):
                    self._record_input_requests(message.result)
            return self.raw.take(message)
        return False

    def _record_input_requests(self, result: dict[str, Any]) -> None:
        """A 2026 call answered `input_required` (multi round-trip): each request in it is a line, as a request
        the server sent would be. The SDK hands the questions to our elicitation callback, and calls again."""
        if result.get("resultType") != "input_required":
            return
        requests = result.get("inputRequests")
        for request in requests.values() if isinstance(requests, dict) else ():
            method = request.get("method") if isinstance(request, dict) else None
            if isinstance(method, str):
                note = QUESTION if method == ELICITATION else REFUSED
                self.sink.request(clean_text(method), clean_data(request.get("params") or {}), note)

    def _log(self, params: dict[str, Any]) -> bool:
        level, logger = params.get("level"), params.get("logger")
        if not isinstance(level, str) or not (logger is None or isinstance(logger, str)):
            return False  # malformed: kept as a notification
        self.sink.log(clean_text(level), None if logger is None else clean_text(logger), clean_data(params.get("data")))
        return True

    def _progress(self, params: dict[str, Any]) -> bool:
        progress, total, message = params.get("progress"), params.get("total"), params.get("message")
        if not isinstance(progress, int | float) or isinstance(progress, bool):
            return False  # malformed: kept as a notification
        if not (total is None or _is_number(total)):
            return False
        if message is not None:
            message = clean_text(message if isinstance(message, str) else str(message))
        note = None
        if params.get("progressToken") != self.token:
            note = ProgressNote.OTHER_TOKEN
        elif self._answered:
            note = ProgressNote.AFTER_END
        self.sink.progress(float(progress), None if total is None else float(total), message, note=note)
        return True


def _continues(message: JSONRPCResponse | JSONRPCError) -> bool:
    """Whether an answer to a tools/call leaves the call going on: as a task, or after the input it asks for."""
    if not isinstance(message, JSONRPCResponse):
        return False
    result = message.result
    return "task" in result or result.get("resultType") in ("task", "input_required")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Wrapped:
    """A stream of the transport's, handed on: closing and entering go to the stream itself."""

    def __init__(self, inner: Any, tap: Tap) -> None:
        self._inner = inner
        self._tap = tap

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        result: bool | None = await self._inner.__aexit__(exc_type, exc, tb)
        return result


class _TapReader(_Wrapped):
    """The transport's read stream, with the tap in front: what it consumes, the session never sees."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)  # e.g. `last_context`, which the SDK reads when present

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item: SessionMessage | Exception = await self._inner.receive()
            if not self._tap.incoming(item):
                return item

    def __aiter__(self) -> _TapReader:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class _TapWriter(_Wrapped):
    async def send(self, item: SessionMessage, /) -> None:
        self._tap.outgoing(item)
        await self._inner.send(item)


@contextlib.asynccontextmanager
async def tapped(transport: Transport, tap: Tap) -> AsyncIterator[tuple[Any, Any]]:
    async with transport as (read_stream, write_stream):
        writer = _TapWriter(write_stream, tap)
        tap.raw.writer = writer
        yield _TapReader(read_stream, tap), writer
