"""One decoder for every stream, with upcasting of old schema versions.

The event type is the last token of the subject an event is stored on, so the common case
(current version) is validated straight from bytes by pydantic's JSON parser. A payload of
an older version fails that check on its ``schema_version`` literal and is parsed to a dict
and walked through its upcasters instead.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from datetime import UTC, date
from typing import Annotated, Any, Final, TypeAlias

import orjson
from pydantic import Field, TypeAdapter, ValidationError

import common.events.accounts
import common.events.campaigns
import common.events.catalogue
import common.events.conflict
import common.events.custody
import common.events.evidence
import common.events.files
import common.events.notices
import common.events.tasks  # noqa: F401 - these modules define (and so register) every event type
from common.events.envelope import EVENT_REGISTRY, Event
from common.routing import CommitteeRule
from common.times import end_of_day
from common.vocabulary import Category, Flag

EVENT_CLASSES: Final[tuple[type[Event], ...]] = tuple(EVENT_REGISTRY.values())

# Every event type, told apart by its ``event_type``: the union is built from the registry,
# so a new event type is one class in the catalogue and nothing here.
AnyEvent: TypeAlias = Annotated[  # type: ignore[valid-type]
    functools.reduce(operator.or_, EVENT_CLASSES),
    Field(discriminator="event_type"),
]

_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(AnyEvent)
BY_TYPE: Final[dict[str, type[Event]]] = dict(EVENT_REGISTRY)
# Each type's current version validated straight from JSON bytes by pydantic-core, with no
# wrapper of pydantic's or ours in between: a rebuild decodes every event through here.
_FROM_JSON: Final[dict[str, Callable[[bytes], Event]]] = {
    name: cls.__pydantic_validator__.validate_json for name, cls in BY_TYPE.items()
}

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


def event_type_of(subject: str) -> str:
    """The event type a subject names (its last token)."""
    return subject.rsplit(".", 1)[-1]


def lead_of_subject(subject: str) -> str | None:
    """The lead id a subject names (``….lead.<id>.<Type>``), or None for a global one."""
    tokens = subject.split(".")
    if len(tokens) >= 3 and tokens[-3] == "lead":
        return tokens[-2]
    return None


def decode(data: bytes, event_type: str | None = None) -> Event:
    """Decode one stored event, upcasting an old schema version on the way.

    ``event_type`` (from the subject) picks the fast path; without it, or when the payload
    is not the current version, the payload is parsed and upcast first."""
    current = _FROM_JSON.get(event_type) if event_type else None
    if current is not None:
        try:
            return current(data)
        except ValidationError:
            pass  # maybe an older version; the full path below says what is wrong
    return _decode_slowly(data, event_type)


def _decode_slowly(data: bytes, event_type: str | None = None) -> Event:
    """The full path of :func:`decode`: parse, upcast, validate, and say what is wrong."""
    try:
        raw = orjson.loads(data)
        if not isinstance(raw, dict):
            raise EventDecodeError("an event must be a JSON object")
        event = _ADAPTER.validate_python(_known_fields(upcast(raw)))
    except (ValidationError, orjson.JSONDecodeError) as exc:
        raise EventDecodeError(_describe(exc)) from exc
    if event_type is not None and event.event_type != event_type:
        raise EventDecodeError(f"stored as {event_type} but is {event.event_type}")
    return event


def _known_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """The event without the fields its class does not define: a newer writer's additions
    (the fast path refuses them, and the event comes here)."""
    cls = BY_TYPE[raw["event_type"]]
    return {name: value for name, value in raw.items() if name in cls.model_fields}


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    """Walk a raw event up to the version this code writes."""
    event_type = raw.get("event_type")
    cls = BY_TYPE.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise EventDecodeError(f"unknown event_type {event_type!r}")
    version = raw.get("schema_version", 1)
    current = cls.current_version()
    if not isinstance(version, int) or version < 1 or version > current:
        raise EventDecodeError(f"{event_type} has no schema version {version!r}")
    while version < current:
        step = _UPCASTERS.get((cls.type_name(), version))
        if step is None:
            raise EventDecodeError(f"no upcaster for {event_type} v{version}")
        try:
            raw = step(raw)
        except (KeyError, ValueError, TypeError) as exc:
            raise EventDecodeError(f"{event_type} v{version} cannot be upcast: {exc!r}") from exc
        version = raw["schema_version"]
    return raw


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        return f"{where}: {first['msg']}"
    return str(exc)


# --- upcasters --------------------------------------------------------------------------

# A v1 day meant "by the end of that day" on the township's clock (common.times).


@upcaster("ResponsibilityAssigned", 1)
def _assignment_day_to_moment(raw: dict[str, Any]) -> dict[str, Any]:
    day = date.fromisoformat(raw.pop("deadline_date"))
    raw["deadline"] = end_of_day(day).astimezone(UTC).isoformat()
    raw.setdefault("assignee_name", raw["assignee"])
    raw["schema_version"] = 2
    return raw


# A v1 registration did not say whether the lead went to the committee: readers then hid it
# from its village screener by the rule's default, which is what it records.


@upcaster("LeadRegistered", 1)
def _registration_records_routing(raw: dict[str, Any]) -> dict[str, Any]:
    flags = [Flag(f) for f in raw.get("flags", ())]
    raw["for_committee"] = CommitteeRule().takes(flags, Category(raw["category"]))
    raw["schema_version"] = 2
    return raw
