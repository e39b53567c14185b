"""One decoder for every stream, with upcasting of old schema versions.

The publisher writes the event type and schema version into NATS headers, so the common
case (current version) is decoded straight from bytes by pydantic's JSON parser; only an
old version is parsed to a dict and walked through its upcasters first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Final, TypeAlias

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from common.events.catalogue import (
    AccountabilityRecorded,
    CaseOpened,
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
    LeadTransferred,
    LeadViewed,
    LedgerExported,
    ReporterMessagePosted,
    ResponsibilityAssigned,
    SupervisionListed,
    SupervisionOpened,
    TransferAccepted,
    TransferReturned,
    UmbrellaLinked,
    VerificationRecorded,
)
from common.events.envelope import Event

EVENT_CLASSES: Final[tuple[type[Event], ...]] = (
    LeadReported,
    LeadSupplemented,
    ReporterMessagePosted,
    IdentityDisclosed,
    IdentityShredded,
    DuplicateSuspected,
    LeadRegistered,
    LeadTransferred,
    TransferAccepted,
    TransferReturned,
    ResponsibilityAssigned,
    DeadlineExtended,
    VerificationRecorded,
    LeadConcluded,
    FeedbackGiven,
    LeadArchived,
    LeadReopened,
    DeadlineMissed,
    CaseOpened,
    UmbrellaLinked,
    SupervisionOpened,
    EscalatedToHigherLevel,
    AccountabilityRecorded,
    SupervisionListed,
    DisciplineOutcome,
    LeadViewed,
    LedgerExported,
)

AnyEvent: TypeAlias = Annotated[
    LeadReported
    | LeadSupplemented
    | ReporterMessagePosted
    | IdentityDisclosed
    | IdentityShredded
    | DuplicateSuspected
    | LeadRegistered
    | LeadTransferred
    | TransferAccepted
    | TransferReturned
    | ResponsibilityAssigned
    | DeadlineExtended
    | VerificationRecorded
    | LeadConcluded
    | FeedbackGiven
    | LeadArchived
    | LeadReopened
    | DeadlineMissed
    | CaseOpened
    | UmbrellaLinked
    | SupervisionOpened
    | EscalatedToHigherLevel
    | AccountabilityRecorded
    | SupervisionListed
    | DisciplineOutcome
    | LeadViewed
    | LedgerExported,
    Field(discriminator="event_type"),
]

_ADAPTER: Final[TypeAdapter[AnyEvent]] = TypeAdapter(AnyEvent)
BY_TYPE: Final[dict[str, type[Event]]] = {
    cls.model_fields["event_type"].default: cls for cls in EVENT_CLASSES
}

HEADER_TYPE: Final = "Lead-Event-Type"
HEADER_VERSION: Final = "Lead-Schema-Version"
HEADER_CORRELATION: Final = "Lead-Correlation-Id"

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class EventDecodeError(ValueError):
    """The bytes are not a valid event of any known type and version."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning ``event_type`` at ``from_version`` into the next version."""

    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(event_type, from_version)] = fn
        return fn

    return register


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()


def headers_for(event: Event) -> dict[str, str]:
    headers = {
        HEADER_TYPE: event.event_type,
        HEADER_VERSION: str(event.schema_version),
    }
    if event.correlation_id:
        headers[HEADER_CORRELATION] = event.correlation_id
    return headers


def decode(data: bytes, headers: Mapping[str, str] | None = None) -> Event:
    """Decode one stored event, upcasting an old schema version on the way."""
    event_type = headers.get(HEADER_TYPE) if headers else None
    version = headers.get(HEADER_VERSION) if headers else None
    cls = BY_TYPE.get(event_type) if event_type else None
    try:
        if cls is not None and version == str(cls.current_version):
            return cls.model_validate_json(data)
        raw = orjson.loads(data)
        if not isinstance(raw, dict):
            raise EventDecodeError("an event must be a JSON object")
        return _ADAPTER.validate_python(upcast(raw))
    except (ValidationError, orjson.JSONDecodeError) as exc:
        raise EventDecodeError(_describe(exc)) from exc


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    """Walk a raw event up to the version this code writes."""
    event_type = raw.get("event_type")
    cls = BY_TYPE.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise EventDecodeError(f"unknown event_type {event_type!r}")
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or version < 1 or version > cls.current_version:
        raise EventDecodeError(f"{event_type} has no schema version {version!r}")
    while version < cls.current_version:
        step = _UPCASTERS.get((cls.model_fields["event_type"].default, version))
        if step is None:
            raise EventDecodeError(f"no upcaster for {event_type} v{version}")
        raw = step(raw)
        version = raw["schema_version"]
    return raw


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        return f"{where}: {first['msg']}"
    return str(exc)


# --- upcasters --------------------------------------------------------------------------

# Deadlines are set by the township in China Standard Time; a v1 day meant "by the end of
# that day there".
_CST = timezone(timedelta(hours=8))


@upcaster("ResponsibilityAssigned", 1)
def _assignment_day_to_moment(raw: dict[str, Any]) -> dict[str, Any]:
    day = date.fromisoformat(raw.pop("deadline_date"))
    end_of_day = datetime.combine(day, time(23, 59, 59), tzinfo=_CST).astimezone(UTC)
    raw["deadline"] = end_of_day.isoformat()
    raw.setdefault("assignee_name", raw["assignee"])
    raw["schema_version"] = 2
    return raw
