"""Every event the suite writes: the published contracts between services.

Adding a field with a default is compatible. Any other change is a new ``schema_version``
with an upcaster in :mod:`common.events.codec`; nothing in a stream is ever rewritten.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.events.envelope import Actor, Event, UtcDatetime
from common.vocabulary import Category, Channel, Conclusion, Flag

SHA256_HEX = r"^[0-9a-f]{64}$"
# Every count in an event stays within what JSON carries exactly everywhere (a JavaScript
# number, a 64-bit integer): an event must read back as it was written.
MAX_SAFE_INT: Final = 2**53 - 1


class _Part(BaseModel):
    # Ignored, not refused, as in every event (common.events.envelope.Event).
    model_config = ConfigDict(frozen=True, extra="ignore")


class Attachment(_Part):
    """A file reference; the file itself is stored elsewhere, the hash pins it."""

    name: str = Field(min_length=1, max_length=200)
    size: int = Field(ge=0, le=MAX_SAFE_INT)
    sha256: str = Field(pattern=SHA256_HEX)


class ReporterKind(StrEnum):
    NAMED = "named"
    ANONYMOUS = "anonymous"


class ReporterRef(_Part):
    """What the log may know of a reporter: named or not, and a ciphertext only intake's
    per-lead data key opens. Shredding that key makes the ciphertext noise for good."""

    kind: ReporterKind
    identity_ciphertext: str | None = None


# --- intake ---------------------------------------------------------------------------


class _IntakeEvent(Event):
    prefix: ClassVar[str] = "intake"


class LeadReported(_IntakeEvent):
    """A lead came in through a channel. Emitted by intake once per accepted report;
    the ledger registers it, oversight opens a case when it is flagged."""

    event_type: Literal["LeadReported"] = "LeadReported"
    lead_id: str
    channel: Channel
    category: Category
    summary: str
    details: str = ""
    village: str | None = None
    flags: tuple[Flag, ...] = ()
    reporter: ReporterRef
    attachments: tuple[Attachment, ...] = ()
    # A keyed hash (HMAC with intake's receipt key) of the receipt given to a public
    # reporter: lets intake's read model be rebuilt from the log, useless without the key.
    receipt_hash: str | None = None


class LeadSupplemented(_IntakeEvent):
    """The reporter (with the receipt) or staff added information to a lead."""

    event_type: Literal["LeadSupplemented"] = "LeadSupplemented"
    lead_id: str
    text: str
    attachments: tuple[Attachment, ...] = ()


class ReporterMessagePosted(_IntakeEvent):
    """The receipt holder wrote to the handling office (a question, not new facts)."""

    event_type: Literal["ReporterMessagePosted"] = "ReporterMessagePosted"
    lead_id: str
    text: str


class IdentityDisclosed(_IntakeEvent):
    """A named reporter's identity was read, with a reason: by the requester of an approved
    request (``request_id``, common.events.custody), or before requests existed by a
    custodian alone. The identity itself never leaves intake's response to the reader."""

    event_type: Literal["IdentityDisclosed"] = "IdentityDisclosed"
    lead_id: str
    reason: str
    request_id: str | None = None
    #: the request's :class:`common.events.custody.ReasonCategory`, told to the reporter
    reason_category: str | None = None


class IdentityShredded(_IntakeEvent):
    """The lead's data key was destroyed (reporter's request or retention expiry): the
    identity ciphertext in the log can never be opened again."""

    event_type: Literal["IdentityShredded"] = "IdentityShredded"
    lead_id: str
    reason: str


class DuplicateSuspected(_IntakeEvent):
    """The lead looks like the same matter as an earlier one; both are kept and linked."""

    event_type: Literal["DuplicateSuspected"] = "DuplicateSuspected"
    lead_id: str
    duplicate_of: str
    basis: str


# --- ledger ---------------------------------------------------------------------------


class _LedgerEvent(Event):
    prefix: ClassVar[str] = "ledger"


class LeadRegistered(_LedgerEvent):
    """The leading-group office filed the lead in the ledger under a gap-free number
    (归宗建档). Carries what the handling units need, never the reporter's identity."""

    event_type: Literal["LeadRegistered"] = "LeadRegistered"
    # v2: the routing decision is recorded (``for_committee``), not derived again by readers.
    schema_version: Literal[2] = 2  # type: ignore[assignment]
    lead_id: str
    ledger_number: str
    unit: str
    reported_at: UtcDatetime
    channel: Channel
    category: Category
    summary: str
    village: str | None = None
    flags: tuple[Flag, ...] = ()
    #: the ledger routed the lead to the discipline committee when it filed it: only the
    #: committee and the roles that see the whole ledger see it (never its village screener)
    for_committee: bool
    #: the town (its code) whose ledger numbered the lead; "" when filed before a county had
    #: several towns: the organisation's first. Lets the stream be partitioned by town.
    town: str = ""


