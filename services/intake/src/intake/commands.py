"""What intake is asked to do: one value per command.

Each carries everything the decision needs from the caller; who asks is given beside it
(common.auth.Principal, or common.events.Actor for a background job). What intake works out
itself (the receipt, whether a village exists, the lead id of a keyed retry) is worked out
by the application, not sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from common.events.catalogue import Attachment
from common.events.custody import ReasonCategory
from common.vocabulary import Category, Channel, Flag
from intake.vault import Identity

#: a supplement adds to the report (补充材料); a message writes to the office (留言)
AdditionKind = Literal["supplement", "message"]


@dataclass(frozen=True)
class ReportContent:
    """What a report says, whoever files it. The fields keep the order of the API's form:
    a public report's idempotency claim is bound to this content as JSON (reporting.py)."""

    category: Category
    summary: str
    details: str = ""
    village: str | None = None
    flags: tuple[Flag, ...] = ()
    identity: Identity | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class ReportPublicly:
    """A member of the public reports, by name or anonymously, with no account."""

    content: ReportContent
    idempotency_key: str | None = None


@dataclass(frozen=True)
class EnterLead:
    """Staff type in a lead received through ``channel``. ``lead_id`` is given by the
    importer (derived from the row), so a second import of the same row conflicts instead
    of duplicating."""

    content: ReportContent
    channel: Channel
    idempotency_key: str | None = None
    lead_id: str | None = None


@dataclass(frozen=True)
class AddToReport:
    """The holder of a receipt adds to their report or writes to the office."""

    receipt: str
    text: str
    kind: AdditionKind = "supplement"
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class DiscloseIdentity:
    """The custodian opens a named reporter's identity, for a reason that is recorded."""

    lead_id: str
    reason: str


@dataclass(frozen=True)
class AskForIdentity:
    """A handler asks to read a named reporter's identity, for a reason that is recorded."""

    lead_id: str
    reason_category: ReasonCategory
    reason: str


@dataclass(frozen=True)
class DecideOnIdentity:
    """A custodian approves (for ``valid_hours``) or refuses (for ``reason``) a request."""

    lead_id: str
    request_id: str
    approve: bool
    valid_hours: int = 24
    reason: str = ""


@dataclass(frozen=True)
class ReadIdentity:
    """The requester reads the identity an approved request lets them read."""

    lead_id: str
    request_id: str


@dataclass(frozen=True)
class ShredIdentity:
    """Destroy a named reporter's identity for good (crypto-shredding)."""

    lead_id: str
    reason: str
