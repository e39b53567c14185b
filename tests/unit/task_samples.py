"""One valid instance of every task event (common.events.tasks), for the event tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from common.events import Actor, Event, Role
from common.events.catalogue import Attachment
from common.events.tasks import (
    TaskClosed,
    TaskClosureRequested,
    TaskOpened,
    TaskProgressReported,
    TaskReassigned,
    TaskReturned,
    TaskSource,
    TaskViewed,
)

TASK = "task-1"
OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
POLICE = Actor(role=Role.POLICE, unit="shd-police", user="wang.police")
DEADLINE = datetime(2027, 6, 30, 15, 59, 59, tzinfo=UTC)

# The wire names are the contract: renaming one strands every stored event of that type.
TASK_WIRE_NAMES: Final = frozenset(
    {
        "TaskOpened",
        "TaskProgressReported",
        "TaskClosureRequested",
        "TaskClosed",
        "TaskReturned",
        "TaskReassigned",
        "TaskViewed",
    }
)

TASK_SAMPLES: Final[dict[type[Event], Event]] = {
    TaskOpened: TaskOpened(
        task_id=TASK,
        source=TaskSource.INSPECTION,
        source_ref="县督导组反馈意见",
        problem="线索反馈不及时",
        measures=("逐条反馈", "建立台账"),
        unit="shd-police",
        assignee="wang.police",
        assignee_name="王警官",
        deadline=DEADLINE,
        town="shd",
        list_id="campaign-2027",
        actor=OFFICE,
    ),
    TaskProgressReported: TaskProgressReported(
        task_id=TASK,
        text="已复核12条",
        evidence=(Attachment(name="photo.jpg", size=2048, sha256="c" * 64),),
        actor=POLICE,
    ),
    TaskClosureRequested: TaskClosureRequested(task_id=TASK, summary="已整改", actor=POLICE),
    TaskClosed: TaskClosed(task_id=TASK, note="同意销号", actor=OFFICE),
    TaskReturned: TaskReturned(task_id=TASK, reason="材料不全", actor=OFFICE),
    TaskReassigned: TaskReassigned(
        task_id=TASK,
        unit="shd-judicial",
        assignee="judicial",
        assignee_name="司法所",
        deadline=DEADLINE,
        town="shd",
        reason="职责调整",
        actor=OFFICE,
    ),
    TaskViewed: TaskViewed(task_id=TASK, service="ledger", actor=OFFICE),
}
