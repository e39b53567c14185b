"""Tasks and rectification items (工作任务清单, 整改台账), as events.

An item lives on the LEDGER stream under ``ledger.task.<task id>.<Type>``: opened by the
office with where it came from (a work plan, an inspection's finding, a self-check, a
look-back review), the problem, the measures, the responsible unit and person and the
deadline; then the unit's progress reports with their evidence, its request to close the
item, and the office's closure (销号) or return. Its history is a subject-filtered read and
every write is checked against the item's last sequence, as a lead's.

The evidence is named by file name, size and SHA-256 (:class:`Attachment`); the files are
kept elsewhere. Reads of an item are recorded on AUDIT (:class:`TaskViewed`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal

from pydantic import Field, StringConstraints

from common.events.catalogue import Attachment
from common.events.envelope import Event, UtcDatetime

TASK_ID: Final = r"^[A-Za-z0-9_-]{1,64}$"
UNIT: Final = r"^[a-z0-9-]{2,40}$"
ACCOUNT: Final = r"^[a-z0-9._-]{2,64}$"
LONGEST_SOURCE_REF: Final = 200
LONGEST_PROBLEM: Final = 5000
LONGEST_MEASURE: Final = 1000
MOST_MEASURES: Final = 30
LONGEST_REPORT: Final = 5000
MOST_EVIDENCE: Final = 50
LONGEST_REASON: Final = 1000
LONGEST_NAME: Final = 100
LONGEST_LIST_ID: Final = 64

Measure = Annotated[str, StringConstraints(min_length=1, max_length=LONGEST_MEASURE)]


class TaskSource(StrEnum):
    """Where an item came from."""

    PLAN = "plan"  # a work plan's task list (工作任务清单)
    INSPECTION = "inspection"  # an inspection's finding (督导反馈问题)
    SELF_CHECK = "self_check"  # self-inspection (自查自纠)
    LOOK_BACK = "look_back"  # a look-back review (回头看)


class _TaskEvent(Event):
    prefix: ClassVar[str] = "ledger"
    subject_kind: ClassVar[str] = "task"
    task_id: str = Field(pattern=TASK_ID)

    @property
    def subject_id(self) -> str | None:
        return self.task_id


class _Responsibility(_TaskEvent):
    #: the responsible unit; its people report progress and ask to close the item
    unit: str = Field(pattern=UNIT)
    #: the responsible person's account, and the name shown
    assignee: str = Field(pattern=ACCOUNT)
    assignee_name: str = Field(min_length=1, max_length=LONGEST_NAME)
    deadline: UtcDatetime
    #: the town of the responsible unit (a county's streams may be split by it later)
    town: str | None = Field(default=None, max_length=40)


class TaskOpened(_Responsibility):
    """The office put an item on the task list or the rectification ledger."""

    event_type: Literal["TaskOpened"] = "TaskOpened"
    source: TaskSource
    #: which plan, inspection or review, as written on its document
    source_ref: str = Field(default="", max_length=LONGEST_SOURCE_REF)
    problem: str = Field(min_length=1, max_length=LONGEST_PROBLEM)
    #: one or more (ledger.domain.task says so; a record is read back as it was written)
    measures: tuple[Measure, ...] = Field(max_length=MOST_MEASURES)
    #: the task list or campaign the item belongs to, if any
    list_id: str | None = Field(default=None, max_length=LONGEST_LIST_ID)


class TaskProgressReported(_TaskEvent):
    """The responsible unit reported what it has done, with evidence."""

    event_type: Literal["TaskProgressReported"] = "TaskProgressReported"
    text: str = Field(min_length=1, max_length=LONGEST_REPORT)
    evidence: tuple[Attachment, ...] = Field(default=(), max_length=MOST_EVIDENCE)


class TaskClosureRequested(_TaskEvent):
    """The responsible unit says the item is rectified and asks the office to close it."""

    event_type: Literal["TaskClosureRequested"] = "TaskClosureRequested"
    summary: str = Field(min_length=1, max_length=LONGEST_REPORT)


class TaskClosed(_TaskEvent):
    """The office approved the closure (销号); the item is done for good."""

    event_type: Literal["TaskClosed"] = "TaskClosed"
    note: str = Field(default="", max_length=LONGEST_REASON)


class TaskReturned(_TaskEvent):
    """The office refused the closure, with the reason; the unit goes on with the item."""

    event_type: Literal["TaskReturned"] = "TaskReturned"
    reason: str = Field(min_length=1, max_length=LONGEST_REASON)


class TaskReassigned(_Responsibility):
    """The office gave the item to another unit or person, or another deadline."""

    event_type: Literal["TaskReassigned"] = "TaskReassigned"
    reason: str = Field(min_length=1, max_length=LONGEST_REASON)


class TaskViewed(_TaskEvent):
    """Someone read one item in full (recorded as reads of leads are)."""

    prefix: ClassVar[str] = "audit"
    event_type: Literal["TaskViewed"] = "TaskViewed"
    service: str = Field(max_length=20)
