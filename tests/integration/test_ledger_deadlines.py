"""The missed-deadline watch (逾期): a deadline that passes is recorded as missed once,
however often and by whichever replica it is checked, and again when an extended deadline
passes in turn; a lead reopened for review is watched like any other."""

from __future__ import annotations

from datetime import timedelta

import pytest
from nats.js import JetStreamContext

from common.events import utc_now
from common.events.catalogue import DeadlineMissed
from ledger.bootstrap import create_app
from tests.conftest import wait_until
from tests.support.apps import serving
from tests.support.ledger import (
    LedgerService,
    act,
    assigned_by_police,
    handed_to_police,
    ids_listed,
    in_days,
    ledger_events,
    moved_to,
    report_and_file,
    shown,
)

pytestmark = pytest.mark.integration


async def missed(js: JetStreamContext, lead_id: str) -> list[DeadlineMissed]:
    return [e for e in await ledger_events(js, lead_id) if isinstance(e, DeadlineMissed)]


async def _missed_exactly(js: JetStreamContext, lead_id: str, times: int) -> bool:
    return len(await missed(js, lead_id)) == times


async def test_a_missed_deadline_is_recorded_once_however_often_and_by_whichever_replica_it_is_checked(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    lead_id = (await report_and_file(service))["lead_id"]
    await handed_to_police(http, lead_id)
    deadline = utc_now() + timedelta(seconds=1.5)
    await assigned_by_police(http, lead_id, deadline)

    await wait_until(lambda: _missed_exactly(js, lead_id, 1), timeout=10)
    for _ in range(3):
        assert await service.app.state.ledger.mark_missed_deadlines() == 0
    replica = create_app(service.settings)  # a second replica, on the same database
    async with serving(replica):
        assert await replica.state.ledger.mark_missed_deadlines() == 0
    [first] = await missed(js, lead_id)
    assert (first.deadline, first.unit, first.assignee) == (deadline, "shd-police", "wang.police")

    row = await shown(http, lead_id, deadline_missed=True)
    assert row["status"] == "assigned"
    assert lead_id in await ids_listed(http, overdue="true")
    assert lead_id not in await ids_listed(http, overdue="false")

    # An extended deadline that passes in turn is missed once more, for the new deadline.
    extended = utc_now() + timedelta(seconds=1.5)
    moved_to(
        await act(
            http,
            lead_id,
            "extend-deadline",
            "police",
            deadline=extended.isoformat(),
            reason="补充调查",
        ),
        "assigned",
    )
    await wait_until(lambda: _missed_exactly(js, lead_id, 2), timeout=10)
    for _ in range(3):
        assert await service.app.state.ledger.mark_missed_deadlines() == 0
    assert [m.deadline for m in await missed(js, lead_id)] == [deadline, extended]
    await shown(http, lead_id, deadline_missed=True)


async def test_a_lead_reopened_for_review_is_flagged_when_its_new_deadline_passes(
    service: LedgerService,
) -> None:
    # The rules allow it (a reopened lead has no result), so the watch must see it too.
    http, js = service.http, service.js
    lead_id = (await report_and_file(service))["lead_id"]
    await handed_to_police(http, lead_id)
    await assigned_by_police(http, lead_id, in_days(10))
    moved_to(
        await act(http, lead_id, "conclude", "police", result="substantiated", summary="查证属实"),
        "concluded",
    )
    moved_to(
        await act(http, lead_id, "reopen", "office", reason="回头看：群众反映问题反弹"), "reopened"
    )
    new_deadline = utc_now() + timedelta(seconds=1)
    moved_to(
        await act(
            http,
            lead_id,
            "assign",
            "police",
            assignee="li.police",
            assignee_name="李警官",
            deadline=new_deadline.isoformat(),
            reason="回头看另行指定",
        ),
        "assigned",
    )

    await wait_until(lambda: _missed_exactly(js, lead_id, 1), timeout=5)
    row = await shown(http, lead_id, deadline_missed=True)
    assert row["conclusion"] is None
    assert lead_id in await ids_listed(http, overdue="true")
