"""Keep strangers out of the dashboard, which starts tool calls on an MCP server and shows all they say.

Layers, outermost first, on every response:

- `SecurityHeaders`: a strict Content-Security-Policy (no inline script or style, no eval, no framing),
  `nosniff`, `Referrer-Policy: same-origin` (not `no-referrer`: Chromium then sends `Origin: null` with
  the page's own form) and `X-Frame-Options: DENY`.
- `allowed_hosts`: the Host header must be a name of this dashboard (against DNS rebinding, where a hostile
  page's own domain resolves to the dashboard's address).
- `CrossSiteGuard`: a write (POST, DELETE...) from a browser must come from a page of this very origin: scheme,
  host AND port (every port of a host is the same *site* to a browser, so SameSite cookies do not tell them
  apart), by the Fetch Metadata the browser sends and by its Origin. Scripts that send neither are let through.
- `guards` (body size, streams per client): see webapp.guards.
- `Gate`: sessions (a signed, expiring cookie: webapp.sessions), the token and the CSRF token. With a token
  (`--token`, or one made up at start on any other interface than loopback), every route but /static/ needs it:
  `Authorization: Bearer TOKEN` for scripts; for browsers, a session they get by opening the login URL once (or
  by the login form). Failed attempts are slowed per address. A write from a browser carries the session's
  CSRF token (a form field, or a header that static/app.js adds to htmx requests), token or not; a JSON body
  needs none (no page of another origin can send one). Tokens are compared in constant time and never logged.

Without a token, on loopback, the dashboard trusts every program and user of this machine (but no web page):
see the README.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import logging
import math
import re
import socket
from collections.abc import Iterable
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from webapp.guards import BODY_KEY, Attempts
from webapp.sessions import COOKIE, CSRF_FIELD, CSRF_HEADER, Session, SessionKeeper

CALLBACK_PATH = "/oauth/callback"  # where a server sign-in comes back (webapp.sign_in)
METADATA_DOCUMENT_PATH = "/client-metadata.json"  # the dashboard's OAuth client ID metadata document

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
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"


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


class CrossSiteGuard:
    """Refuses a write that a browser sends from another origin than the one it is sent to.

    `Sec-Fetch-Site` says it outright (same-origin, or none for what a person typed); else the `Origin` must be
    the request's own: its scheme (the proxy's, when one is trusted) and its Host, port included. `origins`:
    other origins the dashboard is reached at (a public URL behind a proxy that rewrites Host)."""

    def __init__(self, app: ASGIApp, origins: Iterable[str] = ()) -> None:
        self.app = app
        self.origins = frozenset(normal_origin(origin) for origin in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            site, origin = headers.get("sec-fetch-site"), headers.get("origin")
            refused = None
            if site is not None and site not in ("same-origin", "none"):
                refused = f"a page of another site or origin ({site})"
            elif origin is not None and not self._own(origin, scope, headers):
                refused = f"another origin ({origin[:100]})"
            if refused is not None:
                detail = f"Refused a {scope['method']} from {refused}: writes come only from this dashboard's pages."
                await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _own(self, origin: str, scope: Scope, headers: Headers) -> bool:
        given = normal_origin(origin)  # "null" (a sandboxed frame, an odd redirect) matches nothing
        own = normal_origin(f"{scope.get('scheme', 'http')}://{headers.get('host', '')}")
        return given is not None and (given == own or given in self.origins)


DEFAULT_PORTS = {"http": 80, "https": 443}


def normal_origin(origin: str) -> str | None:
    """`scheme://host:port` with the port always written and the host in lower case; None for no origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host.lower()}:{port}"


