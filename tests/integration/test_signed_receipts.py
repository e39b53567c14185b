"""Signed receipts end to end: a public report's answer carries a document that verifies
through the API, on the public page and with `leadctl verify-receipt` offline, and fails
after one changed byte; it holds neither the identity nor the receipt nor a file's name, is
not kept anywhere, comes back the same on a keyed retry, and staff's entry gets one too."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from common.events import utc_now
from common.workauth import WorkAuth
from intake.bootstrap import create_app
from intake.signed_receipts import ReceiptFacts, ReceiptSigner
from tests.conftest import NatsTarget
from tests.support.apps import token
from tests.support.intake import (
    Keys,
    PlantedIdentity,
    everything_in_jetstream,
    everything_in_the_database,
    intake_settings,
    lead,
    report_of,
    stored_in_intake,
    unique,
)
from tests.support.leadctl import leadctl_beside
from tests.support.suite import over_http

pytestmark = pytest.mark.integration

PHOTO = b"\x89PNG a photo of the fish pond"
PHOTO_NAME = "王某家鱼塘-拍摄者李四.png"


@dataclass(frozen=True)
class Served:
    client: httpx.AsyncClient
    url: str


@pytest.fixture
async def served(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> AsyncIterator[Served]:
    """Intake over real HTTP, so that leadctl can fetch its public key as an operator would."""
    app = create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))
    async with over_http(app) as port:
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, auth=WorkAuth(), timeout=30) as client:
            yield Served(client, url)


def a_report(identity: PlantedIdentity | None = None) -> dict[str, Any]:
    body = lead(
        unique("  村霸强占村集体鱼塘  "),
        details="每年都来收钱，不给就打人。",
        flags=["protective_umbrella", "involves_official"],
        attachments=[
            {"name": PHOTO_NAME, "size": len(PHOTO), "sha256": hashlib.sha256(PHOTO).hexdigest()}
        ],
    )
    if identity is not None:
        body["identity"] = identity.as_json()
    return body


def content_hash_of(body: dict[str, Any]) -> str:
    """What the receipt's content hash is documented to be, worked out from the request."""
    content = {
        "attachments": [{"sha256": a["sha256"], "size": a["size"]} for a in body["attachments"]],
        "category": body["category"],
        "details": body["details"].strip(),
        "flags": body["flags"],
        "summary": body["summary"].strip(),
        "village": body["village"],
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def public_key(client: httpx.AsyncClient) -> str:
    answer = await client.get("/v1/receipts/public-key")
    assert answer.status_code == 200, answer.text
    [key] = answer.json()["keys"]
    return str(key["public_key"])


async def verified(client: httpx.AsyncClient, document: str | bytes) -> dict[str, Any]:
    answer = await client.post(
        "/v1/receipts/verify", content=document, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    verdict: dict[str, Any] = answer.json()
    return verdict


def one_byte_changed(document: str, inside: str) -> bytes:
    """The document with one byte of ``inside`` (a value it holds) changed into another
    digit, so that what is changed still looks like what it was (a hash stays hex)."""
    raw = document.encode()
    at = raw.index(inside.encode()) + len(inside) // 2
    return raw[:at] + (b"1" if raw[at : at + 1] == b"0" else b"0") + raw[at + 1 :]


async def test_a_public_reports_receipt_verifies_here_and_offline_and_fails_after_one_changed_byte(
    served: Served, streams: JetStreamContext, tmp_path: Path
) -> None:
    client = served.client
    body = a_report()
    answer = await client.post("/v1/reports", json=body)
    assert answer.status_code == 201, answer.text
    lead_id, document = answer.json()["lead_id"], answer.json()["signed_receipt"]
    reported = await report_of(streams, lead_id)

    fields = json.loads(document)
    assert fields["lead_id"] == lead_id
    assert fields["reported_at"] == reported.occurred_at.isoformat().replace("+00:00", "Z")
    assert fields["content_sha256"] == content_hash_of(body)
    assert fields["attachments"] == [
        {"sha256": hashlib.sha256(PHOTO).hexdigest(), "size": len(PHOTO)}
    ]

    stored_before = await stored_in_intake(streams)
    verdict = await verified(client, document)
    assert (verdict["valid"], verdict["reason"]) == (True, "valid"), verdict
    assert verdict["lead_id"] == lead_id
    assert verdict["reported_at"] == fields["reported_at"]
    assert verdict["content_sha256"] == fields["content_sha256"]

    file = tmp_path / "signed-receipt.json"
    file.write_text(document, encoding="utf-8")
    key = await public_key(client)
    offline = await leadctl_beside("verify-receipt", file, "--public-key", key)
    assert offline.exit_code == 0, offline.output
    assert "有效 / valid" in offline.output
    assert lead_id in offline.output
    fetched = await leadctl_beside("verify-receipt", file, "--url", served.url)
    assert fetched.exit_code == 0, fetched.output

    changed = one_byte_changed(document, fields["content_sha256"])
    verdict = await verified(client, changed)
    assert (verdict["valid"], verdict["reason"]) == (False, "bad_signature"), verdict
    assert verdict["lead_id"] is None
    assert "签名不符" in verdict["message"]
    assert "signature does not hold" in verdict["message_en"]
    file.write_bytes(changed)
    offline = await leadctl_beside("verify-receipt", file, "--public-key", key)
    assert offline.exit_code == 1, offline.output
    assert "无效 / invalid (bad_signature)" in offline.output
    assert "签名不符" in offline.output
    assert "The signature does not hold" in offline.output

    verdict = await verified(client, one_byte_changed(document, '"version"'))
    assert (verdict["valid"], verdict["reason"]) == (False, "malformed"), verdict
    # Checking records nothing.
    assert await stored_in_intake(streams) == stored_before


async def test_the_receipt_holds_no_identity_no_receipt_no_file_name_and_is_kept_nowhere(
    served: Served, streams: JetStreamContext, sqlite_url: str
) -> None:
    planted = PlantedIdentity.new()
    answer = await served.client.post("/v1/reports", json=a_report(planted))
    assert answer.status_code == 201, answer.text
    document, receipt = answer.json()["signed_receipt"], answer.json()["receipt"]
    assert (await verified(served.client, document))["valid"]

    raw = document.encode()
    assert planted.found_in(raw) == []
    for written in (receipt, receipt.replace("-", ""), receipt.lower()):
        assert written.encode() not in raw
    assert PHOTO_NAME.encode() not in raw
    assert json.dumps(PHOTO_NAME).strip('"').encode() not in raw
    assert "身份" in json.loads(document)["note"]

    # Given once: neither the log nor the database holds its signature.
    signature = json.loads(document)["signature"].encode()
    assert not [m for _, _, m in await everything_in_jetstream(streams) if signature in m]
    assert signature not in everything_in_the_database(sqlite_url)


async def test_a_keyed_retry_gets_the_same_receipt_byte_for_byte(served: Served) -> None:
    body, key = a_report(), {"Idempotency-Key": os.urandom(16).hex()}
    first = await served.client.post("/v1/reports", json=body, headers=key)
    again = await served.client.post("/v1/reports", json=body, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["lead_id"] == first.json()["lead_id"]
    assert again.json()["signed_receipt"] == first.json()["signed_receipt"]


async def test_a_lead_staff_enter_gets_a_receipt_to_hand_to_the_reporter(served: Served) -> None:
    entered = await served.client.post(
        "/v1/leads",
        json=lead(unique("来电反映村霸收保护费"), channel="hotline"),
        headers=token("clerk"),
    )
    assert entered.status_code == 201, entered.text
    verdict = await verified(served.client, entered.json()["signed_receipt"])
    assert verdict["valid"], verdict
    assert verdict["lead_id"] == entered.json()["lead_id"]
    assert verdict["attachments"] == []


async def test_the_public_key_is_published_and_nothing_else_verifies(served: Served) -> None:
    answer = await served.client.get("/v1/receipts/public-key")
    assert answer.status_code == 200, answer.text
    published = answer.json()
    assert published["algorithm"] == "Ed25519"
    [key] = published["keys"]
    assert key["current"] is True
    raw = base64.b64decode(key["public_key"])
    assert len(raw) == 32
    assert key["key_id"] == hashlib.sha256(raw).hexdigest()[:16]

    forged = ReceiptSigner(os.urandom(32)).sign(ReceiptFacts("a" * 32, utc_now(), "b" * 64))
    verdict = await verified(served.client, forged)
    assert (verdict["valid"], verdict["reason"]) == (False, "unknown_key"), verdict
    for junk in (b"", b"not a receipt", b"\xff\xfe", b'{"version":1}', b"[" * 5000):
        verdict = await verified(served.client, junk)
        assert (verdict["valid"], verdict["reason"]) == (False, "malformed"), (junk, verdict)
        assert verdict["message"]
        assert verdict["message_en"]


async def test_the_public_page_checks_a_receipt_chosen_as_a_file_or_pasted(
    served: Served,
) -> None:
    reported = await served.client.post("/v1/reports", json=a_report())
    document = reported.json()["signed_receipt"]
    client = served.client

    as_file = await client.post(
        "/verify-receipt",
        files={"file": ("signed-receipt.json", document.encode(), "application/json")},
        data={"text": ""},
    )
    assert as_file.status_code == 200, as_file.text
    assert "回执有效" in as_file.text
    assert reported.json()["lead_id"] in as_file.text
    assert "(UTC+8)" in as_file.text

    pasted = await client.post("/verify-receipt?lang=en", data={"text": f"\n{document}\n"})
    assert pasted.status_code == 200, pasted.text
    assert "The receipt is valid" in pasted.text

    changed = one_byte_changed(document, json.loads(document)["signature"])
    refused = await client.post("/verify-receipt", data={"text": changed.decode()})
    assert refused.status_code == 200, refused.text
    assert "回执有效" not in refused.text
    assert "签名不符" in refused.text

    empty = await client.post("/verify-receipt", data={"text": "  "})
    assert empty.status_code == 422, empty.text
    assert "请选择回执文件" in empty.text
