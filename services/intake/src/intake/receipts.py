"""Receipts: what a public reporter keeps to come back, without an account.

100 random bits in Crockford's base32, in four groups of five, so it can be written down or
read over the phone (no I, L, O or U; misread ones are forgiven). The server keeps only a
keyed hash. Look-ups are not limited by count (that would be one budget for everyone, since
no client address is kept): each costs the asker a proof of work (intake.work).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
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
    def __init__(self, key: bytes) -> None:
        self._key = key

    def hash(self, receipt: str) -> str | None:
        plain = normalise(receipt)
        if plain is None:
            return None
        return hmac.new(self._key, plain.encode(), hashlib.sha256).hexdigest()
