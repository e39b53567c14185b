"""What the task list and rectification ledger API accepts and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.events.tasks import (
    ACCOUNT,
    LONGEST_MEASURE,
    LONGEST_NAME,
    LONGEST_PROBLEM,
    LONGEST_REASON,
    LONGEST_REPORT,
    LONGEST_SOURCE_REF,
    MOST_EVIDENCE,
    MOST_MEASURES,
    TASK_ID,
    UNIT,
    TaskSource,
)
from common.inputs import AttachmentIn
from common.times import Deadline
from ledger.schemas import HistoryEntry

#: Labels of the fields only these bodies have (the others are the lead API's).
TASK_FIELD_LABELS: Final[dict[str, tuple[str, str]]] = {
    "source": ("问题来源", "source"),
    "source_ref": ("来源依据", "source reference"),
    "problem": ("存在问题", "problem"),
    "measures": ("整改措施", "measures"),
    "unit": ("责任单位", "responsible unit"),
    "list_id": ("所属清单", "task list"),
    "progress": ("整改进展", "progress"),
    "outcome": ("整改完成情况", "what was rectified"),
    "note": ("销号意见", "closure note"),
}

Measure = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=LONGEST_MEASURE)
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Responsible(_In):
    unit: str = Field(pattern=UNIT, max_length=40)
    assignee: str = Field(pattern=ACCOUNT, max_length=64)
    assignee_name: str = Field(min_length=1, max_length=LONGEST_NAME)
    deadline: Deadline


class TaskIn(_Responsible):
    source: TaskSource
    source_ref: str = Field(default="", max_length=LONGEST_SOURCE_REF)
    problem: str = Field(min_length=2, max_length=LONGEST_PROBLEM)
    measures: list[Measure] = Field(min_length=1, max_length=MOST_MEASURES)
    list_id: str | None = Field(default=None, pattern=TASK_ID)


class ProgressIn(_In):
    progress: str = Field(min_length=2, max_length=LONGEST_REPORT)
    evidence: list[AttachmentIn] = Field(default_factory=list, max_length=MOST_EVIDENCE)


class ClosureIn(_In):
    outcome: str = Field(min_length=2, max_length=LONGEST_REPORT)


class CloseIn(_In):
    note: str = Field(default="", max_length=LONGEST_REASON)


class ReturnTaskIn(_In):
    reason: str = Field(min_length=2, max_length=LONGEST_REASON)


class ReassignIn(_Responsible):
    reason: str = Field(min_length=2, max_length=LONGEST_REASON)


class TaskOut(BaseModel):
    task_id: str
    source: str
    source_label: str
    source_label_en: str
    source_ref: str
    problem: str
    measures: list[str]
    unit: str
    unit_name: str
    assignee: str
    assignee_name: str
    deadline: datetime
    #: past its deadline and not closed
    overdue: bool
    status: str
    status_label: str
    status_label_en: str
    progress_count: int
    latest_progress: str | None
    latest_progress_at: datetime | None
    closure_requested_at: datetime | None
    closed_at: datetime | None
    return_reason: str | None
    opened_at: datetime
    updated_at: datetime
    list_id: str | None
    town: str | None


class TaskDetail(TaskOut):
    history: list[HistoryEntry]


class TaskPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[TaskOut]


class TaskDone(BaseModel):
    """What a command recorded, and where it leaves the item."""

    event_id: str
    event_type: str
    task: TaskOut