class LeadTransferred(_LedgerEvent):
    """The lead was handed from one unit to another (移交). A transfer to the discipline
    committee is how oversight takes a case."""

    event_type: Literal["LeadTransferred"] = "LeadTransferred"
    lead_id: str
    from_unit: str
    to_unit: str
    reason: str
    #: the county took the lead over from the town (提级办理): the town may read it, not act
    taken_over: bool = False


class TransferAccepted(_LedgerEvent):
    """The receiving unit took the transferred lead on."""

    event_type: Literal["TransferAccepted"] = "TransferAccepted"
    lead_id: str
    unit: str


class TransferReturned(_LedgerEvent):
    """The receiving unit sent the lead back, with a reason."""

    event_type: Literal["TransferReturned"] = "TransferReturned"
    lead_id: str
    unit: str
    to_unit: str
    reason: str


class ResponsibilityAssigned(_LedgerEvent):
    """A named person in a unit is responsible for the lead until a deadline (责任到人).
    A later assignment replaces the current one; the history stays in the log.

    Version 2 records the deadline as a moment; version 1 held only a calendar day."""

    event_type: Literal["ResponsibilityAssigned"] = "ResponsibilityAssigned"
    schema_version: Literal[2] = 2  # type: ignore[assignment]
    lead_id: str
    unit: str
    assignee: str
    assignee_name: str
    deadline: UtcDatetime
    reason: str = ""
    #: handed over despite a conflict of interest, with the committee's approval
    #: (common.events.conflict)
    conflict_override: bool = False


class DeadlineExtended(_LedgerEvent):
    """The deadline of the current assignment moved, with a reason."""

    event_type: Literal["DeadlineExtended"] = "DeadlineExtended"
    lead_id: str
    deadline: UtcDatetime
    reason: str


class VerificationRecorded(_LedgerEvent):
    """Progress of the check whether the lead holds (核查): notes and evidence references."""

    event_type: Literal["VerificationRecorded"] = "VerificationRecorded"
    lead_id: str
    note: str
    evidence: tuple[Attachment, ...] = ()


class LeadConcluded(_LedgerEvent):
    """The handling unit reached a result (办结)."""

    event_type: Literal["LeadConcluded"] = "LeadConcluded"
    lead_id: str
    result: Conclusion
    summary: str


class FeedbackGiven(_LedgerEvent):
    """The reporter was answered (反馈). Intake shows ``text`` to the receipt holder."""

    event_type: Literal["FeedbackGiven"] = "FeedbackGiven"
    lead_id: str
    text: str
    method: str = "receipt"


class LeadArchived(_LedgerEvent):
    """The file was closed (归档) after a result and feedback."""

    event_type: Literal["LeadArchived"] = "LeadArchived"
    lead_id: str


class LeadReopened(_LedgerEvent):
    """A concluded lead was opened again for a look-back review (回头看)."""

    event_type: Literal["LeadReopened"] = "LeadReopened"
    lead_id: str
    reason: str


class DeadlineMissed(_LedgerEvent):
    """A deadline passed without a conclusion. Emitted once per deadline."""

    event_type: Literal["DeadlineMissed"] = "DeadlineMissed"
    lead_id: str
    unit: str
    assignee: str
    deadline: UtcDatetime


# --- oversight (private to the discipline committee) ---------------------------------


class _OversightEvent(Event):
    prefix: ClassVar[str] = "oversight"


class CaseOpened(_OversightEvent):
    """The discipline committee opened a case on a lead (flagged or transferred to it)."""

    event_type: Literal["CaseOpened"] = "CaseOpened"
    lead_id: str
    case_id: str
    basis: str
    umbrella: bool = False


class UmbrellaLinked(_OversightEvent):
    """An umbrella case was linked to the gang lead it shields (同步侦办)."""

    event_type: Literal["UmbrellaLinked"] = "UmbrellaLinked"
    lead_id: str
    case_id: str
    gang_lead_id: str


class SupervisionOpened(_OversightEvent):
    """Oversight began pressing a unit on a lead (督办), by hand or by an automatic rule."""

    event_type: Literal["SupervisionOpened"] = "SupervisionOpened"
    lead_id: str
    case_id: str | None = None
    reason: str
    rule: str | None = None