class Refusal(Exception):
    """A request the gate turns away: `status` and a sentence for the person or script."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


class Gate:
    """Sessions, the token and CSRF tokens: see the module's text. The keeper of sessions and the limiter of
    failed attempts come from the app's lifespan (`Services`), which every request's state carries."""

    def __init__(self, app: ASGIApp, token: str | None, templates: Jinja2Templates) -> None:
        self.app = app
        self._token = None if token is None else token.encode()
        self._templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/") or scope["path"] == METADATA_DOCUMENT_PATH:
            # The client ID metadata document is public: authorization servers fetch it.
            await self.app(scope, receive, send)
            return
        services = scope["state"]["services"]
        keeper: SessionKeeper = services.sessions
        request = Request(scope, receive)
        session = keeper.read(request.cookies.get(COOKIE))
        if scope["path"] == CALLBACK_PATH and COOKIE not in request.cookies and "again" not in request.query_params:
            # The authorization server's redirect is a cross-site navigation: the browser holds back the SameSite=
            # Strict cookie. A page of this origin that reloads the callback brings it (same-site navigation).
            await callback_again(request)(scope, receive, send)
            return
        try:
            response = await self._answer(request, keeper, services.failed_logins, session)
        except Refusal as refusal:
            response = self._refusal(request, refusal)
        if response is not None:
            await response(scope, receive, send)
            return
        cookie = None
        if session is None:
            session = self._new_session_for(request, keeper)
            cookie = None if session is None else session_cookie(keeper, session, request)
        elif renewed := keeper.renewed(session):
            session, cookie = renewed, session_cookie(keeper, renewed, request)
        if session is not None:
            scope["state"]["session_id"] = session.id  # what a sign-in's OAuth state is bound to
            scope["state"]["csrf_token"] = keeper.csrf_token(session)
            scope["state"]["signed_in"] = session.signed_in and self._token is not None
        await self.app(scope, receive, with_cookie(send, cookie))

    async def _answer(
        self, request: Request, keeper: SessionKeeper, failed: Attempts, session: Session | None
    ) -> Response | None:
        """A response of the gate's own (a login, a refusal), or None: the request goes on to the app."""
        path, method = request.url.path, request.method
        if path == LOGIN_PATH and method == "POST":
            return await self._log_in(request, keeper, failed)
        bearer = self._bearer(request, failed)
        if self._token is not None and not bearer:
            signed_in = session is not None and session.signed_in
            if "token" in request.query_params and method in SAFE_METHODS and not signed_in:
                return self._log_in_by_link(request, keeper, failed)
            if not signed_in:
                raise Refusal(401, NEEDS_TOKEN, {"WWW-Authenticate": 'Bearer realm="MCP Live"'})
        if "token" in request.query_params and method == "GET" and wants_page(request):
            return RedirectResponse(without_token(request), status_code=303)  # a stale link: signed in already
        if method not in SAFE_METHODS and not bearer and from_a_browser(request) and not sends_json(request):
            await self._check_csrf(request, keeper, session)
        if path == LOGOUT_PATH and method == "POST":
            response = RedirectResponse("/", status_code=303)
            response.delete_cookie(COOKIE, path="/", secure=request.url.scheme == "https", httponly=True)
            return response
        return None

    def _bearer(self, request: Request, failed: Attempts) -> bool:
        """Whether the request carries the token as a bearer; a wrong one counts as a failed attempt."""
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if self._token is None or scheme.lower() != "bearer" or not given:
            return False
        self._not_too_many(request, failed)
        if hmac.compare_digest(given.encode(), self._token):
            return True
        failed.count(client_address(request))
        raise Refusal(401, NEEDS_TOKEN, {"WWW-Authenticate": 'Bearer realm="MCP Live"'})

    async def _check_csrf(self, request: Request, keeper: SessionKeeper, session: Session | None) -> None:
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.headers.get("content-type", "").startswith(FORM_TYPE):
            given = form_field(request, CSRF_FIELD)
        if session is None or given is None or not keeper.csrf_matches(session, given):
            raise Refusal(
                403,
                "This form is out of date or did not come from this dashboard's page: reload the page and try again.",
            )

    def _not_too_many(self, request: Request, failed: Attempts) -> None:
        wait = failed.wait_before(client_address(request))
        if wait is not None:
            raise Refusal(
                429,
                f"Too many wrong tokens from {client_address(request)}: try again in {math.ceil(wait)} s.",
                {"Retry-After": str(math.ceil(wait))},
            )

    async def _log_in(self, request: Request, keeper: SessionKeeper, failed: Attempts) -> Response:
        if self._token is None:
            return RedirectResponse("/", status_code=303)
        self._not_too_many(request, failed)
        given = form_field(request, "token") or ""
        next_page = form_field(request, "next") or "/"
        if not hmac.compare_digest(given.encode(), self._token):
            failed.count(client_address(request))
            return self._login_page(request, "That token is not this dashboard's.", status_code=401)
        response = RedirectResponse(safe_next(next_page), status_code=303)
        response.headers.append("set-cookie", session_cookie(keeper, keeper.new(signed_in=True), request))
        return response

    def _log_in_by_link(self, request: Request, keeper: SessionKeeper, failed: Attempts) -> Response:
        """The printed login URL: make a session and take the token out of the address bar."""
        self._not_too_many(request, failed)
        assert self._token is not None
        if not hmac.compare_digest(request.query_params["token"].encode(), self._token):
            failed.count(client_address(request))
            return self._login_page(request, "That token is not this dashboard's.", status_code=401)
        response = RedirectResponse(without_token(request), status_code=303)
        response.headers.append("set-cookie", session_cookie(keeper, keeper.new(signed_in=True), request))
        return response

    def _new_session_for(self, request: Request, keeper: SessionKeeper) -> Session | None:
        """A page a browser opens gets a session (for its CSRF token) when it has none; a script does not."""
        if request.method == "GET" and wants_page(request) and "authorization" not in request.headers:
            return keeper.new(signed_in=False)
        return None

    def _refusal(self, request: Request, refusal: Refusal) -> Response:
        """A login form for a person who opens a page; a page saying why for a form a person sent; else JSON."""
        if refusal.status == 401 and wants_page(request) and request.method == "GET":
            return self._login_page(request, None, status_code=401)
        if wants_page(request) and refusal.status != 401:
            context = {
                "title": "Refused" if refusal.status == 403 else "Too many attempts",
                "message": refusal.detail,
                "server": request.state.services.monitor.status,
            }
            return self._templates.TemplateResponse(
                request, "error.html", context, status_code=refusal.status, headers=refusal.headers
            )
        return JSONResponse({"detail": refusal.detail}, status_code=refusal.status, headers=refusal.headers)

    def _login_page(self, request: Request, error: str | None, *, status_code: int) -> Response:
        next_page = without_token(request)
        if request.url.path in (LOGIN_PATH, LOGOUT_PATH):
            next_page = "/"
        context = {"error": error, "next": safe_next(next_page)}
        return self._templates.TemplateResponse(request, "login.html", context, status_code=status_code)


