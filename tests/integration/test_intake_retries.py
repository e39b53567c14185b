"""Idempotent retries: a public report or a staff entry sent again with the same
Idempotency-Key, one after the other or both at once, makes one lead and gives the same
answer; and a retry after a crash between claiming the key and publishing reports the lead
the key was claimed for."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy import update

from common.database import Database
from common.events import utc_now
from common.subjects import Stream
from common.vocabulary import Channel
from intake.application import public_claim
from intake.idempotency import Claims, claims
from intake.receipts import new_receipt
from intake.schemas import PublicReport
from tests.support.apps import token
from tests.support.intake import lead, reports_stored, unique, wait_until_projected

pytestmark = pytest.mark.integration


async def test_a_public_report_retried_with_the_same_key_gives_the_same_lead_and_receipt(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = lead(unique("村霸垄断沙石生意"), identity={"name": "赵六", "phone": "13900000000"})

    first = await intake.post("/v1/reports", json=body, headers=key)
    assert first.status_code == 201, first.text
    lead_id = first.json()["lead_id"]
    # A 201 means JetStream holds the event already: no waiting.
    stored = await streams.get_last_msg(Stream.INTAKE, f"intake.lead.{lead_id}.LeadReported")
    assert json.loads(stored.data or b"")["lead_id"] == lead_id

    again = await intake.post("/v1/reports", json=body, headers=key)
    assert again.status_code == 201, again.text
    assert again.json()["lead_id"] == lead_id
    assert again.json()["receipt"] == first.json()["receipt"]
    assert await reports_stored(streams, lead_id) == 1

    other = await intake.post(
        "/v1/reports", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert other.status_code == 201, other.text
    assert other.json()["lead_id"] != lead_id
    assert other.json()["receipt"] != first.json()["receipt"]
    assert await reports_stored(streams) == 2


async def test_a_staff_entry_retried_with_the_same_key_gives_the_same_lead(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = lead(unique("来电反映村干部索要好处费"), channel=Channel.HOTLINE.value)
    clerk = token("clerk")

    first = await intake.post("/v1/leads", json=body, headers=clerk | key)
    assert first.status_code == 201, first.text
    lead_id = first.json()["lead_id"]
    stored = await streams.get_last_msg(Stream.INTAKE, f"intake.lead.{lead_id}.LeadReported")
    assert json.loads(stored.data or b"")["lead_id"] == lead_id

    again = await intake.post("/v1/leads", json=body, headers=clerk | key)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()

    other = await intake.post(
        "/v1/leads", json=body, headers=clerk | {"Idempotency-Key": uuid.uuid4().hex}
    )
    assert other.status_code == 201, other.text
    assert other.json()["lead_id"] != lead_id
    assert await reports_stored(streams, lead_id) == 1
    assert await reports_stored(streams) == 2


@pytest.mark.parametrize("entry", ["public report", "staff entry"])
async def test_two_concurrent_requests_with_the_same_key_make_one_lead_and_one_answer(
    intake: httpx.AsyncClient, streams: JetStreamContext, entry: str
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    if entry == "public report":
        path, headers = "/v1/reports", key
        body = lead(unique("有人威胁举报人"), identity={"name": "钱七", "phone": "13700000000"})
    else:
        path, headers = "/v1/leads", token("clerk") | key
        body = lead(unique("来访反映有人威胁村民"), channel=Channel.WALK_IN.value)

    first, second = await asyncio.gather(
        intake.post(path, json=body, headers=headers),
        intake.post(path, json=body, headers=headers),
    )

    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert first.json() == second.json()
    assert await reports_stored(streams) == 1
    assert await reports_stored(streams, first.json()["lead_id"]) == 1


async def test_a_retry_after_a_crash_between_claiming_the_key_and_publishing_reports_the_lead(
    intake: httpx.AsyncClient, streams: JetStreamContext, sqlite_url: str
) -> None:
    key = uuid.uuid4().hex
    body = lead(unique("村霸强迫村民低价转让承包地"))
    claim = public_claim(PublicReport.model_validate(body).content(), key)
    # What a process that died after claiming the key, before publishing, leaves behind.
    database = Database(sqlite_url)
    try:
        await Claims(database.async_engine).take(
            claim, {"lead_id": claim.lead_id, "receipt": new_receipt()}
        )
        async with database.async_engine.begin() as conn:
            await conn.execute(
                update(claims)
                .where(claims.c.key_hash == claim.key_hash)
                .values(created_at=utc_now() - timedelta(minutes=2))
            )
    finally:
        await database.dispose()
    assert await reports_stored(streams) == 0

    # The client retries two minutes later with the same key.
    retried = await intake.post("/v1/reports", json=body, headers={"Idempotency-Key": key})

    assert retried.status_code == 201, retried.text
    assert retried.json()["lead_id"] == claim.lead_id
    assert await reports_stored(streams, claim.lead_id) == 1
    # The receipt given is the one the stored report answers to.
    await wait_until_projected(sqlite_url, claim.lead_id)
    followed = await intake.get(f"/v1/reports/{retried.json()['receipt']}")
    assert followed.status_code == 200, followed.text
