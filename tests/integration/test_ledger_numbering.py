"""Numbering survives a message on the registrations' subject that cannot be read: the
registrar steps over it to the last registration it can read, and every lead reported
after it is still filed, gap-free."""

from __future__ import annotations

import uuid

import pytest

from common.events.catalogue import LeadRegistered
from common.eventstore import EventStore
from common.subjects import Stream
from tests.support.factories import new_lead_id
from tests.support.ledger import (
    LedgerService,
    filed,
    report,
)

pytestmark = pytest.mark.integration


def number_of(lead: dict[str, object]) -> int:
    return int(str(lead["ledger_number"]).rsplit("-", 1)[1])


async def test_an_unreadable_registration_does_not_stop_the_numbering(
    service: LedgerService,
) -> None:
    first = await filed(service.http, await report(service.js))

    # Anything holding the ledger's publish rights (a bug, a stolen credential) writes
    # garbage where the last registration is looked up.
    await service.js.publish(
        "ledger.lead.0123456789abcdef0123456789abcdef.LeadRegistered", b"\xff not an event"
    )

    later = [await report(service.js) for _ in range(3)]
    numbers = [number_of(await filed(service.http, lead_id)) for lead_id in later]
    assert numbers == [number_of(first) + 1, number_of(first) + 2, number_of(first) + 3]


async def test_a_registration_whose_number_cannot_be_read_does_not_stop_the_numbering(
    service: LedgerService,
) -> None:
    first = await filed(service.http, await report(service.js))
    # Decodes, was appended, but carries no number the registrar can continue from.
    broken = LeadRegistered.model_validate(
        {**(await _registration_of(service, first["lead_id"])), "lead_id": new_lead_id()}
        | {"ledger_number": "not-a-number", "event_id": str(uuid.uuid4())}
    )
    await EventStore(service.js, Stream.LEDGER, "ledger").append(broken)

    later = [await report(service.js) for _ in range(2)]
    numbers = [number_of(await filed(service.http, lead_id)) for lead_id in later]
    assert numbers == [number_of(first) + 1, number_of(first) + 2]


async def _registration_of(ledger: LedgerService, lead_id: str) -> dict[str, object]:
    history = await EventStore(ledger.js, Stream.LEDGER, "ledger").read_lead(lead_id)
    registered = next(e.event for e in history.events if isinstance(e.event, LeadRegistered))
    return registered.model_dump()
