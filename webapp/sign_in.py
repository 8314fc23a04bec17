"""Signing in to a server that needs it (issue 20), as the web role does it: a sign-in starts from a browser's
session and comes back to the same session.

The OAuth `state` of each sign-in is random, bound to the session that started it, and single-use: a callback with
a state this process did not make, made for another session, or used already gets 400 and changes nothing. A
pending sign-in lives in the process that started it, for PENDING_FOR seconds (behind a load balancer, the
callback must come back to that process: sticky sessions).
"""

from __future__ import annotations

import logging
import time

from webapp.mcp_link import HttpTarget
from webapp.monitor import ServerMonitor
from webapp.oauth import PendingSignIn, SignInError, SignIns, begin, client_metadata, finish
from webapp.oauth.flow import check_issuer
from webapp.security import CALLBACK_PATH, METADATA_DOCUMENT_PATH
from webapp.settings import Settings

log = logging.getLogger(__name__)
PENDING_FOR = 600.0  # seconds a person has to finish a sign-in at the authorization server
__all__ = ["CALLBACK_PATH", "METADATA_DOCUMENT_PATH", "SignInDesk", "SignInRefused"]


class SignInRefused(Exception):
    """A sign-in that cannot start or finish; `status_code`: 400 (the request's fault), 409 (the server's state),
    502 (the authorization server's fault)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class SignInDesk:
    def __init__(self, sign_ins: SignIns, settings: Settings) -> None:
        self.sign_ins = sign_ins
        self.public_url = settings.public_url
        self._pending: dict[str, PendingSignIn] = {}

    @property
    def tokens_in_the_clear(self) -> bool:
        return self.sign_ins.sealer.in_the_clear

    def redirect_uri(self, base_url: str) -> str:
        return (self.public_url or base_url.rstrip("/")) + CALLBACK_PATH

    @property
    def metadata_document_url(self) -> str | None:
        """The dashboard's client ID metadata document: only at an HTTPS public address (authorization servers
        fetch it, and take an HTTPS URL only)."""
        if self.public_url is None or not self.public_url.startswith("https://"):
            return None
        return self.public_url + METADATA_DOCUMENT_PATH

    def metadata_document(self) -> dict[str, object] | None:
        url = self.metadata_document_url
        if url is None or self.public_url is None:
            return None
        return {
            "client_id": url,
            **client_metadata(self.public_url + CALLBACK_PATH),
            "token_endpoint_auth_method": "none",
        }

    async def start(self, monitor: ServerMonitor, session_id: str | None, base_url: str) -> str:
        """The authorization URL to send the person to."""
        target = monitor.target
        if not isinstance(target, HttpTarget):
            raise SignInRefused(f"{target.name} is a stdio server: it has no sign-in (its env carries secrets)", 409)
        if session_id is None:
            raise SignInRefused(
                "A sign-in comes back to the browser session that started it, and this request has none: open the "
                "dashboard's page first (a script: keep the cookie of GET / with Accept: text/html).",
                400,
            )
        self._forget_stale()
        try:
            pending, url = await begin(
                target.name,
                target.url,
                session_id=session_id,
                record=await self.sign_ins.get(target.name),
                pre_registered=target.oauth,
                redirect_uri=self.redirect_uri(base_url),
                metadata_document=self.metadata_document_url,
            )
        except SignInError as exc:
            raise SignInRefused(f"Cannot sign in to {target.name}: {exc}.", 409) from None
        self._pending[pending.state] = pending
        log.info("sign-in to %s started", target.name)
        return url

    def take(self, state: str | None, session_id: str | None) -> PendingSignIn:
        """The pending sign-in of `state`, taken (once only) by the session that started it."""
        self._forget_stale()
        pending = self._pending.get(state or "")
        if pending is None or session_id is None or pending.session_id != session_id:
            raise SignInRefused(
                "This sign-in is unknown, finished already, or was started in another browser: start it again from "
                "the server's page.",
                400,
            )
        del self._pending[pending.state]
        return pending

    async def complete(
        self, pending: PendingSignIn, code: str | None, error: str | None, issuer: str | None = None
    ) -> None:
        if error:
            raise SignInRefused(f"The authorization server did not sign you in to {pending.server}: {error}.", 400)
        if not code:
            raise SignInRefused(
                f"The authorization server came back without a code: not signed in to {pending.server}.", 400
            )
        try:
            check_issuer(pending, issuer)
        except SignInError as exc:
            raise SignInRefused(f"Not signed in to {pending.server}: {exc}.", 400) from None
        try:
            record = await finish(pending, code, await self.sign_ins.get(pending.server))
        except SignInError as exc:
            raise SignInRefused(f"The sign-in to {pending.server} failed: {exc}.", 502) from None
        await self.sign_ins.replace(pending.server, record)
        log.info("signed in to %s", pending.server)

    async def sign_out(self, server: str) -> bool:
        forgotten = await self.sign_ins.forget(server)
        if forgotten:
            log.info("signed out of %s: its tokens are forgotten", server)
        return forgotten

    async def is_signed_in(self, server: str) -> bool:
        record = await self.sign_ins.get(server)
        return record is not None and record.signed_in

    def _forget_stale(self) -> None:
        now = time.time()
        for state in [s for s, p in self._pending.items() if now - p.made_at > PENDING_FOR]:
            del self._pending[state]