NEEDS_TOKEN = (
    "This dashboard needs its token: send `Authorization: Bearer TOKEN`, or open the login URL it printed when it "
    "started."
)
FORM_TYPE = "application/x-www-form-urlencoded"


def callback_again(request: Request) -> Response:
    again = f"{request.url.path}?{request.url.query}&again=1"
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0;url={html.escape(again)}"><title>Signing in · MCP Live</title>'
        f'</head><body><p><a href="{html.escape(again)}">Finish signing in</a></p></body></html>'
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


def wants_page(request: Request) -> bool:
    """A person's browser opening a page (not htmx, a stream or a script)."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "text/event-stream" not in accept and "hx-request" not in request.headers


def from_a_browser(request: Request) -> bool:
    """A browser's write says where it comes from (Fetch Metadata, and an Origin on every POST and DELETE);
    scripts send neither."""
    return "sec-fetch-site" in request.headers or "origin" in request.headers


def sends_json(request: Request) -> bool:
    """A JSON body: a browser sends one to another origin only after a CORS preflight, which this dashboard never
    approves, so no other page can make one; a form, or a body-less POST, any page can."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"


def form_field(request: Request, name: str) -> str | None:
    """A field of the urlencoded body that webapp.guards.BodyLimit has read (and bounded) already."""
    body: bytes = request.scope.get(BODY_KEY, b"")
    values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get(name)
    return values[0] if values else None


def without_token(request: Request) -> str:
    """The request's path and query with any `token` parameter taken out."""
    rest = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "token"]
    return request.url.path + (f"?{urlencode(rest)}" if rest else "")


def session_cookie(keeper: SessionKeeper, session: Session, request: Request) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Strict, Secure over HTTPS, gone when the session would be."""
    response = Response()
    response.set_cookie(
        COOKIE,
        keeper.cookie_value(session),
        max_age=int(keeper.lifetime),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response.headers["set-cookie"]


def with_cookie(send: Send, cookie: str | None) -> Send:
    if cookie is None:
        return send

    async def send_with_cookie(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message).append("set-cookie", cookie)
        await send(message)

    return send_with_cookie


def client_address(request: Request) -> str:
    """Who is asking: the peer's address, or the client's as a trusted proxy (--trusted-proxy) says it."""
    return request.client.host if request.client else "unknown"


def safe_next(target: str) -> str:
    """A path on this dashboard to go to after logging in, with no token in it; anything else (another site) goes
    home."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    rest = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    return parts.path + (f"?{urlencode(rest)}" if rest else "")


_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"']+")
# A sign-in's callback (issue 20): its code and state are single-use, but secrets while they last.
_CALLBACK = re.compile(r"/oauth/callback\?[^\s\"']*")
_CALLBACK_SECRET = re.compile(r"(\b(?:code|state)=)[^&]+")


class RedactTokens(logging.Filter):
    """Keeps tokens out of the logs: uvicorn's access log prints each request line, query string included."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact(str(record.msg))
        return True


def redact(text: str) -> str:
    text = _TOKEN_IN_TEXT.sub(r"\1***", text)
    return _CALLBACK.sub(lambda url: _CALLBACK_SECRET.sub(r"\1***", url.group(0)), text)
