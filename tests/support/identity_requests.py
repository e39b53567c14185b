"""Reading a named reporter's identity as the rules now allow: asked for by one person,
approved by a custodian other than the asker, read once by the asker."""

from __future__ import annotations

import secrets

import httpx
from nats.js import JetStreamContext
from sqlalchemy import create_engine, select

from common.database import sync_url
from common.events import Actor, Role
from common.events.catalogue import LeadRegistered, LeadTransferred
from common.eventstore import EventStore
from common.subjects import Stream
from common.visibility import units_of
from intake.projection.tables import reports
from tests.conftest import wait_until
from tests.support.apps import token
from tests.support.intake import report_of

ASKED = {"reason_category": "statement", "reason": "需制作询问笔录"}


async def ask(intake: httpx.AsyncClient, lead_id: str, user: str) -> httpx.Response:
    return await intake.post(
        f"/v1/leads/{lead_id}/identity/requests", json=ASKED, headers=token(user)
    )


async def read_on_approval(
    intake: httpx.AsyncClient, lead_id: str, asker: str = "police", approver: str = "custodian"
) -> httpx.Response:
    """The asker's read of a request the approver approved (the answer of the read, or of
    the first step refused)."""
    asked = await ask(intake, lead_id, asker)
    if asked.status_code != 201:
        return asked
    request = f"/v1/leads/{lead_id}/identity/requests/{asked.json()['request_id']}"
    approved = await intake.post(f"{request}/approve", json={}, headers=token(approver))
    if approved.status_code != 200:
        return approved
    return await intake.post(f"{request}/read", headers=token(asker))


async def handed_to(js: JetStreamContext, database_url: str, lead_id: str, *units: str) -> None:
    """The lead filed by the town's office and handed to ``units``, as the ledger records
    it, once intake's read model knows it: the people of those units may then read the
    lead in intake (common.visibility), and so ask for its reporter."""
    reported = await report_of(js, lead_id)
    office = Actor(role=Role.OFFICE, unit="shd-office", user="office")
    ledger = EventStore(js, Stream.LEDGER, "ledger")
    await ledger.append(
        LeadRegistered(
            lead_id=lead_id,
            ledger_number=f"SHD-2026-{secrets.randbelow(10**6):06d}",
            unit="shd-office",
            reported_at=reported.occurred_at,
            channel=reported.channel,
            category=reported.category,
            summary=reported.summary,
            village=reported.village,
            for_committee=False,
            town="shd",
            actor=office,
        )
    )
    for unit in units:
        await ledger.append(
            LeadTransferred(
                lead_id=lead_id,
                from_unit="shd-office",
                to_unit=unit,
                reason="移交核查",
                actor=office,
            )
        )
    engine = create_engine(sync_url(database_url))

    def known() -> bool:
        with engine.connect() as conn:
            held = conn.execute(select(reports.c.units).where(reports.c.lead_id == lead_id))
            return set(units) <= units_of(held.scalar())

    try:
        await wait_until(known)
    finally:
        engine.dispose()
