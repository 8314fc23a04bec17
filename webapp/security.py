"""Keep other web sites out of the dashboard.

The dashboard listens on loopback and starts tool calls. Two attacks reach it from any page open in
the user's browser: a cross-site form POST, and DNS rebinding (evil.example resolving to 127.0.0.1,
so the page reads and writes the dashboard as its "own" origin). `SameOriginWrites` refuses writes
whose Origin is another host; `allowed_hosts` limits the Host header to names of this machine.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def allowed_hosts(bind_host: str) -> list[str]:
    """Host headers to accept: loopback names and the bound one; any, when bound to every interface."""
    if bind_host in WILDCARD_HOSTS:
        return ["*"]
    return [*LOOPBACK_NAMES, bind_host]


class SameOriginWrites:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != headers.get("host"):
                response = JSONResponse(
                    {"detail": f"Refused a {scope['method']} from another origin ({origin})."}, status_code=403
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
