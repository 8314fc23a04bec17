"""Refuse state-changing requests from other sites.

The dashboard listens on loopback and starts tool calls: without this, any web page open in the
same browser could POST a form to http://127.0.0.1:8000/jobs. Browsers send `Origin` on such
POSTs; we accept a request whose Origin is our own host, or that has none (curl, scripts).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
