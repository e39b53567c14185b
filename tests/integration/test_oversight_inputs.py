"""Oversight questions what it is given: a joint-investigation link names a lead that was
reported, and a transfer of a lead nobody reported opens no case."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext

from common.events.catalogue import LeadTransferred
from common.subjects import Service, Stream, durable_name
from common.vocabulary import Flag
from tests.conftest import wait_until
from tests.support.apps import token
from tests.support.factories import new_lead_id
from tests.support.oversight import (
    OFFICE,
    OFFICE_ACTOR,
    OversightService,
    case_of,
    decided,
    ledger_log,
    report,
)
from tests.support.streams import subjects_on

pytestmark = pytest.mark.integration

TRANSFERS = durable_name(Service.OVERSIGHT, "cases-from-transfers")


async def test_an_umbrella_case_is_linked_only_to_a_lead_that_was_reported(
    streams: JetStreamContext,
    oversight: OversightService,
) -> None:
    umbrella = await report(
        streams, flags=(Flag.PROTECTIVE_UMBRELLA,), summary="某所长为赌场充当保护伞"
    )
    gang = await report(streams, summary="赌场老板纠集人员暴力讨债")
    case = await case_of(oversight.http, umbrella.lead_id)
    link = f"/v1/oversight/cases/{case['case_id']}/link"

    linked = await decided(oversight.http, link, {"gang_lead_id": gang.lead_id})
    assert linked["event_type"] == "UmbrellaLinked"

    invented = await oversight.http.post(
        link, json={"gang_lead_id": new_lead_id()}, headers=token("discipline")
    )
    assert invented.status_code == 422, invented.text
    [problem] = invented.json()["detail"]
    assert problem["field"] == "gang_lead_id"
    assert "涉黑涉恶线索" in problem["message"]
    links = await subjects_on(streams, Stream.OVERSIGHT, "oversight.lead.*.UmbrellaLinked")
    assert sum(links.values()) == 1, "the refused link must not replace the real one"


async def test_a_transfer_of_a_lead_nobody_reported_opens_no_case(
    streams: JetStreamContext,
    oversight: OversightService,
) -> None:
    ghost = new_lead_id()
    await ledger_log(streams).append(
        LeadTransferred(
            lead_id=ghost,
            from_unit=OFFICE,
            to_unit="shd-discipline",
            reason="移送纪委",
            actor=OFFICE_ACTOR,
        )
    )

    async def questioned() -> bool:
        info = await streams.consumer_info(Stream.LEDGER.value, TRANSFERS)
        return bool(info.num_redelivered)

    # The reactor took it, refused it, and will park it after its retries.
    await wait_until(questioned, timeout=15)
    assert await subjects_on(streams, Stream.OVERSIGHT, f"oversight.lead.{ghost}.>") == {}
