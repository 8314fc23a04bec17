"""Keep strangers out of the dashboard, which starts tool calls on an MCP server and shows all they say.

Four layers, outermost first, on every response:

- `SecurityHeaders`: a strict Content-Security-Policy (no inline script or style, no eval, no framing),
  `nosniff`, `Referrer-Policy: same-origin` (not `no-referrer`: Chromium then sends `Origin: null` with
  the page's own form) and `X-Frame-Options: DENY`.
- `allowed_hosts`: the Host header must be a name of this dashboard (against DNS rebinding, where a hostile
  page's own domain resolves to the dashboard's address).
- `AllowedOriginWrites`: a write (POST, DELETE...) must come from a page of an allowed host, or from a
  script that sends no Origin at all (against cross-site requests).
- `TokenGate`: with a token (`--token`, or one made up at start on any other interface than loopback),
  every route but /static/ needs it: `Authorization: Bearer TOKEN` for scripts; for browsers, a session
  cookie they get by opening the login URL once (or by the login form). Tokens are compared in constant
  time and never logged.

Without a token, on loopback, the dashboard trusts every program and user of this machine: see the README.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import socket
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
SESSION_COOKIE = "mcp_live_session"
LOGIN_PATH = "/login"


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> list[str]:
    """Host headers to accept: loopback names, the interface the dashboard is bound to (every name and address
    of this machine when it is bound to all of them), and the names given with --allowed-host."""
    hosts = [*LOOPBACK_NAMES, *extra]
    if bind_host in WILDCARD_HOSTS:
        hosts += this_machines_names()
    elif bind_host not in hosts:
        hosts.append(bind_host)
    return list(dict.fromkeys(hosts))


def this_machines_names() -> list[str]:
    names = {socket.gethostname(), socket.getfqdn()}
    for name in list(names):
        try:
            names.update(str(info[4][0]) for info in socket.getaddrinfo(name, None))
        except OSError:
            continue
    return sorted(name for name in names if name)


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    """Whether `host` (no port) is one of `patterns`; `*.example.com` covers its sub-domains."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern == host or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS:
                    headers.raw.append((name, value))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AllowedOriginWrites:
    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            origin = Headers(scope=scope).get("origin")
            if origin is not None and not self._allowed(origin):
                response = JSONResponse(
                    {"detail": f"Refused a {scope['method']} from another origin ({origin[:100]})."}, status_code=403
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _allowed(self, origin: str) -> bool:
        parts = urlsplit(origin)  # "null" (a sandboxed frame, an odd redirect) has no host: refused
        return (
            parts.scheme in ("http", "https")
            and parts.hostname is not None
            and host_matches(parts.hostname, self.hosts)
        )


class TokenGate:
    """Lets through a request that proves it knows the token; shows people a login form, scripts a 401."""

    def __init__(self, app: ASGIApp, token: str, templates: Jinja2Templates) -> None:
        self.app = app
        self._token = token.encode()
        self._session = session_value(token)
        self._templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if scope["path"] == LOGIN_PATH and request.method == "POST":
            response = await self._log_in(request)
        elif request.method in SAFE_METHODS and "token" in request.query_params:
            response = self._log_in_by_link(request)
        elif self._knows_token(request):
            await self.app(scope, receive, send)
            return
        else:
            response = self._refuse(request)
        await response(scope, receive, send)

    def _knows_token(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and given:
            return hmac.compare_digest(given.encode(), self._token)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self._session.encode())

    def _log_in_by_link(self, request: Request) -> Response:
        """The printed login URL: set the session cookie and take the token out of the address bar."""
        given = request.query_params["token"]
        if not hmac.compare_digest(given.encode(), self._token):
            return self._login_page(request, "That token is not this dashboard's.", status_code=401)
        rest = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "token"]
        target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
        return self._with_session(request, RedirectResponse(target, status_code=303))

    async def _log_in(self, request: Request) -> Response:
        form = await request.form()
        given, next_page = str(form.get("token", "")), str(form.get("next", "/"))
        if not hmac.compare_digest(given.encode(), self._token):
            return self._login_page(request, "That token is not this dashboard's.", status_code=401)
        return self._with_session(request, RedirectResponse(safe_next(next_page), status_code=303))

    def _with_session(self, request: Request, response: Response) -> Response:
        response.set_cookie(
            SESSION_COOKIE,
            self._session,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    def _refuse(self, request: Request) -> Response:
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if (
            wants_page
            and "hx-request" not in request.headers
            and "text/event-stream" not in request.headers.get("accept", "")
        ):
            return self._login_page(request, None, status_code=401)
        return JSONResponse(
            {
                "detail": "This dashboard needs its token: send `Authorization: Bearer TOKEN`, or open the login "
                "URL it printed when it started."
            },
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="MCP Live"'},
        )

    def _login_page(self, request: Request, error: str | None, *, status_code: int) -> Response:
        next_page = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.url.path == LOGIN_PATH:
            next_page = "/"
        context = {"error": error, "next": safe_next(next_page)}
        return self._templates.TemplateResponse(request, "login.html", context, status_code=status_code)


def session_value(token: str) -> str:
    """What the session cookie holds: derived from the token, so the cookie is not the token itself."""
    return hmac.new(token.encode(), b"mcp-live session", hashlib.sha256).hexdigest()


def safe_next(target: str) -> str:
    """A path on this dashboard to go to after logging in; anything else (another site) goes home."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Keeps tokens out of the logs: uvicorn's access log prints each request line, query string included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_TEXT.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        record.msg = _TOKEN_IN_TEXT.sub(r"\1***", str(record.msg))
        return True
