"""Things that exist, for the fuzzer to name: a random lead id reaches no further than the
404, a seeded one reaches the rules. Each function returns path parameter -> known values."""

from __future__ import annotations

import httpx
from nats.js import JetStreamContext

from common.events.catalogue import LeadReported
from common.eventstore import EventStore
from common.subjects import Stream
from common.vocabulary import Category, Flag
from common.workauth import WorkAuth
from oversight.domain.cases import case_id_for
from tests.conftest import wait_until
from tests.support.apps import token
from tests.support.factories import reported

Known = dict[str, list[str]]


async def seed_intake(base_url: str) -> Known:
    """A named report and an anonymous one, as the public sends them."""
    async with httpx.AsyncClient(base_url=base_url, auth=WorkAuth()) as client:
        answers = [
            await client.post("/v1/reports", json=body)
            for body in (
                {
                    "category": Category.CULT_VICE.value,
                    "summary": "a casino behind the old mill",
                    "identity": {"name": "张三", "phone": "13800000000"},
                },
                {"category": Category.CULT_VICE.value, "summary": "they collect fees by force"},
            )
        ]
    for answer in answers:
        answer.raise_for_status()
    return {
        "lead_id": [a.json()["lead_id"] for a in answers],
        "receipt": [a.json()["receipt"] for a in answers],
    }


async def seed_ledger(js: JetStreamContext, base_url: str) -> Known:
    """Two reports the ledger registers: an ordinary one, and one about an official."""
    leads = await _report(js, reported(), _about_an_official())
    async with httpx.AsyncClient(base_url=base_url, headers=token("office")) as client:
        for lead_id in leads:
            await wait_until(
                lambda lead_id=lead_id: _answers(client, f"/v1/ledger/leads/{lead_id}"), 20
            )
    return {"lead_id": leads}


async def seed_oversight(js: JetStreamContext, base_url: str) -> Known:
    """A report about an official, which opens a case."""
    leads = await _report(js, _about_an_official())
    cases = [case_id_for(lead_id) for lead_id in leads]
    async with httpx.AsyncClient(base_url=base_url, headers=token("discipline")) as client:
        for case_id in cases:
            await wait_until(
                lambda case_id=case_id: _answers(client, f"/v1/oversight/cases/{case_id}"), 20
            )
    return {"lead_id": leads, "case_id": cases}


def _about_an_official() -> LeadReported:
    event = reported(summary="the deputy head shields the casino")
    return event.model_copy(update={"flags": (Flag.PROTECTIVE_UMBRELLA,)})


async def _report(js: JetStreamContext, *events: LeadReported) -> list[str]:
    store = EventStore(js, Stream.INTAKE, "intake")
    for event in events:
        await store.append(event)
    return [event.lead_id for event in events]


async def _answers(client: httpx.AsyncClient, path: str) -> bool:
    return (await client.get(path)).status_code == 200
