"""Browser sessions: a signed, expiring cookie, and the CSRF token that goes with it.

A session is a random id with the time it was made and last renewed, and whether it proved the dashboard's token
(signed in). The cookie holds those fields and an HMAC of them: nothing is kept on the server, so every web process
that has the same key reads every session. The key is derived from a random secret kept in the store (shared by
the processes) and the token, so that a new `--token` ends every session made with the old one.

The CSRF token of a session is an HMAC of its id: forms and htmx requests carry it, and a write that comes from a
browser must (see `security.Gate`). A page of another origin can neither read it nor make it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, replace

COOKIE = "mcp_live_session"
CSRF_FIELD = "csrf_token"  # a form's hidden field
CSRF_HEADER = "x-csrf-token"  # what htmx requests carry (static/app.js)
RENEW_AFTER = 3600.0  # seconds: a session in use is renewed (its expiry pushed back) at most this often
LONGEST = 7 * 86_400.0  # seconds: no session lives longer than this, however much it is used
_VERSION = "v1"


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    created_at: float
    renewed_at: float
    signed_in: bool  # it proved the token (with no token set, sessions only carry the CSRF token)


class SessionKeeper:
    """Makes and reads session cookies. `lifetime`: seconds a session lasts since it was last renewed."""

    def __init__(self, secret: bytes, token: str | None, lifetime: float) -> None:
        self._key = hmac.new(secret, b"mcp-live session key|" + (token or "").encode(), hashlib.sha256).digest()
        self.lifetime = lifetime

    def new(self, *, signed_in: bool) -> Session:
        now = time.time()
        return Session(secrets.token_urlsafe(16), now, now, signed_in)

    def cookie_value(self, session: Session) -> str:
        fields = f"{_VERSION}.{session.id}.{int(session.created_at)}.{int(session.renewed_at)}.{int(session.signed_in)}"
        return f"{fields}.{self._sign(fields)}"

    def read(self, value: str | None) -> Session | None:
        """The session a cookie holds, or None: no cookie, a forged or damaged one, or an expired session."""
        if not value or len(value) > 200:
            return None
        fields, _, signature = value.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(fields).encode()):
            return None
        try:
            version, session_id, created, renewed, signed_in = fields.split(".")
            session = Session(session_id, float(created), float(renewed), signed_in == "1")
        except ValueError:
            return None
        now = time.time()
        if version != _VERSION or now - session.renewed_at > self.lifetime or now - session.created_at > LONGEST:
            return None
        return session

    def renewed(self, session: Session) -> Session | None:
        """The session with its expiry pushed back, when it is time to (None: the cookie may stay as it is)."""
        now = time.time()
        if now - session.renewed_at < min(RENEW_AFTER, self.lifetime / 2):
            return None
        return replace(session, renewed_at=now)

    def csrf_token(self, session: Session) -> str:
        return self._sign(f"csrf.{session.id}")

    def csrf_matches(self, session: Session, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.csrf_token(session).encode())

    def _sign(self, text: str) -> str:
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
