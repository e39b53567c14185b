"""What the notices' API (通报) accepts and answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.events.notices import LONGEST_BODY, LONGEST_REASON, LONGEST_TITLE, NoticeFacts
from common.vocabulary import NOTICE_KINDS, NOTICE_STATUSES

NOTICE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "kind": ("通报类型", "kind of notice"),
    "unit": ("单位", "unit"),
    "month": ("通报月份", "month"),
    "from": ("起始日期", "first day"),
    "to": ("截止日期", "last day"),
    "title": ("通报标题", "title"),
    # not "body": that names the request's body as a whole
    "content": ("通报正文", "text of the notice"),
}

# One line, no control characters; the text may run over lines.
ONE_LINE: Final = r"^[^\x00-\x1f\x7f]*$"
LINES: Final = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
UNIT: Final = r"^[a-z0-9-]{2,40}$"
MONTH: Final = r"^\d{4}-(0[1-9]|1[0-2])$"

KIND_LABELS: Final = NOTICE_KINDS
STATUS_LABELS: Final = NOTICE_STATUSES


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoticeDraftIn(_In):
    """A month (2026-11), or a first and last day; title and text are suggested from the
    facts when left out."""

    kind: Literal["praise", "criticism"]
    unit: str = Field(min_length=2, max_length=40, pattern=UNIT)
    month: str | None = Field(default=None, max_length=7, pattern=MONTH)
    period_from: date | None = Field(default=None, alias="from")
    period_to: date | None = Field(default=None, alias="to")
    title: str | None = Field(
        default=None, min_length=1, max_length=LONGEST_TITLE, pattern=ONE_LINE
    )
    content: str | None = Field(default=None, min_length=1, max_length=LONGEST_BODY, pattern=LINES)


class NoticeReviseIn(_In):
    kind: Literal["praise", "criticism"]
    title: str = Field(min_length=1, max_length=LONGEST_TITLE, pattern=ONE_LINE)
    content: str = Field(min_length=1, max_length=LONGEST_BODY, pattern=LINES)


class NoticeIssueIn(_In):
    pass


class NoticeWithdrawIn(_In):
    reason: str = Field(min_length=2, max_length=LONGEST_REASON, pattern=LINES)


class NoticeStep(BaseModel):
    """One event of the notice: who did what, when."""

    event_type: str
    occurred_at: datetime
    actor: dict[str, str | None]


class NoticeOut(BaseModel):
    notice_id: str
    status: str
    status_label: str
    status_label_en: str
    kind: str
    kind_label: str
    kind_label_en: str
    unit: str
    unit_name: str
    period_from: date
    period_to: date
    title: str
    #: the text (``content`` as in the forms that write it)
    content: str
    facts: NoticeFacts
    drafted_at: datetime
    issued_at: datetime | None = None
    #: the notice's events, oldest first (one notice read alone; empty in a list)
    history: list[NoticeStep] = Field(default_factory=list)


class DraftingHelp(BaseModel):
    """The facts the ledger recorded for the unit and period, and a text to start from."""

    unit: str
    period_from: date
    period_to: date
    facts: NoticeFacts
    title: str
    content: str
