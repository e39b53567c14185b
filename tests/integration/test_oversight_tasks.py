"""The committee watches the rectification ledger (整改台账): the items past their deadline
and not closed (销号) are listed, the longest overdue first, with their responsible unit and
person; an item closed, or still within its deadline, is not; reassigned to a later
deadline, it leaves the list. Only the committee's roles read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext

from common.events import Actor, Role
from common.events.tasks import (
    TaskClosed,
    TaskClosureRequested,
    TaskOpened,
    TaskProgressReported,
    TaskReassigned,
    TaskSource,
)
from tests.conftest import wait_until
from tests.support.apps import token
from tests.support.oversight import OversightService, get, record

pytestmark = pytest.mark.integration

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
POLICE = Actor(role=Role.POLICE, unit="shd-police", user="wang.police")
OVERDUE = "/v1/oversight/tasks/overdue"


def item(task_id: str, days_left: float, unit: str = "shd-police") -> TaskOpened:
    return TaskOpened(
        task_id=task_id,
        source=TaskSource.INSPECTION,
        problem=f"督导反馈问题 {task_id}",
        measures=("限期整改",),
        unit=unit,
        assignee="wang.police" if unit == "shd-police" else "judicial",
        assignee_name="王警官" if unit == "shd-police" else "司法所",
        deadline=datetime.now(UTC) + timedelta(days=days_left),
        town="shd",
        actor=OFFICE,
    )


async def test_the_committee_sees_the_overdue_items_and_not_the_others(
    oversight: OversightService, js: JetStreamContext
) -> None:
    http = oversight.http
    await record(
        js,
        item("late-police", -5),
        item("later-judicial", -2, unit="shd-judicial"),
        item("on-time", 10),
        item("closed-late", -8),
        TaskProgressReported(task_id="closed-late", text="已整改", actor=POLICE),
        TaskClosureRequested(task_id="closed-late", summary="完成", actor=POLICE),
        TaskClosed(task_id="closed-late", actor=OFFICE),
        item("asked-late", -1),
        TaskProgressReported(task_id="asked-late", text="已整改", actor=POLICE),
        TaskClosureRequested(task_id="asked-late", summary="完成", actor=POLICE),
    )

    async def listed() -> bool:
        found = await get(http, OVERDUE)
        return [t["task_id"] for t in found] == ["late-police", "later-judicial", "asked-late"]

    await wait_until(listed)
    [first, _, asked] = await get(http, OVERDUE)
    assert (first["unit_name"], first["assignee_name"], first["days_overdue"]) == (
        "沙河店派出所",
        "王警官",
        5,
    )
    # Waiting for the office's decision is still overdue until it is closed.
    assert asked["status"] == "closure_requested"
    only_judicial = await get(http, OVERDUE, unit="shd-judicial")
    assert [t["task_id"] for t in only_judicial] == ["later-judicial"]
    assert [t["task_id"] for t in await get(http, OVERDUE, user="auditor")] == [
        "late-police",
        "later-judicial",
        "asked-late",
    ]

    # Given a new deadline, the item is no longer overdue.
    await record(
        js,
        TaskReassigned(
            task_id="late-police",
            unit="shd-police",
            assignee="wang.police",
            assignee_name="王警官",
            deadline=datetime.now(UTC) + timedelta(days=7),
            town="shd",
            reason="延期整改",
            actor=OFFICE,
        ),
    )

    async def moved() -> bool:
        return [t["task_id"] for t in await get(http, OVERDUE)] == ["later-judicial", "asked-late"]

    await wait_until(moved)

    # The handling units do not read the committee's view; a unit that is no code is refused.
    for user in ("police", "office", "clerk"):
        refused = await http.get(OVERDUE, headers=token(user))
        assert refused.status_code == 403, user
    hostile = await http.get(OVERDUE, params={"unit": "shd.*"}, headers=token("discipline"))
    assert hostile.status_code == 422
    assert hostile.json()["detail"][0]["field"] == "unit"
