"""Proof of work: what a public request costs the sender, without knowing who sent it.

Nothing about a member of the public is kept (no address, no account), so a guesser of
receipts or a flood of reports cannot be told apart from anyone else and throttled; a shared
budget would let one sender lock every reporter out. Instead each public request carries the
answer to a fresh puzzle: find a nonce such that ``sha256(challenge ":" nonce)`` starts with
``bits`` zero bits (about ``2**bits`` hashes; checking it takes one). Challenges are signed,
so the server keeps nothing until one is spent, and each is bound to one purpose and expires.

The same algorithm is a few lines of JavaScript in a browser (Web Crypto's SHA-256).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

HEADER: Final = "X-Work"
_VERSION: Final = 1
# version, purpose, bits, expiry (unix seconds), 16 random bytes
_LAYOUT: Final = struct.Struct(">BBBQ16s")
_MAC_BYTES: Final = 16
MAX_BITS: Final = 32
_MAX_NONCE_DIGITS: Final = 20


class Purpose(StrEnum):
    """What a solved challenge may be spent on."""

    REPORT = "report"
    RECEIPT = "receipt"


_PURPOSE_CODES: Final = {Purpose.REPORT: 1, Purpose.RECEIPT: 2}
_PURPOSES_BY_CODE: Final = {code: purpose for purpose, code in _PURPOSE_CODES.items()}


class WorkRefused(Exception):
    """The proof is missing, malformed, forged, expired, too easy or for something else.

    ``reason`` is a short English phrase; ``reason_zh`` the same for people."""

    def __init__(self, reason: str, reason_zh: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_zh = reason_zh


@dataclass(frozen=True, slots=True)
class Challenge:
    token: str
    purpose: Purpose
    bits: int
    expires_at: float

    @property
    def spend_id(self) -> str:
        """What the server remembers once it is spent (it is never accepted twice)."""
        return hashlib.sha256(self.token.encode()).hexdigest()[:32]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class WorkIssuer:
    """Issues and checks challenges with a server-held key."""

    def __init__(self, key: bytes, lifetime_seconds: float = 600.0) -> None:
        self._key = key
        self.lifetime = lifetime_seconds

    def issue(self, purpose: Purpose, bits: int, now: float | None = None) -> Challenge:
        if not 0 <= bits <= MAX_BITS:
            raise ValueError(f"bits must be within 0..{MAX_BITS}")
        expires = int((time.time() if now is None else now) + self.lifetime)
        body = _LAYOUT.pack(_VERSION, _PURPOSE_CODES[purpose], bits, expires, os.urandom(16))
        token = _b64(body + self._mac(body))
        return Challenge(token, purpose, bits, float(expires))

    def check(
        self, proof: str | None, purpose: Purpose, min_bits: int, now: float | None = None
    ) -> Challenge:
        """The challenge a proof (``<challenge>:<nonce>``) answers; raises WorkRefused."""
        if not proof:
            raise WorkRefused(
                f"this request needs a proof of work: fetch a challenge from /v1/work/{purpose}"
                f" and send '{HEADER}: <challenge>:<nonce>'",
                f"此操作需要先完成计算验证：请从 /v1/work/{purpose} 获取题目，"
                f"并在请求头 {HEADER} 中提交答案",
            )
        token, _, nonce = proof.strip().partition(":")
        if not nonce.isascii() or not nonce.isdigit() or len(nonce) > _MAX_NONCE_DIGITS:
            raise WorkRefused("the proof's nonce must be decimal digits", "答案格式不正确")
        challenge = self._open(token)
        if challenge.purpose is not purpose:
            raise WorkRefused(
                f"this challenge was issued for '{challenge.purpose}', not '{purpose}'",
                "该题目不适用于此操作",
            )
        if challenge.expires_at < (time.time() if now is None else now):
            raise WorkRefused("the challenge expired: fetch a new one", "题目已过期，请重新获取")
        if challenge.bits < min_bits:
            raise WorkRefused(
                f"the challenge is easier ({challenge.bits} bits) than now required"
                f" ({min_bits} bits): fetch a new one",
                "当前要求的计算量已提高，请重新获取题目",
            )
        if leading_zero_bits(digest(token, nonce)) < challenge.bits:
            raise WorkRefused("the proof does not solve the challenge", "答案不正确")
        return challenge

    def _open(self, token: str) -> Challenge:
        try:
            raw = _unb64(token)
        except ValueError:
            raw = b""
        body, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
        if len(raw) != _LAYOUT.size + _MAC_BYTES or not hmac.compare_digest(mac, self._mac(body)):
            raise WorkRefused("the challenge was not issued here", "题目无效")
        version, code, bits, expires, _ = _LAYOUT.unpack(body)
        if version != _VERSION or code not in _PURPOSES_BY_CODE:
            raise WorkRefused("the challenge was not issued here", "题目无效")
        return Challenge(token, _PURPOSES_BY_CODE[code], bits, float(expires))

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, b"work:" + body, hashlib.sha256).digest()[:_MAC_BYTES]


def digest(token: str, nonce: str) -> bytes:
    return hashlib.sha256(f"{token}:{nonce}".encode()).digest()


def leading_zero_bits(value: bytes) -> int:
    as_int = int.from_bytes(value, "big")
    return len(value) * 8 - as_int.bit_length()


def solve(token: str, bits: int) -> str:
    """A proof for a challenge: ``<challenge>:<nonce>`` (what a client sends)."""
    prefix = hashlib.sha256(f"{token}:".encode())
    limit = 1 << (256 - bits)
    nonce = 0
    while True:
        attempt = prefix.copy()
        attempt.update(str(nonce).encode())
        if int.from_bytes(attempt.digest(), "big") < limit:
            return f"{token}:{nonce}"
        nonce += 1
