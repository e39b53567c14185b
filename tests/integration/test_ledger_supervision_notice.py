"""The committee's supervision reaches the unit handling the lead: when an automatic rule
fires or a member decides to press a unit (督办), oversight tells the handling unit, as a
directive (SupervisionNoticed), what and why. The police see on their list and on the lead
that it is supervised, since when and why; the notice is in the lead's history; a listed
supervision (挂牌督办) with its deadline stays what it was."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from common.events.catalogue import SupervisionListed
from common.eventstore import EventStore
from common.subjects import Stream
from tests.conftest import wait_until
from tests.support.ledger import (
    COMMITTEE,
    LedgerService,
    filed,
    handed_to_police,
    in_days,
    listed,
    read_in_full,
    report,
    shown,
    supervision_noticed,
)

pytestmark = pytest.mark.integration

OVERDUE = "超过办理时限仍未办结，纪委自动督办 (overdue: supervised automatically)"
BY_HAND = "群众反映强烈，纪委要求加快核查 (pressed by the committee)"


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def test_the_police_see_that_the_committee_supervises_their_lead_and_why(
    service_on_each_database: LedgerService,
) -> None:
    http, js = service_on_each_database.http, service_on_each_database.js
    lead = await report(js, summary="村霸强占集体鱼塘")
    quiet = await report(js, summary="村里有人聚众赌博")
    await filed(http, lead)
    await filed(http, quiet)
    await handed_to_police(http, lead)
    await handed_to_police(http, quiet)
    await shown(http, lead, unit="shd-police")
    before = await read_in_full(http, lead, "police")
    assert (before["supervised_at"], before["supervision_reason"]) == (None, None)

    notice = await supervision_noticed(js, lead, "shd-police", OVERDUE, rule="overdue")
    row = await shown(http, lead, supervision_reason=OVERDUE)

    # On the police's list: which of their leads are supervised, since when, by which rule.
    theirs = {i["lead_id"]: i for i in (await listed(http, "police", page_size=500))["items"]}
    assert set(theirs) == {lead, quiet}
    assert theirs[lead]["supervision_rule"] == "overdue"
    assert moment(theirs[lead]["supervised_at"]) == notice.occurred_at
    assert (theirs[quiet]["supervised_at"], theirs[quiet]["supervision_reason"]) == (None, None)
    assert row["supervision_reason"] == theirs[lead]["supervision_reason"]

    # On the lead: the notice, and the directive in its history.
    page = await read_in_full(http, lead, "police")
    assert (page["supervision_reason"], page["supervision_rule"]) == (OVERDUE, "overdue")
    [told] = [h for h in page["history"] if h["event_type"] == "SupervisionNoticed"]
    assert (told["stream"], told["data"]["unit"], told["data"]["reason"]) == (
        "DIRECTIVES",
        "shd-police",
        OVERDUE,
    )

    # A listed supervision with a deadline is recorded as before, beside the notice.
    deadline = in_days(10)
    await EventStore(js, Stream.DIRECTIVES, "directive").append(
        SupervisionListed(lead_id=lead, unit="shd-police", deadline=deadline, actor=COMMITTEE)
    )

    async def deadline_set() -> bool:
        return (await _row(http, lead))["supervision_deadline"] is not None

    await wait_until(deadline_set)
    row = await _row(http, lead)
    assert moment(row["supervision_deadline"]) == deadline
    assert (row["supervision_reason"], row["supervision_rule"]) == (OVERDUE, "overdue")

    # A later notice, by a member's decision, is the one the unit sees now.
    later = await supervision_noticed(js, lead, "shd-police", BY_HAND)
    await shown(http, lead, supervision_reason=BY_HAND)
    page = await read_in_full(http, lead, "police")
    assert (page["supervision_rule"], moment(page["supervised_at"])) == (None, later.occurred_at)
    assert moment(page["supervision_deadline"]) == deadline
    assert [
        h["data"]["reason"] for h in page["history"] if h["event_type"] == "SupervisionNoticed"
    ] == [
        OVERDUE,
        BY_HAND,
    ]


async def _row(http: httpx.AsyncClient, lead: str) -> dict[str, Any]:
    page = await listed(http, "police", page_size=500)
    [row] = [item for item in page["items"] if item["lead_id"] == lead]
    return row
