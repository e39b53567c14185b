"""The receipt: its holder follows the report to the ledger's answer, however the receipt
is written down, and adds to the report, recorded as the reporter's addition."""

from __future__ import annotations

import httpx
import pytest
from nats.js import JetStreamContext

from common.events import Actor, Role, utc_now
from common.events.catalogue import FeedbackGiven, LeadRegistered
from common.eventstore import EventStore
from common.subjects import Stream
from common.vocabulary import Category, Channel
from tests.conftest import wait_until
from tests.support.intake import (
    OWN_VILLAGE,
    intake_events,
    lead,
    unique,
    wait_until_projected,
)

pytestmark = pytest.mark.integration

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")


async def test_the_receipt_holder_follows_the_report_to_its_answer_and_adds_to_it(
    intake: httpx.AsyncClient, streams: JetStreamContext, sqlite_url: str
) -> None:
    reported = await intake.post("/v1/reports", json=lead(unique("村霸强收保护费")))
    assert reported.status_code == 201, reported.text
    lead_id, receipt = reported.json()["lead_id"], reported.json()["receipt"]
    await wait_until_projected(sqlite_url, lead_id)

    received = await intake.get(f"/v1/reports/{receipt}")
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "received"
    assert received.json()["status_label"] == "已受理"
    assert received.json()["feedback"] == []

    written_down = receipt.replace("-", "").lower()
    assert (await intake.get(f"/v1/reports/{written_down}")).json() == received.json()

    added = await intake.post(
        f"/v1/reports/{receipt}/messages",
        json={"text": "补充：收费的人开一辆黑色面包车"},
    )
    assert added.status_code == 201, added.text
    [supplemented] = [
        e for e in await intake_events(streams, lead_id) if e.event_type != "LeadReported"
    ]
    assert supplemented.event_type == "LeadSupplemented"
    assert supplemented.event_id == added.json()["event_id"]
    assert supplemented.actor == Actor(role=Role.REPORTER)

    ledger = EventStore(streams, Stream.LEDGER, "ledger")
    await ledger.append(
        LeadRegistered(
            for_committee=False,
            lead_id=lead_id,
            ledger_number="SHD-2026-000001",
            unit="shd-office",
            reported_at=utc_now(),
            channel=Channel.WEB,
            category=Category.VILLAGE_TYRANT,
            summary="村霸强收保护费",
            village=OWN_VILLAGE,
            actor=OFFICE,
        )
    )
    await ledger.append(FeedbackGiven(lead_id=lead_id, text="已查实并处理", actor=OFFICE))

    async def answered() -> bool:
        view = (await intake.get(f"/v1/reports/{receipt}")).json()
        return view["status"] == "answered" and [f["text"] for f in view["feedback"]] == [
            "已查实并处理"
        ]

    await wait_until(answered)
    assert (await intake.get(f"/v1/reports/{receipt}")).json()["status_label"] == "已反馈"
