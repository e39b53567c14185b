"""What the campaigns' API (自查自纠, 回头看) accepts and answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.events.campaigns import (
    LARGEST_SEED,
    LEAD_ID,
    LONGEST_FINDING,
    LONGEST_ITEM,
    LONGEST_NOTE,
    LONGEST_REASON,
    LONGEST_TITLE,
    MOST_EVIDENCE,
    MOST_ITEMS,
    MOST_SAMPLED,
    MOST_TURNED,
    MOST_UNITS,
    UNIT,
)
from common.events.tasks import ACCOUNT, LONGEST_MEASURE, LONGEST_NAME, MOST_MEASURES
from common.inputs import AttachmentIn
from common.times import Deadline

# The fields' names in a refusal. Named apart from the ledger's own (a lead's "note" is its
# verification), since one table labels every field of the service.
CAMPAIGN_LABELS: Final[dict[str, tuple[str, str]]] = {
    "campaign_kind": ("工作类型", "kind of campaign"),
    "checklist": ("检查事项", "checklist"),
    "units": ("参加单位", "units asked"),
    "answers": ("自查情况", "answers"),
    "item": ("事项序号", "checklist item number"),
    "answer": ("自查结果", "answer"),
    "remark": ("情况说明", "note"),
    "rectify": ("转整改事项", "items to rectify"),
    "lead_id": ("线索编号", "lead"),
    "size": ("抽查数量", "sample size"),
    "seed": ("随机种子", "seed"),
    "finding": ("复查结论", "finding"),
    "decision_stands": ("原处理是否维持", "whether the decision stands"),
    "closing_remark": ("结束说明", "closing note"),
    "period": ("检查期间", "period"),
}

ONE_LINE: Final = r"^[^\x00-\x1f\x7f]*$"
LINES: Final = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

Line = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=LONGEST_ITEM)
]
Unit = Annotated[str, StringConstraints(pattern=UNIT, max_length=40)]
Measure = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=LONGEST_MEASURE)
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CampaignIn(_In):
    campaign_kind: Literal["self_check", "look_back"]
    title: str = Field(min_length=1, max_length=LONGEST_TITLE, pattern=ONE_LINE)
    period_from: date = Field(alias="from")
    period_to: date = Field(alias="to")
    checklist: list[Line] = Field(default_factory=list, max_length=MOST_ITEMS)
    units: list[Unit] = Field(default_factory=list, max_length=MOST_UNITS)
    deadline: Deadline


class ItemAnswerIn(_In):
    item: int = Field(ge=1, le=MOST_ITEMS)
    answer: Literal["done", "partly", "not"]
    remark: str = Field(default="", max_length=LONGEST_NOTE, pattern=LINES)
    evidence: list[AttachmentIn] = Field(default_factory=list, max_length=MOST_EVIDENCE)


class AnswersIn(_In):
    unit: str = Field(pattern=UNIT, max_length=40)
    answers: list[ItemAnswerIn] = Field(min_length=1, max_length=MOST_ITEMS)


class RectifyIn(_In):
    """A unit's answer to an item (``unit`` and ``item``), or a sampled lead whose decision
    did not stand (``lead_id``, and ``unit``: who rectifies it); who, by when, and how."""

    unit: str = Field(pattern=UNIT, max_length=40)
    item: int | None = Field(default=None, ge=1, le=MOST_ITEMS)
    lead_id: str | None = Field(default=None, pattern=LEAD_ID, max_length=64)
    measures: list[Measure] = Field(min_length=1, max_length=MOST_MEASURES)
    assignee: str = Field(pattern=ACCOUNT, max_length=64)
    assignee_name: str = Field(min_length=1, max_length=LONGEST_NAME, pattern=ONE_LINE)
    deadline: Deadline


class TurnIn(_In):
    rectify: list[RectifyIn] = Field(min_length=1, max_length=MOST_TURNED)


class SampleIn(_In):
    size: int = Field(ge=1, le=MOST_SAMPLED)
    #: a seed to draw with (to draw again as drawn before); a new one when left out
    seed: int | None = Field(default=None, ge=0, le=LARGEST_SEED)


class FindingIn(_In):
    lead_id: str = Field(pattern=LEAD_ID, max_length=64)
    finding: str = Field(min_length=1, max_length=LONGEST_FINDING, pattern=LINES)
    decision_stands: bool


class CloseIn(_In):
    closing_remark: str = Field(default="", max_length=LONGEST_REASON, pattern=LINES)


class EvidenceOut(BaseModel):
    name: str
    size: int
    sha256: str


class ItemAnswerOut(BaseModel):
    item: int
    answer: str
    answer_label: str
    answer_label_en: str
    remark: str
    evidence: list[EvidenceOut]
    #: the rectification item this answer became, if it did
    task_id: str | None = None
    task_status: str | None = None


class UnitOut(BaseModel):
    """One unit asked, and its answers (empty until it answers)."""

    unit: str
    unit_name: str
    answered: bool
    answered_at: datetime | None = None
    #: answered after the campaign's deadline (逾期填报): taken, and marked
    answered_late: bool = False
    answered_by: str | None = None
    answers: list[ItemAnswerOut] = Field(default_factory=list)


class ReviewOut(BaseModel):
    lead_id: str
    ledger_number: str | None = None
    finding: str | None = None
    decision_stands: bool | None = None
    task_id: str | None = None
    task_status: str | None = None


class SampleOut(BaseModel):
    seed: int
    size: int
    population: int
    lead_ids: list[str]


class CampaignOut(BaseModel):
    campaign_id: str
    campaign_kind: str
    kind_label: str
    kind_label_en: str
    title: str
    period_from: date
    period_to: date
    checklist: list[str]
    deadline: datetime
    closed: bool
    unit_count: int
    answered_count: int
    turned_count: int


class CampaignDetail(CampaignOut):
    """One campaign from its own events: each unit's answers (a unit's people see only
    their own unit's), what became of them, and a look-back's sample and findings."""

    units: list[UnitOut]
    sample: SampleOut | None = None
    reviews: list[ReviewOut] = Field(default_factory=list)
