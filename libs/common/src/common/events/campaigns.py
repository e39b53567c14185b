"""Campaigns of self-inspection and look-back review (自查自纠, 回头看), as events.

A campaign lives on the LEDGER stream under ``ledger.campaign.<campaign id>.<Type>``. The
office opens it with a checklist and the units asked; each unit answers every item (done,
partly, not) with a note and its evidence; the office turns open answers into
rectification items (整改台账, ``ledger.task.…``) and records their ids here; then closes
the campaign. A look-back review also samples concluded leads of a period for re-review,
with the seed that makes the sample reproducible, and records a finding for each.

Evidence is named by file name, size and SHA-256 (:class:`Attachment`); the files are kept
elsewhere. Reads of a campaign, its report and its print page are recorded on AUDIT
(:class:`CampaignViewed`), as reads of an item are."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.events.catalogue import Attachment
from common.events.envelope import Event, UtcDatetime

CAMPAIGN_ID: Final = r"^[A-Za-z0-9_-]{1,64}$"
UNIT: Final = r"^[a-z0-9-]{2,40}$"
LEAD_ID: Final = r"^[A-Za-z0-9_-]{1,64}$"
TASK_ID: Final = r"^[A-Za-z0-9_-]{1,64}$"
LONGEST_TITLE: Final = 100
LONGEST_ITEM: Final = 500
MOST_ITEMS: Final = 50
MOST_UNITS: Final = 100
LONGEST_NOTE: Final = 2000
MOST_EVIDENCE: Final = 20
MOST_TURNED: Final = 200
MOST_SAMPLED: Final = 200
LONGEST_FINDING: Final = 2000
LONGEST_REASON: Final = 1000
#: the largest seed a sample is drawn with (it is stored and shown: kept to 53 bits, exact
#: in every JSON reader)
LARGEST_SEED: Final = 2**53 - 1
MOST_LEADS: Final = 1_000_000

CampaignKind = Literal["self_check", "look_back"]
#: a unit's answer to one checklist item: done, partly done, not done
AnswerKind = Literal["done", "partly", "not"]
ChecklistItem = Annotated[str, StringConstraints(min_length=1, max_length=LONGEST_ITEM)]
UnitCode = Annotated[str, StringConstraints(pattern=UNIT)]
LeadId = Annotated[str, StringConstraints(pattern=LEAD_ID)]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ItemAnswer(_Part):
    """A unit's answer to one checklist item (numbered from 1)."""

    item: int = Field(ge=1, le=MOST_ITEMS)
    answer: AnswerKind
    note: str = Field(default="", max_length=LONGEST_NOTE)
    evidence: tuple[Attachment, ...] = Field(default=(), max_length=MOST_EVIDENCE)


class TurnedItem(_Part):
    """One rectification item opened from the campaign: from a unit's answer to a
    checklist item (self-inspection), or from a sampled lead whose decision did not stand
    (look-back)."""

    task_id: str = Field(pattern=TASK_ID)
    unit: str = Field(pattern=UNIT)
    item: int | None = Field(default=None, ge=1, le=MOST_ITEMS)
    lead_id: str | None = Field(default=None, pattern=LEAD_ID)


class _CampaignEvent(Event):
    prefix: ClassVar[str] = "ledger"
    subject_kind: ClassVar[str] = "campaign"
    campaign_id: str = Field(pattern=CAMPAIGN_ID)

    @property
    def subject_id(self) -> str | None:
        return self.campaign_id


class CampaignOpened(_CampaignEvent):
    """The office opened a campaign: its checklist, the units asked and by when."""

    event_type: Literal["CampaignOpened"] = "CampaignOpened"
    kind: CampaignKind
    title: str = Field(min_length=1, max_length=LONGEST_TITLE)
    period_from: date
    period_to: date
    items: tuple[ChecklistItem, ...] = Field(default=(), max_length=MOST_ITEMS)
    units: tuple[UnitCode, ...] = Field(default=(), max_length=MOST_UNITS)
    deadline: UtcDatetime
    #: the town whose office opened it (its units asked, its leads sampled); None for the
    #: county's own office
    town: str | None = Field(default=None, max_length=40)


class UnitAnswered(_CampaignEvent):
    """A unit answered every item of the checklist (a later answer of the same unit
    replaces its earlier one)."""

    event_type: Literal["UnitAnswered"] = "UnitAnswered"
    unit: str = Field(pattern=UNIT)
    answers: tuple[ItemAnswer, ...] = Field(max_length=MOST_ITEMS)


class ItemsTurnedIntoTasks(_CampaignEvent):
    """The office turned open answers (or decisions that did not stand) into rectification
    items; their ids on the rectification ledger."""

    event_type: Literal["ItemsTurnedIntoTasks"] = "ItemsTurnedIntoTasks"
    items: tuple[TurnedItem, ...] = Field(max_length=MOST_TURNED)


class LeadsSampledForReview(_CampaignEvent):
    """A look-back drew concluded leads of its period for re-review: the same seed over the
    same concluded leads (``population`` of them) draws the same ones."""

    event_type: Literal["LeadsSampledForReview"] = "LeadsSampledForReview"
    seed: int = Field(ge=0, le=LARGEST_SEED)
    size: int = Field(ge=1, le=MOST_SAMPLED)
    population: int = Field(ge=0, le=MOST_LEADS)
    lead_ids: tuple[LeadId, ...] = Field(max_length=MOST_SAMPLED)


class ReviewFindingRecorded(_CampaignEvent):
    """What the re-review of one sampled lead found, and whether its decision stands (a
    later finding on the same lead replaces the earlier one)."""

    event_type: Literal["ReviewFindingRecorded"] = "ReviewFindingRecorded"
    lead_id: str = Field(pattern=LEAD_ID)
    finding: str = Field(min_length=1, max_length=LONGEST_FINDING)
    decision_stands: bool


class CampaignClosed(_CampaignEvent):
    """The office closed the campaign; nothing of it changes afterwards."""

    event_type: Literal["CampaignClosed"] = "CampaignClosed"
    note: str = Field(default="", max_length=LONGEST_REASON)


class CampaignViewed(_CampaignEvent):
    """Someone read a campaign (its answers), its report or its print page."""

    prefix: ClassVar[str] = "audit"
    event_type: Literal["CampaignViewed"] = "CampaignViewed"
    service: str = Field(max_length=20)
    #: what was read: the campaign with its answers, the report, the report to print
    part: Literal["campaign", "report", "print"] = "campaign"
