"""A remote MCP server that needs a sign-in, with the authorization server that signs people in for it: one process,
one loopback port, real HTTP. Written for the tests of issue 20.

- `/mcp` (streamable HTTP) and `/sse` (legacy SSE): an MCP server (the SDK's MCPServer, tool `add`) behind a bearer
  check: without a valid token, 401 with `WWW-Authenticate: Bearer resource_metadata=..., scope="mcp:tools"`
  (RFC 9728, RFC 6750). The protected resource is the whole origin, so both transports share one sign-in.
- `/.well-known/oauth-protected-resource/mcp` and `/.well-known/oauth-authorization-server`: the metadata.
- `/register` (RFC 7591), `/authorize` (approves at once, as the conformance suite's server does: it checks the
  client, the redirect URI and the PKCE challenge, and redirects back with a code), `/token` (the code with its
  PKCE verifier and resource; refresh tokens, rotated).
- `/_stats`: what it saw, for the tests to assert on (counts, the tokens it issued, the last authorization query);
  `POST /_revoke[?refresh=1]`: forget the access tokens (and the refresh tokens).

    python -m tests.oauth_server --port 8003 [--expires-in 3600] [--token-answer json|html|slow|other-resource]
        [--issuer URL]  (metadata that names another issuer than the resource metadata's authorization server)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

SCOPE = "mcp:tools"


class AuthorizationServer:
    def __init__(self, base: str, expires_in: int, token_answer: str, issuer: str | None = None) -> None:
        self.base = base
        self.issuer = issuer or base
        self.expires_in = expires_in
        self.token_answer = token_answer
        self.clients: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.issued: list[str] = []  # every token given out (access and refresh), to look for leaks
        self.stats: dict[str, Any] = {
            "registrations": 0,
            "authorizations": 0,
            "authorization_code": 0,
            "refresh_token": 0,
            "refused": 0,
            "last_authorization": None,
        }

    @property
    def resource(self) -> str:
        return f"{self.base}/"

    def routes(self) -> list[Route]:
        return [
            Route("/.well-known/oauth-protected-resource/mcp", self.resource_metadata),
            Route("/.well-known/oauth-authorization-server", self.server_metadata),
            Route("/register", self.register, methods=["POST"]),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
            Route("/_stats", self.show_stats),
            Route("/_revoke", self.revoke, methods=["POST"]),
        ]

    async def resource_metadata(self, request: Request) -> Response:
        return JSONResponse(
            {"resource": self.resource, "authorization_servers": [self.base], "scopes_supported": [SCOPE]}
        )

    async def server_metadata(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.base}/authorize",
                "token_endpoint": f"{self.base}/token",
                "registration_endpoint": f"{self.base}/register",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "none"],
                "scopes_supported": [SCOPE],
            }
        )

    async def register(self, request: Request) -> Response:
        body = await request.json()
        client = {
            **body,
            "client_id": secrets.token_hex(8),
            "client_secret": secrets.token_hex(16),
            "token_endpoint_auth_method": body.get("token_endpoint_auth_method", "client_secret_post"),
        }
        self.clients[client["client_id"]] = client
        self.stats["registrations"] += 1
        return JSONResponse(client, status_code=201)

    async def authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        self.stats["authorizations"] += 1
        self.stats["last_authorization"] = {k: v for k, v in query.items() if k != "state"}
        client = self.clients.get(query.get("client_id", ""))
        if client is None or query.get("redirect_uri") not in client.get("redirect_uris", []):
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE S256 needed"}, 400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = query
        back = {"code": code, **({"state": query["state"]} if "state" in query else {})}
        return RedirectResponse(f"{query['redirect_uri']}?{urlencode(back)}", status_code=302)

    async def token(self, request: Request) -> Response:
        if self.token_answer == "slow":
            await anyio.sleep_forever()  # the dashboard's own timeout ends the wait
        form = dict(await request.form())
        client = self.clients.get(str(form.get("client_id", "")))
        if client is None or form.get("client_secret") != client["client_secret"]:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("resource") != self.resource:
            return JSONResponse({"error": "invalid_target"}, status_code=400)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            asked = self.codes.pop(str(form.get("code", "")), None)
            verifier = str(form.get("code_verifier", ""))
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            if (
                asked is None
                or asked["code_challenge"] != challenge
                or asked["redirect_uri"] != form.get("redirect_uri")
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
        elif grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            self.refresh.discard(str(form["refresh_token"]))  # rotated: each refresh token works once
        else:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        self.stats[str(grant)] += 1
        if self.token_answer == "html":
            return HTMLResponse("<html><body>Sign-in service unavailable</body></html>")
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access.add(access)
        self.refresh.add(refresh)
        self.issued += [access, refresh]
        answer = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": refresh,
            "scope": SCOPE,
        }
        if self.token_answer == "other-resource":
            answer["resource"] = "https://elsewhere.example/mcp"
        return JSONResponse(answer)

    async def revoke(self, request: Request) -> Response:
        """Forget every access token (`?refresh=1`: the refresh tokens too), as a server that revokes them."""
        self.access.clear()
        if request.query_params.get("refresh"):
            self.refresh.clear()
        return Response(status_code=204)

    async def show_stats(self, request: Request) -> Response:
        return JSONResponse({**self.stats, "issued": self.issued})


class BearerGuard:
    """The MCP endpoint's gate: a token this authorization server issued, or 401 with the challenge."""

    def __init__(self, app: ASGIApp, server: AuthorizationServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(("/mcp", "/sse", "/messages")):
            header = dict(scope["headers"]).get(b"authorization", b"").decode()
            if not header.startswith("Bearer ") or header[7:] not in self.server.access:
                self.server.stats["refused"] += 1
                challenge = (
                    f'Bearer error="invalid_token", scope="{SCOPE}", '
                    f'resource_metadata="{self.server.base}/.well-known/oauth-protected-resource/mcp"'
                )
                response = JSONResponse(
                    {"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": challenge}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_app(base: str, expires_in: int, token_answer: str, issuer: str | None = None) -> ASGIApp:
    mcp = MCPServer("signed-in-server")

    @mcp.tool()
    async def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    app = mcp.streamable_http_app(streamable_http_path="/mcp")
    server = AuthorizationServer(base, expires_in, token_answer, issuer)
    app.router.routes[0:0] = server.routes() + list(mcp.sse_app().routes)
    return BearerGuard(app, server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8003)
    parser.add_argument("--expires-in", type=int, default=3600)
    parser.add_argument("--token-answer", choices=["json", "html", "slow", "other-resource"], default="json")
    parser.add_argument("--issuer", default=None)
    args = parser.parse_args()
    base = f"http://{args.host}:{args.port}"
    app = build_app(base, args.expires_in, args.token_answer, args.issuer)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
