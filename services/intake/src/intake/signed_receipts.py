"""Signed receipts (举报回执): a document the reporter keeps, proving what they reported and
when, that anyone can check against intake's published key, offline too.

The document is a small JSON object in canonical form: keys sorted, no whitespace, UTF-8,
strings escaped only where JSON must (``"``, ``\\``, control characters), integers only;
for these values the same bytes as RFC 8785 (JCS). It names the lead, the moment the report
was recorded (UTC), the SHA-256 of what the reporter wrote (:func:`content_sha256`) and the
SHA-256 and size of each attached file, the id of the signing key, and an Ed25519 signature
over the canonical bytes of everything else.

Whoever finds it learns no more than the reporter wrote: it holds no identity (even when
one was given), no receipt code and no file names (a name can identify its author).

Verification is strict: the document must be exactly the bytes that were issued (only
whitespace around it is forgiven, as a paste adds), so one changed byte anywhere fails.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from common import dossier
from common.chain import key_id

VERSION: Final = 1
TYPE: Final = "intake-report-receipt"
NOTE: Final = (
    "本回执不含举报人的身份信息（即使举报时留下了姓名和电话），也不含查询码和附件的文件名。"
    " This receipt holds no identity of the reporter (even if one was given), no receipt code"
    " and no file names."
)
#: far above any document issued (twenty attachments make about 2.5 KB)
MAX_BYTES: Final = 16 * 1024

_SIGNED: Final = frozenset(
    {"version", "type", "lead_id", "reported_at", "content_sha256", "attachments", "note", "key_id"}
)
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_KEY_ID: Final = re.compile(r"[0-9a-f]{16}")
_LEAD_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MOMENT: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z")
_MAX_SIZE: Final = 2**53 - 1

VerdictReason = Literal["valid", "malformed", "unknown_key", "bad_signature"]


def canonical(value: object) -> bytes:
    """The one serialisation that is hashed and signed."""
    return json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode()


@dataclass(frozen=True)
class FileHash:
    """An attached file as the receipt names it: its hash and size, never its name."""

    sha256: str
    size: int


def content_sha256(
    *,
    category: str,
    village: str | None,
    summary: str,
    details: str,
    flags: Iterable[str],
    attachments: Iterable[FileHash],
) -> str:
    """SHA-256 (hex) of what the reporter submitted, as intake recorded it: the canonical
    JSON of ``{"attachments": [{"sha256", "size"}, ...], "category", "details", "flags",
    "summary", "village"}`` (codes as the API takes them, texts with surrounding whitespace
    removed, flags and files in the order given). Not the identity."""
    return hashlib.sha256(
        canonical(
            {
                "attachments": [{"sha256": a.sha256, "size": a.size} for a in attachments],
                "category": category,
                "details": details,
                "flags": list(flags),
                "summary": summary,
                "village": village,
            }
        )
    ).hexdigest()


@dataclass(frozen=True)
class ReceiptFacts:
    """What a receipt attests."""

    lead_id: str
    reported_at: datetime
    content_sha256: str
    attachments: tuple[FileHash, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """Whether a document is a receipt intake issued and nobody changed, and why not."""

    reason: VerdictReason
    message_zh: str
    message_en: str
    facts: ReceiptFacts | None = None
    key_id: str | None = None

    @property
    def valid(self) -> bool:
        return self.reason == "valid"

    def as_dict(self) -> dict[str, Any]:
        """As the API answers it (message in Chinese, message_en in English)."""
        facts = self.facts
        return {
            "valid": self.valid,
            "reason": self.reason,
            "message": self.message_zh,
            "message_en": self.message_en,
            "key_id": self.key_id,
            "lead_id": facts.lead_id if facts else None,
            "reported_at": utc_text(facts.reported_at) if facts else None,
            "content_sha256": facts.content_sha256 if facts else None,
            "attachments": [{"sha256": a.sha256, "size": a.size} for a in facts.attachments]
            if facts
            else None,
        }


def utc_text(moment: datetime) -> str:
    """A moment as the receipt writes it: UTC, ISO 8601, ``Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def public_key_of(raw: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from its 32 raw bytes (ValueError if it cannot be one)."""
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_text(key: Ed25519PublicKey) -> str:
    """A public key as it is published: its 32 raw bytes in base64."""
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def key_ring(keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    return {key_id(key): key for key in keys}


class ReceiptSigner:
    """Intake's signing key, and every public key whose receipts still verify (the current
    one first, then those of earlier keys)."""

    def __init__(self, private: bytes, retired: Sequence[bytes] = ()) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(private)
        self.public = self._key.public_key()
        self.key_id = key_id(self.public)
        self.keys = key_ring([self.public, *(public_key_of(raw) for raw in retired)])

    def sign(self, facts: ReceiptFacts) -> str:
        """The receipt document's text, exactly as it is to be kept."""
        document: dict[str, Any] = {
            "version": VERSION,
            "type": TYPE,
            "lead_id": facts.lead_id,
            "reported_at": utc_text(facts.reported_at),
            "content_sha256": facts.content_sha256,
            "attachments": [{"sha256": a.sha256, "size": a.size} for a in facts.attachments],
            "note": NOTE,
            "key_id": self.key_id,
        }
        signature = self._key.sign(canonical(document))
        document["signature"] = base64.b64encode(signature).decode()
        return canonical(document).decode()

    def verify(self, document: bytes | str) -> Verdict:
        return verify(document, self.keys)

    def sign_manifest(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """A manifest of files intake hands out (a lead's evidence as one ZIP), signed as
        the ledger signs its dossier's (common.dossier), with this key."""
        return dossier.sign(manifest, self._key)


class _Malformed(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def verify(document: bytes | str, keys: Mapping[str, Ed25519PublicKey]) -> Verdict:
    """Check a receipt document against ``keys`` (by key id). Never raises for any input."""
    try:
        signed, signature, facts = _read(document)
    except _Malformed as problem:
        return Verdict(
            "malformed",
            f"这不是一份完整的举报回执，或者它被改动过：{problem.zh}",
            f"This is not a whole report receipt, or it was changed: {problem.en}",
        )
    named = signed["key_id"]
    key = keys.get(named)
    if key is None:
        return Verdict(
            "unknown_key",
            f"回执的签名密钥（编号 {named}）不在已公布的公钥之中，无法确认是本系统签发的。",
            f"It was signed with a key (id {named}) that is not among the published public"
            " keys: it cannot be confirmed as issued here.",
            key_id=named,
        )
    try:
        key.verify(signature, canonical(signed))
    except InvalidSignature:
        return Verdict(
            "bad_signature",
            "签名不符：回执的内容被改动过，或者它不是用这个密钥签发的。",
            "The signature does not hold: the receipt was changed, or it was not issued with"
            " this key.",
            key_id=named,
        )
    return Verdict(
        "valid",
        "回执有效：由本系统签发，内容没有被改动。",
        "The receipt is valid: issued here, and unchanged.",
        facts,
        named,
    )


def _read(document: bytes | str) -> tuple[dict[str, Any], bytes, ReceiptFacts]:
    """The signed part, the signature and the facts of a document in canonical form."""
    raw = document.encode() if isinstance(document, str) else document
    raw = raw.strip(b" \t\r\n")
    if not raw:
        raise _Malformed("内容是空的。", "it is empty.")
    if len(raw) > MAX_BYTES:
        raise _Malformed("内容太长。", "it is far too long.")
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Malformed("不是有效的 JSON。", "it is not valid JSON.") from exc
    if not isinstance(parsed, dict) or set(parsed) != _SIGNED | {"signature"}:
        raise _Malformed("栏目不对。", "its fields are not a receipt's.")
    if type(parsed["version"]) is not int or parsed["version"] != VERSION:
        raise _Malformed("版本不是本系统签发的版本。", "its version is not one issued here.")
    if parsed["type"] != TYPE or parsed["note"] != NOTE:
        raise _Malformed("类型或说明文字不对。", "its type or note is not a receipt's.")
    lead_id = _text(parsed["lead_id"], _LEAD_ID, "线索编号", "the lead id")
    content = _text(parsed["content_sha256"], _SHA256, "内容指纹", "the content hash")
    _text(parsed["key_id"], _KEY_ID, "密钥编号", "the key id")
    reported_at = _moment(parsed["reported_at"])
    attachments = _attachments(parsed["attachments"])
    signature = _signature(parsed["signature"])
    if canonical(parsed) != raw:
        raise _Malformed(
            "文字与签发时不一致（哪怕只是空格、顺序或写法不同）。",
            "its text is not as issued (even spacing, order or escaping differ).",
        )
    signed = {name: value for name, value in parsed.items() if name != "signature"}
    return signed, signature, ReceiptFacts(lead_id, reported_at, content, attachments)


def _text(value: object, pattern: re.Pattern[str], zh: str, en: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise _Malformed(f"{zh}的格式不对。", f"{en} is not well formed.")
    return value


def _moment(value: object) -> datetime:
    text = _text(value, _MOMENT, "提交时间", "the time reported")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _Malformed("提交时间不是有效的时间。", "the time reported is no real time.") from exc
    if utc_text(moment) != text:
        raise _Malformed("提交时间的写法不对。", "the time reported is not written as issued.")
    return moment


def _attachments(value: object) -> tuple[FileHash, ...]:
    if not isinstance(value, list):
        raise _Malformed("附件一栏的格式不对。", "the attachments are not a list.")
    found = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"sha256", "size"}:
            raise _Malformed("附件的栏目不对。", "an attachment's fields are not sha256 and size.")
        size = item["size"]
        if type(size) is not int or not 0 <= size <= _MAX_SIZE:
            raise _Malformed("附件大小的格式不对。", "an attachment's size is not well formed.")
        found.append(
            FileHash(_text(item["sha256"], _SHA256, "附件指纹", "an attachment's hash"), size)
        )
    return tuple(found)


def _signature(value: object) -> bytes:
    if not isinstance(value, str):
        raise _Malformed("签名的格式不对。", "the signature is not text.")
    try:
        signature = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Malformed("签名不是 base64。", "the signature is not base64.") from exc
    # Only the one spelling that was issued: base64 has others for the same bytes.
    if len(signature) != 64 or base64.b64encode(signature).decode() != value:
        raise _Malformed("签名的格式不对。", "the signature is not well formed.")
    return signature
