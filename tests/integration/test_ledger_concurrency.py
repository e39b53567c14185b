"""Officers acting on one lead at once: exactly one of the competing commands is recorded,
the others are told to refresh and try again; on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from common.events.catalogue import ResponsibilityAssigned
from tests.support.ledger import (
    LedgerService,
    act,
    event_types,
    handed_to_police,
    ledger_events,
    moved_to,
    report_and_file,
)

pytestmark = pytest.mark.integration


async def test_of_eight_officers_assigning_one_lead_at_once_exactly_one_is_recorded(
    service_on_each_database: LedgerService,
) -> None:
    service = service_on_each_database
    lead_id = (await report_and_file(service))["lead_id"]
    await handed_to_police(service.http, lead_id)
    assignees = [f"officer.{n}" for n in range(8)]

    responses = await asyncio.gather(
        *(
            act(service.http, lead_id, "assign", "police", assignee=who, assignee_name=f"警官{n}")
            for n, who in enumerate(assignees)
        )
    )

    codes = Counter(r.status_code for r in responses)
    assert codes[200] == 1, codes
    assert set(codes) <= {200, 409, 422}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["detail"][0]["message"] == "该线索刚被他人修改，请刷新后重试"
    [winner] = [who for who, r in zip(assignees, responses, strict=True) if r.status_code == 200]
    recorded = [
        e for e in await ledger_events(service.js, lead_id) if isinstance(e, ResponsibilityAssigned)
    ]
    assert [e.assignee for e in recorded] == [winner]


async def test_a_transfer_accepted_twice_at_once_is_accepted_once(
    service_on_each_database: LedgerService,
) -> None:
    service = service_on_each_database
    lead_id = (await report_and_file(service))["lead_id"]
    moved_to(
        await act(
            service.http, lead_id, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"
        ),
        "transferred",
    )

    responses = await asyncio.gather(
        *(act(service.http, lead_id, "accept", "police") for _ in range(2))
    )

    assert sorted(r.status_code for r in responses)[0] == 200
    assert sorted(r.status_code for r in responses)[1] in (409, 422), [r.text for r in responses]
    assert (await event_types(service.js, lead_id)).count("TransferAccepted") == 1
