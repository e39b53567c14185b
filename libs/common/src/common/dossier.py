"""A dossier's manifest (专题材料清单): what the ledger signs when it exports a period's
dossier, and what ``leadctl verify --dossier`` checks it against, offline.

The manifest is a JSON object naming every other entry of the ZIP with its size and
SHA-256. When the ledger has a signing key (an Ed25519 key as ``leadctl keygen`` makes it),
``signature`` holds the key's id and an Ed25519 signature over the canonical bytes of every
other field (keys sorted, no whitespace, UTF-8: the form checkpoints are signed in), and
``signed`` is true; without a key ``signed`` is false and the hashes alone vouch for the
entries."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final, Literal

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from common.chain import key_id

MANIFEST: Final = "manifest.json"
FORMAT: Final = "lead-dossier/1"
#: the work traces are named, not enclosed: the files are not stored by the suite yet
REFERENCES_ONLY: Final = "references only"
#: a dossier holds a handful of workbooks, reports and notices; far above any real one
MOST_ENTRIES: Final = 2_000
LARGEST_ENTRY: Final = 256 * 1024 * 1024
LARGEST_MANIFEST: Final = 4 * 1024 * 1024

SignatureVerdict = Literal["valid", "unsigned", "unknown_key", "bad_signature", "malformed"]


def signed_part(manifest: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: everything but the signature, in canonical form."""
    return orjson.dumps(
        {k: v for k, v in manifest.items() if k != "signature"}, option=orjson.OPT_SORT_KEYS
    )


def sign(manifest: dict[str, Any], key: Ed25519PrivateKey | None) -> dict[str, Any]:
    """The manifest as it is written: signed with ``key``, or saying it is not."""
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    if key is None:
        return {**unsigned, "signed": False}
    signed = {**unsigned, "signed": True}
    value = base64.b64encode(key.sign(signed_part(signed))).decode()
    return {
        **signed,
        "signature": {"algorithm": "Ed25519", "key_id": key_id(key.public_key()), "value": value},
    }


def check_signature(
    manifest: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]
) -> SignatureVerdict:
    """Whether the manifest's signature holds with one of ``keys`` (by key id)."""
    signature = manifest.get("signature")
    if manifest.get("signed") is not True:
        return "unsigned" if signature is None else "malformed"
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        return "malformed"
    key = keys.get(str(signature.get("key_id")))
    if key is None:
        return "unknown_key"
    try:
        key.verify(base64.b64decode(signature["value"], validate=True), signed_part(manifest))
    except (InvalidSignature, binascii.Error, ValueError):
        return "bad_signature"
    return "valid"
