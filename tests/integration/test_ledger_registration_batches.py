"""Leads reported together are numbered in one decision, and the numbers stay gap-free: a
burst through the running registrar, two registrars numbering at once, a batch delivered
again. Each on a LEDGER stream as shipped and on one allowing atomic batches (appended as
one batch each, ledger.batchappend)."""

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


@pytest.fixture(params=["one by one", "atomic batches"])
async def ledger(request: pytest.FixtureRequest, service: LedgerService) -> LedgerService:
    if request.param == "atomic batches":
        config = (await service.js.stream_info(Stream.LEDGER.value)).config
        config.allow_atomic = True
        await service.js.update_stream(config)
    return service


async def atomic_allowed(js: JetStreamContext) -> bool:
    return bool((await js.stream_info(Stream.LEDGER.value)).config.allow_atomic)


async def registrations(js: JetStreamContext) -> list[LeadRegistered]:
    return [event for event, _ in await registrations_by_batch(js)]


async def registrations_by_batch(js: JetStreamContext) -> list[tuple[LeadRegistered, str | None]]:
    """Each registration, with the atomic batch that stored it (None: appended alone)."""
    found = []
    stored = read_messages(
        js, Stream.LEDGER.value, "ledger.lead.*.LeadRegistered", stored_headers=True
    )
    async for msg in stored:
        event = LeadRegistered.model_validate_json(msg.data or b"")
        found.append((event, (msg.headers or {}).get("Nats-Batch-Id")))
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
    ledger: LedgerService,
) -> None:
    service = ledger
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
    ledger: LedgerService,
) -> None:
    service = ledger
    runtime: ServiceRuntime = service.app.state.runtime
    first, second = Registrar(runtime, service.settings), Registrar(runtime, service.settings)
    ours = [reported(flagged=n % 5 == 0) for n in range(40)]
    theirs = [reported(flagged=n % 5 == 0) for n in range(40)]

    await asyncio.gather(first.register_batch(ours), second.register_batch(theirs))

    by_batch = await registrations_by_batch(service.js)
    found = [event for event, _ in by_batch]
    assert sorted(numbers(found)) == list(range(1, 81))
    # Each registrar's reports were filed in one atomic batch where the stream allows it.
    batches = {event.lead_id: batch for event, batch in by_batch}
    for reports in (ours, theirs):
        used = {batches[r.lead_id] for r in reports}
        assert len(used) == 1
        assert (None not in used) == await atomic_allowed(service.js)
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


async def test_a_batch_delivered_again_files_each_lead_once(ledger: LedgerService) -> None:
    service = ledger
    registrar = Registrar(service.app.state.runtime, service.settings)
    batch = [reported(flagged=True), reported(), reported()]

    await registrar.register_batch(batch)
    # Delivered again, with a new report and a repeat inside the batch itself.
    again = [batch[1], reported(), batch[0], batch[1]]
    await registrar.register_batch(again)

    # A lead filed before behind a new one: the batch expecting none on it is refused whole.
    last = [reported(), batch[2]]
    await registrar.register_batch(last)

    found = await registrations(service.js)
    assert numbers(found) == [1, 2, 3, 4, 5]
    assert [r.lead_id for r in found] == [
        *(r.lead_id for r in batch),
        again[1].lead_id,
        last[0].lead_id,
    ]
    assert await event_types(service.js, batch[0].lead_id) == ["LeadRegistered", "LeadTransferred"]
