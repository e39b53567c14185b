"""Leads reported together are numbered in one decision, and the numbers stay gap-free: a
burst through the running registrar, two registrars numbering at once, a batch delivered
again."""

from __future__ import annotations

import asyncio

import pytest
from nats.js import JetStreamContext

from common.events import Actor, Role
from common.events.catalogue import LeadRegistered, LeadReported, LeadTransferred, ReporterRef
from common.eventstore import read_messages
from common.service import ServiceRuntime
from common.subjects import Stream
from common.vocabulary import Category, Channel, Flag
from ledger.registrar import Registrar
from tests.conftest import wait_until
from tests.support.factories import new_lead_id
from tests.support.ledger import LedgerService, event_types, report

pytestmark = pytest.mark.integration


async def registrations(js: JetStreamContext) -> list[LeadRegistered]:
    found = []
    async for msg in read_messages(js, Stream.LEDGER.value, "ledger.lead.*.LeadRegistered"):
        event = LeadRegistered.model_validate_json(msg.data or b"")
        found.append(event)
    return found


def numbers(found: list[LeadRegistered]) -> list[int]:
    return [int(r.ledger_number.rsplit("-", 1)[1]) for r in found]


def reported(flagged: bool = False) -> LeadReported:
    return LeadReported(
        lead_id=new_lead_id(),
        channel=Channel.HOTLINE,
        category=Category.VILLAGE_TYRANT,
        summary="村霸强占集体土地",
        village="shd-v02",
        flags=(Flag.INVOLVES_OFFICIAL,) if flagged else (),
        reporter=ReporterRef(kind="anonymous"),
        actor=Actor(role=Role.CLERK, unit="shd-office", user="clerk"),
    )


async def test_a_burst_of_reports_is_numbered_gap_free_and_the_flagged_ones_routed(
    service: LedgerService,
) -> None:
    flags = [(Flag.INVOLVES_OFFICIAL,) if n % 4 == 0 else () for n in range(60)]
    lead_ids = await asyncio.gather(*(report(service.js, flags=f) for f in flags))

    async def all_filed() -> bool:
        return len(await registrations(service.js)) >= len(lead_ids)

    await wait_until(all_filed, 30.0)
    found = await registrations(service.js)
    assert numbers(found) == list(range(1, len(lead_ids) + 1))
    assert sorted(r.lead_id for r in found) == sorted(lead_ids)
    for lead_id, flagged in zip(lead_ids, flags, strict=True):
        expected = ["LeadRegistered", "LeadTransferred"] if flagged else ["LeadRegistered"]

        async def routed(lead_id: str = lead_id, expected: list[str] = expected) -> bool:
            return await event_types(service.js, lead_id) == expected

        await wait_until(routed, 10.0)


async def test_two_registrars_numbering_at_once_give_each_number_once(
    service: LedgerService,
) -> None:
    runtime: ServiceRuntime = service.app.state.runtime
    first, second = Registrar(runtime, service.settings), Registrar(runtime, service.settings)
    ours = [reported(flagged=n % 5 == 0) for n in range(40)]
    theirs = [reported(flagged=n % 5 == 0) for n in range(40)]

    await asyncio.gather(first.register_batch(ours), second.register_batch(theirs))

    found = await registrations(service.js)
    assert sorted(numbers(found)) == list(range(1, 81))
    # Numbers rise with the stream's order: no registration took a number behind another.
    assert numbers(found) == sorted(numbers(found))
    # Each registrar files its own batch in the order it was reported.
    for batch in (ours, theirs):
        filed = {r.lead_id: int(r.ledger_number.rsplit("-", 1)[1]) for r in found}
        in_batch = [filed[r.lead_id] for r in batch]
        assert in_batch == sorted(in_batch)
    transferred = 0
    async for msg in read_messages(
        service.js, Stream.LEDGER.value, "ledger.lead.*.LeadTransferred"
    ):
        assert LeadTransferred.model_validate_json(msg.data or b"").to_unit == "shd-discipline"
        transferred += 1
    assert transferred == 16


async def test_a_batch_delivered_again_files_each_lead_once(service: LedgerService) -> None:
    registrar = Registrar(service.app.state.runtime, service.settings)
    batch = [reported(flagged=True), reported(), reported()]

    await registrar.register_batch(batch)
    # Delivered again, with a new report and a repeat inside the batch itself.
    again = [batch[1], reported(), batch[0], batch[1]]
    await registrar.register_batch(again)

    found = await registrations(service.js)
    assert numbers(found) == [1, 2, 3, 4]
    assert [r.lead_id for r in found] == [*(r.lead_id for r in batch), again[1].lead_id]
    assert await event_types(service.js, batch[0].lead_id) == ["LeadRegistered", "LeadTransferred"]
