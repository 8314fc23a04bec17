"""Sign-ins at rest: sealed (authenticated encryption) with a key from --secret-key, or kept in the clear without one.

The store holds only what `Sealer.seal` made. A sealed record read with another key (or none) cannot be opened: it
counts as no sign-in at all, and the server asks for one again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)
SEALED = "v1.sealed:"
CLEAR = "v1.clear:"


class Sealer:
    def __init__(self, key: str | None) -> None:
        # Any passphrase will do: Fernet wants 32 bytes, so it gets the passphrase's SHA-256.
        self._fernet = None if not key else Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))

    @property
    def in_the_clear(self) -> bool:
        """No key: tokens are kept in the store as they are (the dashboard says so)."""
        return self._fernet is None

    def seal(self, record: dict[str, Any]) -> str:
        text = json.dumps(record, separators=(",", ":"))
        if self._fernet is None:
            return CLEAR + text
        return SEALED + self._fernet.encrypt(text.encode()).decode()

    def open(self, sealed: str) -> dict[str, Any] | None:
        """The record, or None when it cannot be read with this key."""
        try:
            if sealed.startswith(CLEAR):
                text = sealed[len(CLEAR) :]
            elif sealed.startswith(SEALED) and self._fernet is not None:
                text = self._fernet.decrypt(sealed[len(SEALED) :].encode()).decode()
            else:
                log.warning("a sign-in in the store is sealed with a key this process lacks: it is ignored")
                return None
            record = json.loads(text)
        except (InvalidToken, ValueError):
            log.warning("a sign-in in the store cannot be opened with this key: it is ignored")
            return None
        return record if isinstance(record, dict) else None
