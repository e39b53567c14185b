"""The event catalogue as a published contract: named, documented, round-tripping, upcast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pydantic import ValidationError

from common.events import (
    EVENT_CLASSES,
    Actor,
    Event,
    EventDecodeError,
    Role,
    decode,
    encode,
)
from common.events.accounts import (
    AccountChanged,
    AccountDisabled,
    AccountEnabled,
    AccountOpened,
    PasswordSet,
    SecondFactorRemoved,
    SecondFactorSet,
    SessionEnded,
    SignedIn,
    SignInFailed,
    TokenIssued,
    TokenRevoked,
)
from common.events.catalogue import (
    AccountabilityRecorded,
    Attachment,
    CaseOpened,
    CheckpointSealed,
    DeadlineExtended,
    DeadlineMissed,
    DisciplineOutcome,
    DuplicateSuspected,
    EscalatedToHigherLevel,
    FeedbackGiven,
    IdentityDisclosed,
    IdentityShredded,
    LeadArchived,
    LeadConcluded,
    LeadRegistered,
    LeadReopened,
    LeadReported,
    LeadSupplemented,
    LeadsViewed,
    LeadTransferred,
    LeadViewed,
    LedgerExported,
    ReporterKind,
    ReporterMessagePosted,
    ReporterRef,
    ResponsibilityAssigned,
    SupervisionListed,
    SupervisionNoticed,
    SupervisionOpened,
    TransferAccepted,
    TransferReturned,
    UmbrellaLinked,
    VerificationRecorded,
    View,
)
from common.vocabulary import Category, Channel, Conclusion, Flag
from tests.unit.campaign_samples import CAMPAIGN_SAMPLES, CAMPAIGN_WIRE_NAMES
from tests.unit.conflict_samples import CONFLICT_SAMPLES, CONFLICT_WIRE_NAMES
from tests.unit.custody_samples import CUSTODY_SAMPLES, CUSTODY_WIRE_NAMES
from tests.unit.evidence_samples import EVIDENCE_SAMPLES, EVIDENCE_WIRE_NAMES
from tests.unit.file_samples import FILE_SAMPLES, FILE_WIRE_NAMES
from tests.unit.notice_samples import NOTICE_SAMPLES, NOTICE_WIRE_NAMES
from tests.unit.task_samples import TASK_SAMPLES, TASK_WIRE_NAMES

LEAD = "lead-0001"
MOMENT = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
CLERK = Actor(role=Role.CLERK, unit="shd-office", user="clerk")
ATTACHMENT = Attachment(name="photo.jpg", size=1024, sha256="ab" * 32)

# The wire names are the contract: renaming one strands every stored event of that type.
WIRE_NAMES = frozenset(
    {
        "LeadReported",
        "LeadSupplemented",
        "ReporterMessagePosted",
        "IdentityDisclosed",
        "IdentityShredded",
        "DuplicateSuspected",
        "LeadRegistered",
        "LeadTransferred",
        "TransferAccepted",
        "TransferReturned",
        "ResponsibilityAssigned",
        "DeadlineExtended",
        "VerificationRecorded",
        "LeadConcluded",
        "FeedbackGiven",
        "LeadArchived",
        "LeadReopened",
        "DeadlineMissed",
        "CaseOpened",
        "UmbrellaLinked",
        "SupervisionOpened",
        "EscalatedToHigherLevel",
        "AccountabilityRecorded",
        "SupervisionListed",
        "SupervisionNoticed",
        "DisciplineOutcome",
        "LeadViewed",
        "LeadsViewed",
        "LedgerExported",
        "CheckpointSealed",
        "AccountOpened",
        "AccountChanged",
        "AccountDisabled",
        "AccountEnabled",
        "PasswordSet",
        "SecondFactorSet",
        "SecondFactorRemoved",
        "TokenIssued",
        "TokenRevoked",
        "SignInFailed",
        "SignedIn",
        "SessionEnded",
    }
    | TASK_WIRE_NAMES
    | NOTICE_WIRE_NAMES
    | CAMPAIGN_WIRE_NAMES
    | CUSTODY_WIRE_NAMES
    | EVIDENCE_WIRE_NAMES
    | FILE_WIRE_NAMES
    | CONFLICT_WIRE_NAMES
)

# One valid instance of every event, with optional fields filled so they round-trip too.
SAMPLES: dict[type[Event], Event] = {
    LeadReported: LeadReported(
        lead_id=LEAD,
        channel=Channel.HOTLINE,
        category=Category.VILLAGE_TYRANT,
        summary="a village tyrant collects 'protection' fees",
        details="every market day",
        village="shd-v03",
        flags=(Flag.VILLAGE_TYRANT, Flag.INVOLVES_OFFICIAL),
        reporter=ReporterRef(kind=ReporterKind.NAMED, identity_ciphertext="Y2lwaGVy"),
        attachments=(ATTACHMENT,),
        receipt_hash="0" * 64,
        actor=CLERK,
        correlation_id="corr-1",
    ),
    LeadSupplemented: LeadSupplemented(
        lead_id=LEAD, text="also at night", attachments=(ATTACHMENT,)
    ),
    ReporterMessagePosted: ReporterMessagePosted(lead_id=LEAD, text="any news?"),
    IdentityDisclosed: IdentityDisclosed(
        lead_id=LEAD, reason="witness interview", request_id="req-1", reason_category="statement"
    ),
    IdentityShredded: IdentityShredded(lead_id=LEAD, reason="retention expired"),
    DuplicateSuspected: DuplicateSuspected(
        lead_id=LEAD, duplicate_of="lead-0000", basis="same matter"
    ),
    LeadRegistered: LeadRegistered(
        for_committee=False,
        lead_id=LEAD,
        ledger_number="SHD-2024-0001",
        unit="shd-office",
        reported_at=MOMENT,
        channel=Channel.WEB,
        category=Category.PUBLIC_ORDER,
        summary="fights outside the bar",
        village="shd-v01",
        flags=(Flag.KEY_PERSON_OR_PLACE,),
    ),
    LeadTransferred: LeadTransferred(
        lead_id=LEAD, from_unit="shd-office", to_unit="shd-police", reason="criminal"
    ),
    TransferAccepted: TransferAccepted(lead_id=LEAD, unit="shd-police"),
    TransferReturned: TransferReturned(
        lead_id=LEAD, unit="shd-police", to_unit="shd-office", reason="not ours"
    ),
    ResponsibilityAssigned: ResponsibilityAssigned(
        lead_id=LEAD,
        unit="shd-police",
        assignee="li.wei",
        assignee_name="李伟",
        deadline=MOMENT,
        reason="first assignment",
    ),
    DeadlineExtended: DeadlineExtended(lead_id=LEAD, deadline=MOMENT, reason="witness abroad"),
    VerificationRecorded: VerificationRecorded(
        lead_id=LEAD, note="visited the market", evidence=(ATTACHMENT,)
    ),
    LeadConcluded: LeadConcluded(lead_id=LEAD, result=Conclusion.SUBSTANTIATED, summary="held"),
    FeedbackGiven: FeedbackGiven(lead_id=LEAD, text="thank you", method="phone"),
    LeadArchived: LeadArchived(lead_id=LEAD),
    LeadReopened: LeadReopened(lead_id=LEAD, reason="look-back review"),
    DeadlineMissed: DeadlineMissed(
        lead_id=LEAD, unit="shd-police", assignee="li.wei", deadline=MOMENT
    ),
    CaseOpened: CaseOpened(lead_id=LEAD, case_id="case-1", basis="flagged", umbrella=True),
    UmbrellaLinked: UmbrellaLinked(lead_id=LEAD, case_id="case-1", gang_lead_id="lead-0000"),
    SupervisionOpened: SupervisionOpened(
        lead_id=LEAD, case_id="case-1", reason="slow", rule="overdue-7d"
    ),
    EscalatedToHigherLevel: EscalatedToHigherLevel(
        lead_id=LEAD, case_id="case-1", to_unit="county", reason="umbrella"
    ),
    AccountabilityRecorded: AccountabilityRecorded(
        lead_id=LEAD,
        case_id="case-1",
        person="li.wei",
        unit="shd-police",
        kind="accountability",
        form=2,
        reason="tipped off the suspect",
    ),
    SupervisionListed: SupervisionListed(
        lead_id=LEAD, unit="shd-police", deadline=MOMENT, level="county"
    ),
    SupervisionNoticed: SupervisionNoticed(
        lead_id=LEAD, unit="shd-police", reason="overdue by 3 days", rule="overdue"
    ),
    DisciplineOutcome: DisciplineOutcome(lead_id=LEAD, result=Conclusion.PARTLY_SUBSTANTIATED),
    LeadViewed: LeadViewed(lead_id=LEAD, service="ledger", purpose="review"),
    LeadsViewed: LeadsViewed(
        service="ledger",
        views=(
            View(event_id="e1", lead_id=LEAD, occurred_at=MOMENT, actor=CLERK, purpose="review"),
            View(event_id="e2", lead_id="other", occurred_at=MOMENT, actor=CLERK),
        ),
    ),
    LedgerExported: LedgerExported(
        service="ledger", format="xlsx", filters={"unit": "shd-police"}, row_count=3, as_of=MOMENT
    ),
    CheckpointSealed: CheckpointSealed(stream="LEDGER", last_sequence=42, checkpoint="{}"),
    AccountOpened: AccountOpened(
        user="li.clerk", display_name="李文员", role=Role.CLERK, unit="shd-office"
    ),
    AccountChanged: AccountChanged(
        user="li.clerk", display_name="李文员", role=Role.OFFICE, unit="shd-office"
    ),
    AccountDisabled: AccountDisabled(user="li.clerk", reason="调离"),
    AccountEnabled: AccountEnabled(user="li.clerk"),
    PasswordSet: PasswordSet(user="li.clerk", password_hash="$argon2id$v=19$m=65536,t=3,p=4$x"),
    SecondFactorSet: SecondFactorSet(user="li.clerk", sealed_secret="s" * 40),
    SecondFactorRemoved: SecondFactorRemoved(user="li.clerk"),
    TokenIssued: TokenIssued(user="ci.bot", token_sha256="ab" * 32, label="nightly export"),
    TokenRevoked: TokenRevoked(user="ci.bot", token_sha256="ab" * 32),
    SignInFailed: SignInFailed(user="li.clerk", why="password"),
    SignedIn: SignedIn(user="li.clerk", session_id="s" * 32),
    SessionEnded: SessionEnded(user="li.clerk", session_id="s" * 32),
    **TASK_SAMPLES,
    **NOTICE_SAMPLES,
    **CAMPAIGN_SAMPLES,
    **CUSTODY_SAMPLES,
    **EVIDENCE_SAMPLES,
    **FILE_SAMPLES,
    **CONFLICT_SAMPLES,
}

ALL_EVENTS = pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda cls: cls.__name__)


def test_every_event_class_has_a_sample_for_these_tests() -> None:
    assert set(SAMPLES) == set(EVENT_CLASSES)


@ALL_EVENTS
def test_every_event_class_says_what_it_means_in_a_docstring(cls: type[Event]) -> None:
    assert cls.__doc__ is not None
    assert cls.__doc__.strip()


def test_event_types_are_the_published_wire_names_and_unique() -> None:
    names = [cls.type_name() for cls in EVENT_CLASSES]
    assert len(names) == len(set(names))
    assert set(names) == WIRE_NAMES


@ALL_EVENTS
def test_an_event_type_is_its_class_name_never_an_import_path(cls: type[Event]) -> None:
    assert cls.type_name() == cls.__name__
    assert "." not in cls.type_name()


@ALL_EVENTS
def test_an_encoded_event_decodes_to_an_equal_event_by_its_type(cls: type[Event]) -> None:
    event = SAMPLES[cls]
    decoded = decode(encode(event), cls.type_name())
    assert type(decoded) is cls
    assert decoded == event


@ALL_EVENTS
def test_an_encoded_event_decodes_without_being_told_its_type(cls: type[Event]) -> None:
    event = SAMPLES[cls]
    decoded = decode(encode(event))
    assert type(decoded) is cls
    assert decoded == event


def _v1_assignment(**overrides: object) -> bytes:
    raw: dict[str, object] = {
        "event_type": "ResponsibilityAssigned",
        "schema_version": 1,
        "event_id": "e-1",
        "lead_id": LEAD,
        "occurred_at": "2024-03-01T02:00:00Z",
        "unit": "shd-police",
        "assignee": "li.wei",
        "deadline_date": "2024-03-10",
    }
    raw.update(overrides)
    return orjson.dumps(raw)


def test_a_version_1_assignment_day_becomes_the_end_of_that_day_in_china_standard_time() -> None:
    event = decode(_v1_assignment(), "ResponsibilityAssigned")
    assert isinstance(event, ResponsibilityAssigned)
    assert event.schema_version == 2
    assert event.deadline == datetime(2024, 3, 10, 15, 59, 59, tzinfo=UTC)


def test_a_version_1_assignment_without_a_name_takes_the_assignee_as_its_name() -> None:
    event = decode(_v1_assignment(), "ResponsibilityAssigned")
    assert isinstance(event, ResponsibilityAssigned)
    assert event.assignee_name == "li.wei"


def test_a_version_1_assignment_keeps_a_name_it_already_had() -> None:
    event = decode(_v1_assignment(assignee_name="李伟"), "ResponsibilityAssigned")
    assert isinstance(event, ResponsibilityAssigned)
    assert event.assignee_name == "李伟"


def test_a_version_1_assignment_is_upcast_when_decoded_without_its_type() -> None:
    event = decode(_v1_assignment())
    assert isinstance(event, ResponsibilityAssigned)
    assert event.deadline == datetime(2024, 3, 10, 15, 59, 59, tzinfo=UTC)


def test_an_unknown_event_type_is_refused_naming_the_event_type() -> None:
    with pytest.raises(EventDecodeError, match="event_type"):
        decode(orjson.dumps({"event_type": "LeadTeleported", "lead_id": LEAD}))


def test_bytes_that_are_not_json_are_refused() -> None:
    with pytest.raises(EventDecodeError):
        decode(b'{"event_type": "LeadArchived", ', "LeadArchived")


def test_json_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(EventDecodeError, match="JSON object"):
        decode(b'["LeadArchived"]', "LeadArchived")


def test_a_field_of_the_wrong_type_is_refused_naming_the_field() -> None:
    data = orjson.dumps(
        {"event_type": "LeadConcluded", "lead_id": LEAD, "result": "substantiated", "summary": 7}
    )
    with pytest.raises(EventDecodeError, match="summary"):
        decode(data, "LeadConcluded")


def test_a_value_outside_the_vocabulary_is_refused_naming_the_field() -> None:
    data = orjson.dumps(
        {"event_type": "LeadConcluded", "lead_id": LEAD, "result": "probably", "summary": "x"}
    )
    with pytest.raises(EventDecodeError, match="result"):
        decode(data, "LeadConcluded")


def test_an_event_stored_under_another_type_is_refused() -> None:
    with pytest.raises(EventDecodeError, match="stored as LeadReopened"):
        decode(encode(SAMPLES[LeadArchived]), "LeadReopened")


def test_a_naive_timestamp_is_refused_when_an_event_is_built() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        LeadArchived(lead_id=LEAD, occurred_at=datetime(2024, 5, 1, 8, 30))


def test_a_naive_deadline_is_refused_when_an_event_is_built() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        DeadlineExtended(lead_id=LEAD, deadline=datetime(2024, 5, 1), reason="late")


def test_a_stored_naive_timestamp_is_refused_naming_the_field() -> None:
    data = orjson.dumps(
        {"event_type": "LeadArchived", "lead_id": LEAD, "occurred_at": "2024-05-01T08:30:00"}
    )
    with pytest.raises(EventDecodeError, match="occurred_at"):
        decode(data, "LeadArchived")


def test_a_timestamp_in_another_zone_is_kept_as_the_same_moment_in_utc() -> None:
    event = DeadlineExtended.model_validate(
        {"lead_id": LEAD, "deadline": "2024-05-01T16:30:00+08:00", "reason": "x"}
    )
    assert event.deadline == MOMENT
    assert event.deadline.utcoffset() == timedelta(0)


def test_a_stored_timestamp_in_another_zone_is_decoded_as_the_same_moment_in_utc() -> None:
    # Events are written in UTC; one stored with another offset still decodes, converted.
    data = orjson.dumps(
        {"event_type": "DeadlineExtended", "lead_id": LEAD, "reason": "x"}
        | {"deadline": "2024-05-01T16:30:00+08:00", "occurred_at": "2024-05-01T16:30:00+08:00"}
    )
    event = decode(data, "DeadlineExtended")
    assert isinstance(event, DeadlineExtended)
    assert (event.deadline, event.occurred_at) == (MOMENT, MOMENT)
    assert event.deadline.utcoffset() == event.occurred_at.utcoffset() == timedelta(0)


def test_an_event_cannot_be_changed_after_it_is_built() -> None:
    event = SAMPLES[LeadConcluded]
    assert isinstance(event, LeadConcluded)
    with pytest.raises(ValidationError, match="frozen"):
        event.summary = "rewritten"  # type: ignore[misc]
    assert event.summary == "held"


def test_an_event_refuses_fields_it_does_not_define() -> None:
    with pytest.raises(ValidationError, match="surprise"):
        LeadArchived(lead_id=LEAD, surprise=True)  # type: ignore[call-arg]


def test_an_event_caused_by_another_carries_its_correlation_and_names_it_as_cause() -> None:
    cause = SAMPLES[LeadReported]
    effect = LeadArchived(lead_id=LEAD, **cause.caused())
    assert effect.correlation_id == "corr-1"
    assert effect.causation_id == cause.event_id


def test_the_first_event_of_a_chain_starts_the_correlation_with_its_own_id() -> None:
    cause = LeadArchived(lead_id=LEAD)
    assert cause.caused() == {"correlation_id": cause.event_id, "causation_id": cause.event_id}


def test_an_event_of_a_newer_writer_with_a_field_added_is_read_by_an_older_consumer() -> None:
    # A rolling upgrade: the new version of a service adds a field with a default, and a
    # consumer still on this version reads the event instead of parking it.
    event = LeadReported(
        lead_id="L-newer",
        channel=Channel.HOTLINE,
        category=Category.VILLAGE_TYRANT,
        summary="村霸强占集体土地",
        reporter=ReporterRef(kind=ReporterKind.ANONYMOUS),
        actor=Actor(role=Role.CLERK, unit="shd-office", user="clerk"),
    )
    newer = orjson.loads(encode(event))
    newer["town"] = "shd"  # added by the newer writer
    newer["actor"]["session"] = "s-1"  # in a nested part too
    read = decode(orjson.dumps(newer), "LeadReported")
    assert read == event
