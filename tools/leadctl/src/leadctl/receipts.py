"""Checking a reporter's signed receipt (intake.signed_receipts) away from the service:
against public keys given by hand, or fetched once from an intake and then checked here."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from common.times import CHINA
from intake.signed_receipts import Verdict, key_ring, public_key_of, utc_text, verify

PUBLIC_KEYS_PATH = "/v1/receipts/public-key"


class KeysUnavailable(Exception):
    """No public key to check with: one given is not a key, or the intake could not say."""


def keys_given(texts: Iterable[str]) -> list[Ed25519PublicKey]:
    keys = []
    for text in texts:
        try:
            keys.append(public_key_of(base64.b64decode(text.strip(), validate=True)))
        except (binascii.Error, ValueError) as exc:
            raise KeysUnavailable(
                f"不是 Ed25519 公钥（32 字节 base64）/ not an Ed25519 public key (32 bytes,"
                f" base64): {text!r}"
            ) from exc
    return keys


def keys_published(url: str, timeout: float = 10.0) -> list[Ed25519PublicKey]:
    """The public keys an intake publishes (GET /v1/receipts/public-key)."""
    try:
        answer = httpx.get(url.rstrip("/") + PUBLIC_KEYS_PATH, timeout=timeout)
        answer.raise_for_status()
        texts = [key["public_key"] for key in answer.json()["keys"]]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise KeysUnavailable(
            f"无法从 {url} 取得公钥 / could not get the public keys from {url}: {exc}"
        ) from exc
    return keys_given(texts)


def check(file: Path, keys: Iterable[Ed25519PublicKey]) -> Verdict:
    return verify(file.read_bytes(), key_ring(keys))


def lines_of(verdict: Verdict) -> list[str]:
    """The verdict as a person reads it, in Chinese and English."""
    if not verdict.valid:
        return [f"无效 / invalid ({verdict.reason})", verdict.message_zh, verdict.message_en]
    facts = verdict.facts
    assert facts is not None  # noqa: S101 - a valid verdict names what it attests
    at = facts.reported_at
    lines = [
        "有效 / valid",
        verdict.message_zh,
        verdict.message_en,
        f"线索编号 lead id: {facts.lead_id}",
        f"收到时间 received at: {utc_text(at)} ({at.astimezone(CHINA).isoformat()})",
        f"内容 SHA-256 content: {facts.content_sha256}",
        f"附件 attachments: {len(facts.attachments)}",
    ]
    lines += [f"  {a.sha256} {a.size}" for a in facts.attachments]
    lines.append(f"签名密钥 key id: {verdict.key_id}")
    return lines
