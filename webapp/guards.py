"""What one client may take of the dashboard: a bounded request body, a bounded number of live streams at once,
and a bounded number of attempts a minute (job starts, wrong tokens).

Connections themselves are bounded where they are accepted (webapp.serving: a header timeout, a cap).
"""

from __future__ import annotations

import math
import time
from collections import deque

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp import metrics
from webapp.rendering import size

BODY_KEY = "mcp_live.body"  # where BodyLimit leaves the body it read, for the gate's CSRF check


class Attempts:
    """At most `limit` attempts by one client (its address) in any `window` seconds, in this process."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._times: dict[str, deque[float]] = {}

    def wait_before(self, client: str) -> float | None:
        """None when `client` may try now; else the seconds until it may."""
        times = self._recent(client)
        if len(times) >= self.limit:
            return self.window - (time.monotonic() - times[0])
        return None

    def count(self, client: str) -> None:
        self._recent(client).append(time.monotonic())
        if len(self._times) > 10_000:  # forget the clients that have been quiet for a window
            self._times = {key: value for key, value in self._times.items() if value}

    def take(self, client: str) -> float | None:
        """Count an attempt when there is room for it (None); else the seconds until there is."""
        wait = self.wait_before(client)
        if wait is None:
            self.count(client)
        return wait

    def _recent(self, client: str) -> deque[float]:
        times = self._times.setdefault(client, deque())
        while times and times[0] <= time.monotonic() - self.window:
            times.popleft()
        return times


class BodyLimit:
    """Reads a request's body whole, up to `max_bytes`: a bigger one gets 413 at once, before anything parses it.
    The body read is handed on (and left in the scope for the gate) as if it had just arrived."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_big(int(declared))(scope, receive, send)
            return
        chunks: list[bytes] = []
        read = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunk = message.get("body", b"")
            read += len(chunk)
            if read > self.max_bytes:
                await self._too_big(None)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        scope[BODY_KEY] = body
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)

    def _too_big(self, declared: int | None) -> JSONResponse:
        what = f"is {size(declared)}" if declared is not None else "is bigger than that"
        detail = f"The request's body {what}: this dashboard takes at most {size(self.max_bytes)} (--max-body-bytes)."
        return JSONResponse({"detail": detail}, status_code=413, headers={"Connection": "close"})


class StreamCap:
    """At most `per_client` live streams (SSE) open at once from one client address; more get 429."""

    def __init__(self, app: ASGIApp, per_client: int) -> None:
        self.app = app
        self.per_client = per_client
        self._open: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_stream(scope):
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        if self._open.get(client, 0) >= self.per_client:
            detail = (
                f"{client} has {self.per_client} live streams open already, the most one client may "
                "(--max-streams-per-client): close a page or two."
            )
            await JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": "5"})(scope, receive, send)
            return
        self._open[client] = self._open.get(client, 0) + 1
        metrics.SSE_STREAMS.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            metrics.SSE_STREAMS.dec()
            self._open[client] -= 1
            if not self._open[client]:
                del self._open[client]


def is_stream(scope: Scope) -> bool:
    """The live streams: /jobs/{id}/events, /servers/{name}/events, /fragments/jobs/events (not the API's pages)."""
    path: str = scope.get("path", "")
    return (
        scope["type"] == "http"
        and scope["method"] == "GET"
        and path.endswith("/events")
        and not path.startswith("/api/")
    )


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(math.ceil(seconds))}
