"""What a sign-in to one server leaves behind, kept sealed in the store so that web and worker processes share it:
its tokens, the client it was made with, where to refresh them, and what the server last asked for."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import anyio

from webapp.oauth.sealing import Sealer
from webapp.store import Store

REFRESH_BEFORE = 60.0  # seconds before expiry a token is refreshed, so that no request goes out with a dying one


@dataclass(frozen=True, slots=True)
class Challenge:
    """What a server's 401 or 403 said in WWW-Authenticate (RFC 6750, RFC 9728)."""

    scope: str | None = None
    resource_metadata: str | None = None
    step_up: bool = False  # 403 insufficient_scope: signed in, but with too little


@dataclass(frozen=True, slots=True)
class SignInRecord:
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: float | None = None
    granted_scope: str | None = None
    requested_scope: str | None = None
    client: dict[str, Any] | None = None  # the OAuth client (registered, pre-registered or a metadata document)
    issuer: str | None = None
    token_endpoint: str | None = None
    resource: str | None = None
    challenge: Challenge | None = None
    step_ups: int = 0  # sign-ins asked for more scope since the last one that was enough
    signed_in_at: float | None = None

    @property
    def signed_in(self) -> bool:
        return self.access_token is not None

    def due_for_refresh(self, now: float) -> bool:
        return (
            self.refresh_token is not None and self.expires_at is not None and now >= self.expires_at - REFRESH_BEFORE
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignInRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        challenge = values.get("challenge")
        values["challenge"] = Challenge(**challenge) if isinstance(challenge, dict) else None
        return cls(**values)


class SignIns:
    """Every server's sign-in, read from and written to the store through the sealer."""

    def __init__(self, store: Store, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer
        self._locks: dict[str, anyio.Lock] = {}

    def lock(self, server: str) -> anyio.Lock:
        """One refresh or sign-in at a time per server in this process."""
        return self._locks.setdefault(server, anyio.Lock())

    async def get(self, server: str) -> SignInRecord | None:
        sealed = await self.store.sign_in(server)
        if sealed is None:
            return None
        data = self.sealer.open(sealed)
        return None if data is None else SignInRecord.from_json(data)

    async def put(self, server: str, record: SignInRecord) -> None:
        await self.store.keep_sign_in(server, self.sealer.seal(record.to_json()), time.time())

    async def forget(self, server: str) -> bool:
        return await self.store.forget_sign_in(server)

    async def note_challenge(self, server: str, challenge: Challenge, refused_token: str | None) -> None:
        """Remember what the server asked for, for the next sign-in (which may be in another process). A refusal
        of a token that is no longer the current one (a sign-in came meanwhile) is old news: ignored."""
        async with self.lock(server):
            record = await self.get(server) or SignInRecord()
            if record.access_token != refused_token:
                return
            if record.challenge != challenge:
                await self.put(server, dataclasses.replace(record, challenge=challenge))

    async def replace(self, server: str, record: SignInRecord) -> None:
        """A new sign-in's record, in turn with refreshes and challenges of this process."""
        async with self.lock(server):
            await self.put(server, record)
