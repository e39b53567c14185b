"""What the ledger API accepts and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.inputs import AttachmentIn
from common.times import Deadline
from common.vocabulary import Conclusion
from ledger.campaign_schemas import CAMPAIGN_LABELS
from ledger.notice_schemas import NOTICE_LABELS

FIELD_LABELS: Final[dict[str, tuple[str, str]]] = {
    "to_unit": ("移交单位", "receiving unit"),
    "reason": ("理由", "reason"),
    "assignee": ("责任人账号", "responsible person's account"),
    "assignee_name": ("责任人姓名", "responsible person's name"),
    "deadline": ("办理时限", "deadline"),
    "note": ("核查情况", "verification note"),
    "evidence": ("证据材料", "evidence"),
    "sha256": ("材料校验值", "evidence SHA-256"),
    "result": ("核查结果", "result"),
    "summary": ("办结情况", "summary"),
    "text": ("反馈内容", "feedback text"),
    "method": ("反馈方式", "feedback method"),
    "page": ("页码", "page"),
    "page_size": ("每页条数", "page size"),
    "q": ("检索内容", "search text"),
    "ledger_number": ("台账编号", "ledger number"),
    "purpose": ("查阅事由", "purpose of reading"),
    **NOTICE_LABELS,
    **CAMPAIGN_LABELS,
}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TransferIn(_In):
    to_unit: str = Field(min_length=2, max_length=40)
    reason: str = Field(min_length=2, max_length=1000)


class AcceptIn(_In):
    pass


class ReturnIn(_In):
    reason: str = Field(min_length=2, max_length=1000)


class AssignIn(_In):
    assignee: str = Field(min_length=2, max_length=64)
    assignee_name: str = Field(min_length=1, max_length=100)
    deadline: Deadline | None = None
    reason: str = Field(default="", max_length=1000)


class ExtendIn(_In):
    deadline: Deadline
    reason: str = Field(min_length=2, max_length=1000)


class VerificationIn(_In):
    note: str = Field(min_length=2, max_length=10_000)
    evidence: list[AttachmentIn] = Field(default_factory=list, max_length=50)


class ConcludeIn(_In):
    result: Conclusion
    summary: str = Field(min_length=2, max_length=10_000)


class FeedbackIn(_In):
    text: str = Field(min_length=2, max_length=5_000)
    method: str = Field(default="receipt", max_length=40)


class ArchiveIn(_In):
    pass


class ReopenIn(_In):
    reason: str = Field(min_length=2, max_length=1000)


class TakeOverIn(_In):
    reason: str = Field(min_length=2, max_length=1000)


class LeadOut(BaseModel):
    lead_id: str
    ledger_number: str
    status: str
    status_label: str
    status_label_en: str
    unit: str
    village: str | None
    category: str
    channel: str
    summary: str
    assignee: str | None
    assignee_name: str | None
    deadline: datetime | None
    deadline_missed: bool
    conclusion: str | None
    feedback: str | None
    registered_at: datetime
    archived_at: datetime | None
    supervision_deadline: datetime | None
    #: the committee's latest supervision told to the unit (督办): when, why, which rule
    supervised_at: datetime | None = None
    supervision_reason: str | None = None
    supervision_rule: str | None = None


class HistoryEntry(BaseModel):
    sequence: int
    stream: str
    event_type: str
    occurred_at: datetime
    actor: dict[str, str | None]
    data: dict[str, object]


class AttachmentOut(BaseModel):
    """A file reference; the file itself is kept elsewhere, the hash pins it."""

    name: str
    size: int
    sha256: str


class Author(BaseModel):
    """Who wrote an entry: the reporter (role ``reporter``, nothing else known) or staff."""

    role: str
    unit: str | None
    user: str | None


class ThreadEntry(BaseModel):
    """One entry of the exchange with the reporter."""

    event_id: str
    #: supplement (补充材料) and message (留言) come from the reporter (or staff for them);
    #: feedback (反馈) is the answer, shown on the receipt page
    kind: Literal["supplement", "message", "feedback"]
    kind_label: str
    kind_label_en: str
    #: written by the reporter with the receipt (not by staff)
    from_reporter: bool
    author: Author
    occurred_at: datetime
    text: str
    attachments: list[AttachmentOut]
    method: str | None = None


class SameMatter(BaseModel):
    """Another report suspected of being the same matter (疑似重复线索)."""

    lead_id: str
    ledger_number: str
    basis: str
    suspected_at: datetime


class LeadDetail(LeadOut):
    reported_at: datetime
    #: what the reporter wrote beyond the summary ("" until intake's report is read)
    details: str
    attachments: list[AttachmentOut]
    #: the exchange with the reporter, oldest first; answer it with POST …/feedback
    thread: list[ThreadEntry]
    #: the other reports of the same matter you may see (one you may not is not named)
    duplicates: list[SameMatter]
    history: list[HistoryEntry]


class CommandDone(BaseModel):
    """What a command recorded, and where it leaves the lead."""

    event_id: str
    event_type: str
    lead_id: str
    ledger_number: str
    status: str
    status_label: str
    status_label_en: str


class Page(BaseModel):
    # A filtered list or a search is counted only so far (the count would otherwise grow
    # with the ledger): beyond that, ``total`` is a floor and ``total_exact`` is false.
    total: int
    total_exact: bool = True
    page: int
    page_size: int
    items: list[LeadOut]
