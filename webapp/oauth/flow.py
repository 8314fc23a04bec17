"""A sign-in (MCP authorization, OAuth 2.1 with PKCE): discover who signs people in for a server, get a client
there, build the authorization URL, and exchange the code the browser brings back for tokens.

Discovery follows the MCP spec (2025-11-25): protected-resource metadata (RFC 9728) from the WWW-Authenticate
header, else at the path-based then the root well-known URL; then the authorization server's metadata (RFC 8414 and
OpenID Connect, path-aware). A server that publishes no resource metadata is a 2025-03-26 server: its own origin
is the authorization server, with /authorize, /token and /register as fallbacks. The URL builders and scope
selection are the SDK's (`mcp.client.auth.utils`), so that the dashboard discovers as the SDK's own client does.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx2
from mcp.client.auth import OAuthFlowError
from mcp.client.auth.oauth2 import PKCEParameters
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    get_client_metadata_scopes,
    issuers_match,
    union_scopes,
    validate_authorization_response_iss,
)
from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata
from mcp.shared.auth_utils import check_resource_allowed, resource_url_from_server_url
from pydantic import ValidationError

from webapp.oauth.records import Challenge, SignInRecord
from webapp.oauth.tokens import SignInError, request_token
from webapp.tls import tls_context

DISCOVERY_TIMEOUT = 10.0
MAX_STEP_UPS = 2  # sign-ins for more scope after the first: three authorization requests in all, then stop
GRANT_TYPES = ["authorization_code", "refresh_token"]
METHODS = ("client_secret_basic", "client_secret_post", "none")
PROTOCOL_HEADER = {"MCP-Protocol-Version": "2025-11-25"}


@dataclass(frozen=True, slots=True)
class PreRegistered:
    """A client registered with the authorization server beforehand (the config's "oauth")."""

    client_id: str
    client_secret: str | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Authority:
    """Who signs people in for a server, as discovered."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None
    resource: str | None  # what tokens are asked for (RFC 8707); None on a 2025-03-26 server without metadata
    metadata: OAuthMetadata | None
    resource_metadata: ProtectedResourceMetadata | None


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """A sign-in between the authorization URL and the callback: kept by the process that made it."""

    server: str
    session_id: str
    state: str
    verifier: str
    redirect_uri: str
    authority: Authority
    client: dict[str, Any]
    scope: str | None
    step_ups: int
    made_at: float


async def discover(server_url: str, challenge: Challenge | None) -> Authority:
    async with httpx2.AsyncClient(timeout=DISCOVERY_TIMEOUT, follow_redirects=False, verify=tls_context()) as http:
        prm: ProtectedResourceMetadata | None = None
        for url in build_protected_resource_metadata_discovery_urls(
            challenge.resource_metadata if challenge else None, server_url
        ):
            answer = await _get_json(http, url)
            if answer is None:
                continue
            try:
                prm = ProtectedResourceMetadata.model_validate(answer)
            except ValidationError:
                continue
            break
        resource = resource_url_from_server_url(server_url)
        auth_server: str | None = None
        if prm is not None:
            if not check_resource_allowed(requested_resource=resource, configured_resource=str(prm.resource)):
                raise SignInError(f"the server's metadata is for another resource ({prm.resource}), not {resource}")
            resource = str(prm.resource)
            auth_server = str(prm.authorization_servers[0])
        # Without resource metadata, only the server's own origin may sign people in for it (2025-03-26).
        expected = auth_server or _origin(server_url)
        metadata: OAuthMetadata | None = None
        for url in build_oauth_authorization_server_metadata_discovery_urls(auth_server, server_url):
            answer = await _get_json(http, url)
            if answer is None:
                continue
            try:
                metadata = OAuthMetadata.model_validate(answer)
            except ValidationError:
                continue
            if not issuers_match(str(metadata.issuer), expected) and not (
                auth_server is None and _origin(str(metadata.issuer)) == _origin(server_url)
            ):
                raise SignInError(
                    f"the authorization server's metadata names the issuer {metadata.issuer}, not {expected}: refused"
                )
            break
    if metadata is None:
        base = _origin(server_url)
        return Authority(
            base, urljoin(base, "/authorize"), urljoin(base, "/token"), urljoin(base, "/register"), None, None, prm
        )
    return Authority(
        str(metadata.issuer),
        str(metadata.authorization_endpoint),
        str(metadata.token_endpoint),
        str(metadata.registration_endpoint) if metadata.registration_endpoint else None,
        resource if prm is not None else None,
        metadata,
        prm,
    )


def choose_scope(
    authority: Authority, challenge: Challenge | None, record: SignInRecord | None, configured: tuple[str, ...]
) -> str | None:
    """The MCP spec's scope selection: the challenge's, else the resource's, else the authorization server's; on a
    step-up, the union of what was asked before and what the server asks now (SEP-2350)."""
    if configured:
        chosen: str | None = " ".join(configured)
    else:
        chosen = get_client_metadata_scopes(
            challenge.scope if challenge else None, authority.resource_metadata, authority.metadata, GRANT_TYPES
        )
    if challenge is not None and challenge.step_up and record is not None:
        chosen = union_scopes(union_scopes(record.requested_scope, record.granted_scope), chosen)
    return chosen


async def get_client(
    authority: Authority,
    record: SignInRecord | None,
    pre_registered: PreRegistered | None,
    redirect_uri: str,
    metadata_document: str | None,
) -> dict[str, Any]:
    """The OAuth client to sign in with: pre-registered, the one registered before with this issuer, a client ID
    metadata document (an HTTPS URL the authorization server fetches), or a new dynamic registration."""
    supported = (authority.metadata.token_endpoint_auth_methods_supported if authority.metadata else None) or []
    if pre_registered is not None:
        if pre_registered.client_secret:
            method = (
                "client_secret_post" if "client_secret_basic" not in supported and supported else "client_secret_basic"
            )
        else:
            method = "none"
        return {
            "client_id": pre_registered.client_id,
            "client_secret": pre_registered.client_secret,
            "token_endpoint_auth_method": method,
        }
    if (
        record is not None
        and record.client is not None
        and record.issuer == authority.issuer
        and redirect_uri in record.client.get("redirect_uris", [redirect_uri])
    ):
        return record.client
    if metadata_document and authority.metadata and authority.metadata.client_id_metadata_document_supported:
        return {"client_id": metadata_document, "token_endpoint_auth_method": "none", "redirect_uris": [redirect_uri]}
    if authority.registration_endpoint is None:
        raise SignInError(
            "the authorization server registers no clients by itself (no registration endpoint): give the server a "
            'pre-registered client in the config ("oauth": {"client_id": ...})'
        )
    method = next((m for m in supported if m in METHODS), "none") if supported else "none"
    registration = client_metadata(redirect_uri) | {"token_endpoint_auth_method": method}
    async with httpx2.AsyncClient(timeout=DISCOVERY_TIMEOUT, follow_redirects=False, verify=tls_context()) as http:
        try:
            response = await http.post(authority.registration_endpoint, json=registration)
        except httpx2.HTTPError as exc:
            raise SignInError(f"cannot register with {authority.registration_endpoint}: {exc or 'no answer'}") from None
    if response.status_code not in (200, 201):
        raise SignInError(f"the authorization server refused to register this dashboard: HTTP {response.status_code}")
    try:
        client = response.json()
    except ValueError:
        raise SignInError("the registration endpoint answered with something that is not JSON") from None
    if not isinstance(client, dict) or not isinstance(client.get("client_id"), str):
        raise SignInError("the registration endpoint gave no client_id")
    client.setdefault("token_endpoint_auth_method", method)
    client.setdefault("redirect_uris", [redirect_uri])
    return client


def client_metadata(redirect_uri: str) -> dict[str, Any]:
    """What the dashboard says of itself to an authorization server (RFC 7591; also its metadata document)."""
    return {
        "client_name": "MCP Live",
        "redirect_uris": [redirect_uri],
        "grant_types": GRANT_TYPES,
        "response_types": ["code"],
    }


def authorization_url(pending: PendingSignIn, challenge: str) -> str:
    endpoint = pending.authority.authorization_endpoint
    if not is_safe_to_send_people_to(endpoint):
        raise SignInError(f"the authorization URL {endpoint} is neither HTTPS nor on this machine: refused")
    params = {
        "response_type": "code",
        "client_id": str(pending.client["client_id"]),
        "redirect_uri": pending.redirect_uri,
        "state": pending.state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if pending.authority.resource:
        params["resource"] = pending.authority.resource
    if pending.scope:
        params["scope"] = pending.scope
        if "offline_access" in pending.scope.split():
            params["prompt"] = "consent"  # OpenID Connect wants it with offline_access
    separator = "&" if urlsplit(endpoint).query else "?"
    return endpoint + separator + urlencode(params)


async def begin(
    server: str,
    server_url: str,
    *,
    session_id: str,
    record: SignInRecord | None,
    pre_registered: PreRegistered | None,
    redirect_uri: str,
    metadata_document: str | None,
) -> tuple[PendingSignIn, str]:
    """A new sign-in: what to keep until the callback, and the URL to send the person to."""
    challenge = record.challenge if record else None
    step_ups = record.step_ups if record else 0
    if challenge is not None and challenge.step_up:
        if step_ups >= MAX_STEP_UPS:
            raise SignInError(
                f"the server still refuses after {step_ups + 1} sign-ins asking for more scope "
                f"({challenge.scope or 'unsaid'}): giving up; sign out, or ask the server's owner for access"
            )
        step_ups += 1
    else:
        step_ups = 0
    authority = await discover(server_url, challenge)
    client = await get_client(authority, record, pre_registered, redirect_uri, metadata_document)
    scope = choose_scope(authority, challenge, record, pre_registered.scopes if pre_registered else ())
    pkce = PKCEParameters.generate()
    pending = PendingSignIn(
        server,
        session_id,
        secrets.token_urlsafe(32),
        pkce.code_verifier,
        redirect_uri,
        authority,
        client,
        scope,
        step_ups,
        time.time(),
    )
    return pending, authorization_url(pending, pkce.code_challenge)


def check_issuer(pending: PendingSignIn, issuer: str | None) -> None:
    """The callback's `iss` (RFC 9207) must be the authorization server's own: against mix-up attacks."""
    try:
        validate_authorization_response_iss(issuer, pending.authority.metadata)
    except OAuthFlowError as exc:
        raise SignInError(f"the callback does not come from the authorization server it was sent to: {exc}") from None


async def finish(pending: PendingSignIn, code: str, record: SignInRecord | None) -> SignInRecord:
    """Exchange the code for tokens (PKCE, RFC 8707 resource); the new record to keep."""
    token, expires_at = await request_token(
        pending.authority.token_endpoint,
        pending.client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "code_verifier": pending.verifier,
        },
        pending.authority.resource,
    )
    base = record or SignInRecord()
    return dataclasses.replace(
        base,
        access_token=token.access_token,
        refresh_token=token.refresh_token,
        expires_at=expires_at,
        granted_scope=token.scope or pending.scope,
        requested_scope=pending.scope,
        client=pending.client,
        issuer=pending.authority.issuer,
        token_endpoint=pending.authority.token_endpoint,
        resource=pending.authority.resource,
        challenge=None,
        step_ups=pending.step_ups,
        signed_in_at=time.time(),
    )


def is_safe_to_send_people_to(url: str) -> bool:
    """HTTPS, or plain HTTP to this very machine (a local authorization server, a test's)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def _get_json(http: httpx2.AsyncClient, url: str) -> Any:
    """The JSON document at `url`, or None when there is none (any status but 200, or not JSON)."""
    try:
        response = await http.get(url, headers=PROTOCOL_HEADER)
    except httpx2.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None
