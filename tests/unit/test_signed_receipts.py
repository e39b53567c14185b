"""The signed receipt document: canonical bytes, signed with intake's Ed25519 key, checked
strictly (one changed byte anywhere fails; a document signed with another key fails;
anything else is refused as malformed, never with an exception); the setting that holds the
key; and `leadctl verify-receipt`, offline."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from intake.settings import IntakeSettings
from intake.signed_receipts import (
    MAX_BYTES,
    FileHash,
    ReceiptFacts,
    ReceiptSigner,
    content_sha256,
    public_key_text,
)
from leadctl.cli import app

FILES = (FileHash("a" * 64, 1024), FileHash("b" * 64, 0))
FACTS = ReceiptFacts(
    lead_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    reported_at=datetime(2026, 3, 1, 2, 3, 4, 567890, tzinfo=UTC),
    content_sha256="c" * 64,
    attachments=FILES,
)


def new_signer() -> ReceiptSigner:
    return ReceiptSigner(os.urandom(32))


@pytest.fixture
def signer() -> ReceiptSigner:
    return new_signer()


@pytest.fixture
def document(signer: ReceiptSigner) -> str:
    return signer.sign(FACTS)


def resigned(signer: ReceiptSigner, fields: dict[str, object]) -> str:
    """A document of the given fields, signed properly by ``signer`` (its key id kept)."""
    signed = {k: v for k, v in fields.items() if k != "signature"}
    canonical = json.dumps(signed, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    signature = signer._key.sign(canonical.encode())
    signed["signature"] = base64.b64encode(signature).decode()
    return json.dumps(signed, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# --- what is signed ------------------------------------------------------------------------


def test_a_receipt_is_canonical_json_that_verifies_and_says_what_it_attests(
    signer: ReceiptSigner, document: str
) -> None:
    fields = json.loads(document)
    assert document == json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert fields["lead_id"] == FACTS.lead_id
    assert fields["reported_at"] == "2026-03-01T02:03:04.567890Z"
    assert fields["content_sha256"] == FACTS.content_sha256
    assert fields["attachments"] == [
        {"sha256": "a" * 64, "size": 1024},
        {"sha256": "b" * 64, "size": 0},
    ]
    assert fields["key_id"] == signer.key_id
    raw_public = base64.b64decode(public_key_text(signer.public))
    assert signer.key_id == hashlib.sha256(raw_public).hexdigest()[:16]
    assert "身份" in fields["note"]
    assert "identity" in fields["note"]
    assert len(base64.b64decode(fields["signature"])) == 64

    verdict = signer.verify(document)
    assert verdict.valid, verdict
    assert verdict.facts == FACTS
    assert verdict.key_id == signer.key_id
    # Signing is deterministic: the same facts give the same bytes (a keyed retry's receipt).
    assert signer.sign(FACTS) == document


def test_whitespace_around_a_document_is_forgiven_as_a_paste_adds_it(
    signer: ReceiptSigner, document: str
) -> None:
    assert signer.verify(f"\n  {document}\r\n").valid


def test_the_content_hash_covers_what_the_reporter_wrote_and_nothing_else() -> None:
    content = {
        "category": "village_tyrant",
        "village": "shd-v01",
        "summary": "村里有人强收保护费",
        "details": "每月初来收。",
        "flags": ["involves_official", "protective_umbrella"],
        "attachments": FILES,
    }
    expected = hashlib.sha256(
        json.dumps(
            {
                "attachments": [{"sha256": f.sha256, "size": f.size} for f in FILES],
                "category": "village_tyrant",
                "details": "每月初来收。",
                "flags": ["involves_official", "protective_umbrella"],
                "summary": "村里有人强收保护费",
                "village": "shd-v01",
            },
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
    ).hexdigest()
    assert content_sha256(**content) == expected  # type: ignore[arg-type]
    changes = {
        "category": "petition",
        "village": None,
        "summary": "村里有人强收保护费。",
        "details": "每月初来收",
        "flags": ["protective_umbrella", "involves_official"],
        "attachments": (FILES[0],),
    }
    for name, value in changes.items():
        assert content_sha256(**(content | {name: value})) != expected, name  # type: ignore[arg-type]


# --- what fails -----------------------------------------------------------------------------


def test_one_changed_byte_anywhere_fails(signer: ReceiptSigner, document: str) -> None:
    raw = document.encode()
    still_valid = []
    reasons = set()
    for position in range(len(raw)):
        for flip in (0x01, 0x20, 0x80):
            changed = bytearray(raw)
            changed[position] ^= flip
            verdict = signer.verify(bytes(changed))
            reasons.add(verdict.reason)
            if verdict.valid:
                still_valid.append((position, flip))
    assert still_valid == []
    assert reasons == {"malformed", "bad_signature", "unknown_key"}


def test_one_byte_added_or_taken_away_fails(signer: ReceiptSigner, document: str) -> None:
    raw = document.encode()
    for position in range(1, len(raw) - 1):
        assert not signer.verify(raw[:position] + raw[position + 1 :]).valid, position
        assert not signer.verify(raw[:position] + b"0" + raw[position:]).valid, position


def test_a_receipt_signed_with_another_key_fails(signer: ReceiptSigner, document: str) -> None:
    other = new_signer()
    forged = other.sign(FACTS)
    verdict = signer.verify(forged)
    assert verdict.reason == "unknown_key"
    assert verdict.key_id == other.key_id
    assert other.key_id in verdict.message_zh
    assert other.key_id in verdict.message_en
    assert verdict.facts is None

    # Signed with the other key under this key's id: the signature does not hold.
    claimed = resigned(other, json.loads(forged) | {"key_id": signer.key_id})
    verdict = signer.verify(claimed)
    assert verdict.reason == "bad_signature"
    assert "签名不符" in verdict.message_zh
    assert "signature" in verdict.message_en


def test_receipts_of_a_replaced_key_still_verify_when_its_public_half_is_kept() -> None:
    old = new_signer()
    document = old.sign(FACTS)
    raw_public = base64.b64decode(public_key_text(old.public))
    current = ReceiptSigner(os.urandom(32), retired=[raw_public])
    assert current.verify(document).valid
    assert new_signer().verify(document).reason == "unknown_key"
    assert list(current.keys) == [current.key_id, old.key_id]


def _variants(document: str) -> dict[str, bytes]:
    fields = json.loads(document)
    signature = base64.b64decode(fields["signature"])
    # The last character before "==" carries 2 bits no decoder reads: another spelling of
    # the same signature bytes.
    text = fields["signature"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    respelt = text[:-3] + alphabet[alphabet.index(text[-3]) ^ 1] + "=="
    assert base64.b64decode(respelt) == signature

    def dumped(value: object, **options: object) -> bytes:
        settings: dict[str, object] = {
            "ensure_ascii": False,
            "sort_keys": True,
            "separators": (",", ":"),
        }
        return json.dumps(value, **(settings | options)).encode()  # type: ignore[arg-type]

    return {
        "empty": b"",
        "blank": b" \n\t ",
        "not json": b"receipt",
        "not utf-8": b"\xff\xfe{\x00}",
        "a list": b"[]",
        "null": b"null",
        "an empty object": b"{}",
        "a string": json.dumps(document).encode(),
        "too long": b" " + b"x" * MAX_BYTES + b" ",
        "nested deep": b"[" * (MAX_BYTES - 1),
        "a field more": dumped(fields | {"name": "王某"}),
        "a field less": dumped({k: v for k, v in fields.items() if k != "note"}),
        "version 2": dumped(fields | {"version": 2}),
        "version as text": dumped(fields | {"version": "1"}),
        "version as a float": document.replace('"version":1', '"version":1.0').encode(),
        "version true": dumped(fields | {"version": True}),
        "another type": dumped(fields | {"type": "invoice"}),
        "another note": dumped(fields | {"note": "identity: 王某"}),
        "lead id with a dot": dumped(fields | {"lead_id": "a.b"}),
        "hash in capitals": dumped(fields | {"content_sha256": "C" * 64}),
        "time without zone": dumped(fields | {"reported_at": "2026-03-01T02:03:04.567890"}),
        "time in +08:00": dumped(fields | {"reported_at": "2026-03-01T10:03:04.567890+08:00"}),
        "no such day": dumped(fields | {"reported_at": "2026-02-30T02:03:04.567890Z"}),
        "attachments not a list": dumped(fields | {"attachments": {}}),
        "an attachment's name": dumped(
            fields | {"attachments": [{"sha256": "a" * 64, "size": 1, "name": "x.jpg"}]}
        ),
        "a negative size": dumped(fields | {"attachments": [{"sha256": "a" * 64, "size": -1}]}),
        "signature not base64": dumped(fields | {"signature": "!!!"}),
        "signature too short": dumped(fields | {"signature": base64.b64encode(b"x").decode()}),
        "signature respelt": dumped(fields | {"signature": respelt}),
        "signature a number": dumped(fields | {"signature": 7}),
        "pretty-printed": dumped(fields, indent=2),
        "keys unsorted": json.dumps(
            dict(reversed(fields.items())), ensure_ascii=False, separators=(",", ":")
        ).encode(),
        "text escaped": dumped(fields, ensure_ascii=True),
        "a key twice": document.replace('{"attachments"', '{"version":1,"attachments"').encode(),
        "NaN": document.replace('"version":1', '"version":NaN').encode(),
    }


def test_anything_but_a_receipt_is_refused_as_malformed_without_an_exception(
    signer: ReceiptSigner, document: str
) -> None:
    for name, variant in _variants(document).items():
        verdict = signer.verify(variant)
        assert verdict.reason == "malformed", (name, verdict)
        assert not verdict.valid
        assert verdict.facts is None
        assert verdict.message_zh.startswith("这不是一份完整的举报回执"), name
        assert verdict.message_en.startswith("This is not a whole report receipt"), name


# --- the setting ------------------------------------------------------------------------------


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in IntakeSettings.model_fields:
        monkeypatch.delenv(f"INTAKE_{name.upper()}", raising=False)
    return {"identity_key": _key(), "receipt_key": _key(), "signing_key": _key()}


def test_intake_needs_a_signing_key_of_32_bytes_apart_from_its_other_keys(
    keys: dict[str, str],
) -> None:
    settings = IntakeSettings(**keys)  # type: ignore[arg-type]
    assert settings.signing_key_bytes == base64.b64decode(keys["signing_key"])
    refused = {
        "missing": {k: v for k, v in keys.items() if k != "signing_key"},
        "placeholder": keys | {"signing_key": "changethis"},
        "short": keys | {"signing_key": base64.b64encode(b"x" * 16).decode()},
        "the identity key again": keys | {"signing_key": keys["identity_key"]},
        "the receipt key again": keys | {"signing_key": keys["receipt_key"]},
    }
    for values in refused.values():
        with pytest.raises(ValidationError, match="signing_key"):
            IntakeSettings(**values)  # type: ignore[arg-type]


def test_retired_signing_keys_are_public_keys(keys: dict[str, str]) -> None:
    old = new_signer()
    kept = public_key_text(old.public)
    settings = IntakeSettings(**keys, retired_signing_keys=f" {kept} ,")  # type: ignore[arg-type]
    assert settings.retired_signing_public_keys == [base64.b64decode(kept)]
    with pytest.raises(ValidationError, match="retired_signing_keys"):
        IntakeSettings(**keys, retired_signing_keys="not-a-key")  # type: ignore[arg-type]


# --- leadctl verify-receipt, offline ------------------------------------------------------------


def verify_receipt(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["verify-receipt", *args])
    return result.exit_code, result.output


def test_leadctl_checks_a_receipt_offline_with_the_public_key(
    tmp_path: Path, signer: ReceiptSigner, document: str
) -> None:
    file = tmp_path / "signed-receipt.json"
    file.write_text(document)
    key = public_key_text(signer.public)

    code, said = verify_receipt(str(file), "--public-key", key)
    assert code == 0, said
    assert "有效 / valid" in said
    assert FACTS.lead_id in said
    assert signer.key_id in said
    assert "2026-03-01T10:03:04.567890+08:00" in said  # the time as people here read it

    code, said = verify_receipt(str(file), "--public-key", key, "--json")
    assert code == 0, said
    answer = json.loads(said)
    assert (answer["valid"], answer["lead_id"]) == (True, FACTS.lead_id)

    file.write_text(document.replace(FACTS.content_sha256, "d" * 64))
    code, said = verify_receipt(str(file), "--public-key", key)
    assert code == 1, said
    assert "无效 / invalid (bad_signature)" in said
    assert "签名不符" in said
    assert "The signature does not hold" in said

    file.write_text(document)
    code, said = verify_receipt(str(file), "--public-key", public_key_text(new_signer().public))
    assert code == 1, said
    assert "unknown_key" in said
    assert "不在已公布的公钥之中" in said


def test_leadctl_needs_a_key_to_check_with(tmp_path: Path, document: str) -> None:
    file = tmp_path / "signed-receipt.json"
    file.write_text(document)
    code, said = verify_receipt(str(file))
    assert code == 2, said
    assert "--public-key" in said
    code, said = verify_receipt(str(file), "--public-key", "not-a-key")
    assert code == 2, said
    assert "not an Ed25519 public key" in said