class EscalatedToHigherLevel(_OversightEvent):
    """The case was escalated to the county level."""

    event_type: Literal["EscalatedToHigherLevel"] = "EscalatedToHigherLevel"
    lead_id: str
    case_id: str
    to_unit: str
    reason: str


class AccountabilityRecorded(_OversightEvent):
    """A sanction against a responsible person: criticism or accountability, with the
    four-forms level (1-4)."""

    event_type: Literal["AccountabilityRecorded"] = "AccountabilityRecorded"
    lead_id: str
    case_id: str
    person: str
    unit: str
    kind: Literal["public_criticism", "accountability"]
    form: int = Field(ge=1, le=4)
    reason: str


# --- directives (oversight -> handling units) -------------------------------------------


class _DirectiveEvent(Event):
    prefix: ClassVar[str] = "directive"


class SupervisionListed(_DirectiveEvent):
    """Listed supervision (挂牌督办): a formal order to a unit with a deadline. The only
    kind of supervision the handling units see."""

    event_type: Literal["SupervisionListed"] = "SupervisionListed"
    lead_id: str
    unit: str
    deadline: UtcDatetime
    level: Literal["town", "county"] = "town"


class SupervisionNoticed(_DirectiveEvent):
    """The committee's supervision (督办) told to the unit handling the lead: what reached the
    committee's attention (an automatic rule, or a member's decision) and why, so the unit
    knows it is watched. Says nothing of the committee's case or deliberations."""

    event_type: Literal["SupervisionNoticed"] = "SupervisionNoticed"
    lead_id: str
    unit: str
    reason: str
    #: the automatic rule that fired (overdue, same_matter, open_too_long), None if by hand
    rule: str | None = None


class DisciplineOutcome(_DirectiveEvent):
    """The discipline committee's result for a lead transferred to it, as a category only;
    the ledger records it as the lead's result."""

    event_type: Literal["DisciplineOutcome"] = "DisciplineOutcome"
    lead_id: str
    result: Conclusion


# --- access audit ---------------------------------------------------------------------


class _AuditEvent(Event):
    prefix: ClassVar[str] = "audit"


class LeadViewed(_AuditEvent):
    """Someone read one lead in full. Every read is recorded because insiders tipping off
    suspects (通风报信) is the risk; oversight reads these."""

    event_type: Literal["LeadViewed"] = "LeadViewed"
    lead_id: str
    service: str
    purpose: str = ""


#: The longest purpose a gathered view carries (the APIs take 200 characters); a read
#: with a longer one is recorded as a LeadViewed of its own.
LONGEST_PURPOSE: Final = 200
LONGEST_ID: Final = 64


class View(_Part):
    """One read of one lead inside :class:`LeadsViewed`: what a LeadViewed of its own
    would have said, under the id that LeadViewed would have had."""

    event_id: str = Field(min_length=1, max_length=LONGEST_ID)
    lead_id: str = Field(min_length=1, max_length=LONGEST_ID)
    occurred_at: UtcDatetime
    actor: Actor
    purpose: str = Field(default="", max_length=LONGEST_PURPOSE)


#: The most reads one LeadsViewed carries: with the longest purposes still under the
#: event store's limit (256 KiB), and more than a service answers while one append waits.
MOST_VIEWS: Final = 128


class LeadsViewed(_AuditEvent):
    """Reads of leads recorded together: while one append to AUDIT waits for its
    acknowledgement (a write to disk), the reads that came meanwhile are gathered into
    one event instead of one each. Each view counts as a LeadViewed of its own; none is
    answered before this event is stored (common.audit)."""

    event_type: Literal["LeadsViewed"] = "LeadsViewed"
    service: str
    views: tuple[View, ...] = Field(max_length=MOST_VIEWS)


class LedgerExported(_AuditEvent):
    """Someone exported (part of) the ledger."""

    event_type: Literal["LedgerExported"] = "LedgerExported"
    service: str
    #: zip: a dossier (专题材料), the period's ledgers, reports and notices in one file
    format: Literal["xlsx", "csv", "zip"]
    filters: dict[str, str] = Field(default_factory=dict)
    row_count: int = Field(ge=0, le=MAX_SAFE_INT)
    as_of: UtcDatetime | None = None


class CheckpointSealed(_AuditEvent):
    """An operator sealed a stream's hash chain up to a sequence (``leadctl seal``): the
    signed checkpoint, as canonical JSON, that ``leadctl verify`` checks the log against."""

    event_type: Literal["CheckpointSealed"] = "CheckpointSealed"
    stream: str
    last_sequence: int = Field(ge=0, le=MAX_SAFE_INT)
    checkpoint: str
