"""Receipts: what a public reporter keeps to come back, without an account.

100 random bits in Crockford's base32, in four groups of five, so it can be written down or
read over the phone (no I, L, O or U; misread ones are forgiven). The server keeps only a
keyed hash. Failed look-ups are limited for everyone together, because no client address is
ever kept to tell guessers apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Final

_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_GROUPS: Final = 4
_GROUP: Final = 5
_FORGIVE: Final = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def new_receipt() -> str:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(_GROUPS * _GROUP))
    return "-".join(chars[i : i + _GROUP] for i in range(0, len(chars), _GROUP))


def normalise(receipt: str) -> str | None:
    """The receipt's 20 characters, or None if it cannot be one."""
    plain = receipt.upper().replace("-", "").replace(" ", "").translate(_FORGIVE)
    if len(plain) != _GROUPS * _GROUP or any(c not in _ALPHABET for c in plain):
        return None
    return plain


class ReceiptKeeper:
    def __init__(self, key: bytes, failures_per_minute: int) -> None:
        self._key = key
        self._capacity = float(failures_per_minute)
        self._tokens = float(failures_per_minute)
        self._refill_per_second = failures_per_minute / 60.0
        self._last = time.monotonic()

    def hash(self, receipt: str) -> str | None:
        plain = normalise(receipt)
        if plain is None:
            return None
        return hmac.new(self._key, plain.encode(), hashlib.sha256).hexdigest()

    def may_try(self) -> bool:
        """Whether a look-up may be attempted now (false while guessing is being throttled)."""
        self._refill()
        return self._tokens >= 1.0

    def failed(self) -> None:
        self._refill()
        self._tokens = max(0.0, self._tokens - 1.0)

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(
            self._capacity, self._tokens + (now - self._last) * self._refill_per_second
        )
        self._last = now
