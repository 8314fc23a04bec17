"""The bearer token on every request to a server that needs a sign-in: refreshed before it expires, refreshed once
more on a 401, and otherwise the refusal remembered, so that the connection's failure can say "sign in"."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import AsyncGenerator

import httpx2

from webapp.oauth.records import Challenge, SignInRecord, SignIns
from webapp.oauth.tokens import SignInError, request_token

log = logging.getLogger(__name__)


def read_challenge(response: httpx2.Response) -> Challenge:
    header = response.headers.get("www-authenticate", "")

    def field(name: str) -> str | None:
        match = re.search(rf'{name}=(?:"([^"]*)"|([^\s,]+))', header)
        return (match.group(1) or match.group(2)) if match else None

    step_up = response.status_code == 403 and field("error") == "insufficient_scope"
    return Challenge(field("scope"), field("resource_metadata"), step_up)


def is_refusal(response: httpx2.Response) -> bool:
    if response.status_code == 401:
        return True
    return response.status_code == 403 and "insufficient_scope" in response.headers.get("www-authenticate", "")


@dataclasses.dataclass(frozen=True, slots=True)
class ServerCredentials:
    """One server's sign-in, as its connections use it."""

    server: str
    sign_ins: SignIns

    def auth(self) -> BearerAuth:
        return BearerAuth(self)

    async def usable(self) -> SignInRecord | None:
        """The sign-in, its token refreshed first when it is about to expire (None: not signed in)."""
        record = await self.sign_ins.get(self.server)
        if record is None or not record.signed_in:
            return None
        if record.due_for_refresh(time.time()):
            record = await self.refresh(record) or record
        return record

    async def refresh(self, seen: SignInRecord) -> SignInRecord | None:
        """A new token by the refresh token; None when there is none or the server refused (then: sign in)."""
        async with self.sign_ins.lock(self.server):
            record = await self.sign_ins.get(self.server)
            if record is None or record.access_token != seen.access_token:
                return record  # refreshed meanwhile by another connection of this process
            if not record.refresh_token or not record.token_endpoint or not record.client:
                return None
            try:
                token, expires_at = await request_token(
                    record.token_endpoint,
                    record.client,
                    {"grant_type": "refresh_token", "refresh_token": record.refresh_token},
                    record.resource,
                )
            except SignInError as exc:
                log.warning("could not refresh the sign-in to %s: %s", self.server, exc)
                return None
            record = dataclasses.replace(
                record,
                access_token=token.access_token,
                refresh_token=token.refresh_token or record.refresh_token,  # a server may keep the old one
                expires_at=expires_at,
                granted_scope=token.scope or record.granted_scope,
            )
            await self.sign_ins.put(self.server, record)
            log.info("refreshed the sign-in to %s", self.server)
            return record


class BearerAuth(httpx2.Auth):
    """One connection's authentication. `refused`: what the server said when it refused the token (or its lack)."""

    def __init__(self, credentials: ServerCredentials) -> None:
        self.credentials = credentials
        self.refused: Challenge | None = None

    async def async_auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        if "authorization" in request.headers:  # the config gives a header of its own: that is the server's way
            yield request
            return
        record = await self.credentials.usable()
        if record is not None:
            request.headers["Authorization"] = f"Bearer {record.access_token}"
        response = yield request
        if response.status_code == 401 and record is not None and record.refresh_token:
            await response.aread()
            fresh = await self.credentials.refresh(record)
            if fresh is not None and fresh.access_token and fresh.access_token != record.access_token:
                record = fresh
                request.headers["Authorization"] = f"Bearer {fresh.access_token}"
                response = yield request
        if is_refusal(response):
            self.refused = read_challenge(response)
            used = record.access_token if record is not None else None
            await self.credentials.sign_ins.note_challenge(self.credentials.server, self.refused, used)
