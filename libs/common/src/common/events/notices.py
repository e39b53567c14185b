"""Notices (通报): the office's praise or criticism of a unit for a period, as events.

A notice lives on the LEDGER stream under ``ledger.notice.<notice id>.<Type>``: drafted
with the facts the ledger found for the unit, revised while a draft, issued (and from then
on never changed) or withdrawn before issue. What the discipline committee attaches to an
issued notice is its own, on ``oversight.notice.<notice id>.<Type>``; the ledger never
reads it.

An issued notice carries its whole text and facts, so whoever reads only NoticeIssued
(oversight) has the notice as it was issued."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.events.envelope import Event

NOTICE_ID: Final = r"^[A-Za-z0-9_-]{1,64}$"
LEAD_ID: Final = r"^[A-Za-z0-9_-]{1,64}$"
LeadId = Annotated[str, StringConstraints(pattern=LEAD_ID)]
NoticeKind = Literal["praise", "criticism"]
#: the most leads a notice cites by id; the counts go on past it
MOST_CITED: Final = 200
LONGEST_TITLE: Final = 100
LONGEST_BODY: Final = 5000
LONGEST_REASON: Final = 500
MOST_FACTS: Final = 100_000


class NoticeFacts(BaseModel):
    """What the ledger found for the unit in the period: its counts, and the leads behind
    them (each cited once, up to :data:`MOST_CITED`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    overdue: int = Field(default=0, ge=0, le=MOST_FACTS)
    late_answers: int = Field(default=0, ge=0, le=MOST_FACTS)
    returns: int = Field(default=0, ge=0, le=MOST_FACTS)
    lead_ids: tuple[LeadId, ...] = Field(default=(), max_length=MOST_CITED)


class _NoticeEvent(Event):
    prefix: ClassVar[str] = "ledger"
    subject_kind: ClassVar[str] = "notice"
    notice_id: str = Field(pattern=NOTICE_ID)

    @property
    def subject_id(self) -> str | None:
        return self.notice_id


class _NoticeText(_NoticeEvent):
    kind: NoticeKind
    title: str = Field(min_length=1, max_length=LONGEST_TITLE)
    body: str = Field(min_length=1, max_length=LONGEST_BODY)


class _NoticeContent(_NoticeText):
    unit: str = Field(min_length=1, max_length=40)
    period_from: date
    period_to: date
    facts: NoticeFacts = NoticeFacts()


class NoticeDrafted(_NoticeContent):
    """The office drafted a notice of praise or criticism of a unit for a period, with the
    facts the ledger found (the clerk edits the text; the facts are the ledger's)."""

    event_type: Literal["NoticeDrafted"] = "NoticeDrafted"


class NoticeRevised(_NoticeText):
    """The draft's kind, title or text changed (a draft only)."""

    event_type: Literal["NoticeRevised"] = "NoticeRevised"


class NoticeIssued(_NoticeContent):
    """The notice was issued as it stands here; nothing of it changes afterwards."""

    event_type: Literal["NoticeIssued"] = "NoticeIssued"


class NoticeWithdrawn(_NoticeEvent):
    """The draft was dropped before issue, with the reason."""

    event_type: Literal["NoticeWithdrawn"] = "NoticeWithdrawn"
    reason: str = Field(min_length=1, max_length=LONGEST_REASON)


class NoticeAccountabilityRecorded(Event):
    """The discipline committee's accountability on an issued notice (通报批评并追究责任):
    who, of which unit, the kind and the four-forms level (1-4), and why. Oversight's own."""

    prefix: ClassVar[str] = "oversight"
    subject_kind: ClassVar[str] = "notice"
    event_type: Literal["NoticeAccountabilityRecorded"] = "NoticeAccountabilityRecorded"
    notice_id: str = Field(pattern=NOTICE_ID)
    person: str = Field(min_length=1, max_length=100)
    unit: str = Field(min_length=1, max_length=40)
    kind: Literal["public_criticism", "accountability"]
    form: int = Field(ge=1, le=4)
    reason: str = Field(min_length=1, max_length=LONGEST_REASON)

    @property
    def subject_id(self) -> str | None:
        return self.notice_id
