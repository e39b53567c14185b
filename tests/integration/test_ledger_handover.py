"""Handing a lead on in the ledger (移交): only the unit holding a lead hands it on, only to a
known handling unit other than itself, and only the unit it went to takes it or returns it
(with its reason) to the office. A refused step records nothing."""

from __future__ import annotations

import pytest

from common.events.catalogue import TransferReturned
from tests.support.ledger import (
    OFFICE_UNIT,
    LedgerService,
    act,
    event_types,
    forbidden,
    hidden,
    ledger_events,
    moved_to,
    refused,
    report_and_file,
    shown,
)

pytestmark = pytest.mark.integration


async def test_only_the_unit_holding_a_lead_hands_it_on_and_only_the_unit_it_went_to_takes_it(
    service: LedgerService,
) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]

    # Not handed to the police: to them the lead is not there at all.
    hidden(
        await act(http, lead_id, "transfer", "police", to_unit="shd-judicial", reason="转司法所")
    )
    hidden(await act(http, lead_id, "accept", "police"))

    moved_to(
        await act(http, lead_id, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"),
        "transferred",
    )
    hidden(await act(http, lead_id, "accept", "judicial"))
    refused(
        await act(
            http, lead_id, "assign", "office", assignee="zhou.office", assignee_name="周主任"
        ),
        "正等待shd-police接收或退回",
        "waiting for shd-police",
    )
    moved_to(await act(http, lead_id, "accept", "police"), "accepted")
    refused(await act(http, lead_id, "accept", "police"), "该线索没有待接收的移交", "not waiting")

    assert await event_types(service.js, lead_id) == [
        "LeadRegistered",
        "LeadTransferred",
        "TransferAccepted",
    ]


async def test_a_lead_is_handed_only_to_a_known_handling_unit_other_than_its_holder(
    service: LedgerService,
) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]

    nowhere = await act(http, lead_id, "transfer", "office", to_unit="shd-nowhere", reason="移交")
    refused(nowhere, "没有这个单位 'shd-nowhere'", "unknown unit 'shd-nowhere'")
    # The answer names the field, as an invalid body does.
    assert [p["field"] for p in nowhere.json()["detail"]] == ["to_unit"]
    refused(
        await act(http, lead_id, "transfer", "office", to_unit="shd-v02", reason="移交村里"),
        "没有这个单位 'shd-v02'",
        "unknown unit",
    )
    refused(
        await act(http, lead_id, "transfer", "office", to_unit=OFFICE_UNIT, reason="移交"),
        "该线索已在该单位",
        "already held by that unit",
    )

    assert await event_types(service.js, lead_id) == ["LeadRegistered"]


async def test_a_receiving_unit_returns_a_lead_to_the_office_with_its_reason(
    service: LedgerService,
) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]
    moved_to(
        await act(http, lead_id, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"),
        "transferred",
    )

    no_reason = await act(http, lead_id, "return", "police")
    assert no_reason.status_code == 422, no_reason.text
    assert [(p["field"], p["label"]) for p in no_reason.json()["detail"]] == [("reason", "理由")]
    moved_to(
        await act(http, lead_id, "return", "police", reason="属民事纠纷，不属公安管辖"), "returned"
    )

    # The office holds it again: the police may no longer act, the office hands it on.
    forbidden(
        await act(
            http, lead_id, "assign", "police", assignee="wang.police", assignee_name="王警官"
        ),
        "only the unit holding the lead (shd-office)",
    )
    row = await shown(http, lead_id, status="returned")
    assert (row["status_label"], row["unit"]) == ("已退回", OFFICE_UNIT)
    moved_to(
        await act(
            http,
            lead_id,
            "transfer",
            "office",
            to_unit="shd-judicial",
            reason="民事纠纷，司法所调解",
        ),
        "transferred",
    )
    moved_to(await act(http, lead_id, "accept", "judicial"), "accepted")

    [returned] = [
        e for e in await ledger_events(service.js, lead_id) if isinstance(e, TransferReturned)
    ]
    assert (returned.unit, returned.to_unit, returned.reason) == (
        "shd-police",
        OFFICE_UNIT,
        "属民事纠纷，不属公安管辖",
    )
