"""Requests to an authorization server's token endpoint: the code exchange and the refresh, with the client's
authentication (client_secret_basic, client_secret_post or none), each failure said in a sentence."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import quote

import httpx2
from mcp.shared.auth import OAuthToken
from pydantic import ValidationError

from webapp.tls import tls_context

TOKEN_TIMEOUT = 10.0  # seconds a token endpoint has to answer
MAX_ANSWER_BYTES = 64 * 1024


class SignInError(Exception):
    """A sign-in, or a refresh, that cannot go on; the message says why, for a person."""


def client_auth(client: dict[str, Any], data: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The form and headers with the client's authentication, by its token_endpoint_auth_method (RFC 6749 2.3.1)."""
    method = client.get("token_endpoint_auth_method") or "none"
    secret = client.get("client_secret")
    client_id = str(client["client_id"])
    if method == "client_secret_basic" and secret:
        credentials = f"{quote(client_id, safe='')}:{quote(str(secret), safe='')}"
        return data, {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
    if method == "client_secret_post" and secret:
        return {**data, "client_id": client_id, "client_secret": str(secret)}, {}
    if method in ("none", "client_secret_basic", "client_secret_post"):
        return {**data, "client_id": client_id}, {}
    raise SignInError(f"the client was registered for {method!r}, a token endpoint authentication this dashboard lacks")


async def request_token(
    endpoint: str, client: dict[str, Any], data: dict[str, str], resource: str | None
) -> tuple[OAuthToken, float | None]:
    """A token from `endpoint`, and when it expires (epoch seconds, None: not said)."""
    if resource:
        data = {**data, "resource": resource}  # RFC 8707: the token is for this server only
    form, headers = client_auth(client, data)
    try:
        async with httpx2.AsyncClient(timeout=TOKEN_TIMEOUT, follow_redirects=False, verify=tls_context()) as http:
            response = await http.post(endpoint, data=form, headers={**headers, "Accept": "application/json"})
    except httpx2.TimeoutException:
        raise SignInError(f"the token endpoint {endpoint} did not answer within {TOKEN_TIMEOUT:.0f} s") from None
    except httpx2.HTTPError as exc:
        raise SignInError(f"cannot reach the token endpoint {endpoint}: {exc}") from None
    kind = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    body = response.content[:MAX_ANSWER_BYTES]
    if response.status_code != 200:
        raise SignInError(f"the token endpoint refused: HTTP {response.status_code} {_oauth_error(body)}".rstrip())
    if kind != "application/json":
        raise SignInError(f"the token endpoint answered with {kind}, not a JSON token")
    try:
        token = OAuthToken.model_validate_json(body)
    except ValidationError:
        raise SignInError("the token endpoint's answer is not a bearer token (RFC 6749 5.1)") from None
    given = _json_field(body, "resource")
    if resource and given is not None and given != resource:
        raise SignInError(f"the token endpoint gave a token for another resource ({given}), not {resource}")
    expires_at = None if token.expires_in is None else time.time() + int(token.expires_in)
    return token, expires_at


def _oauth_error(body: bytes) -> str:
    error = _json_field(body, "error")
    description = _json_field(body, "error_description")
    return ": ".join(str(part)[:200] for part in (error, description) if part)


def _json_field(body: bytes, name: str) -> Any:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data.get(name) if isinstance(data, dict) else None
