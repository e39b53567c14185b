"""The envelope every event travels in.

Events are flat, frozen pydantic models: the envelope fields below, then the event's own
fields. ``event_type`` is the stable wire name (never a Python path) and the
discriminator of the union that decodes every stream.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import core_schema


class Role(StrEnum):
    """Who a principal is. ``reporter`` is the public, without an account."""

    REPORTER = "reporter"
    SCREENER = "screener"
    CLERK = "clerk"
    OFFICE = "office"
    POLICE = "police"
    JUDICIAL = "judicial"
    DISCIPLINE = "discipline"
    CUSTODIAN = "custodian"
    AUDITOR = "auditor"
    ADMIN = "admin"
    SYSTEM = "system"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    return value.astimezone(UTC)


class _Utc:
    """A timestamp in UTC. Built in Python, any zone is converted. Read from JSON (the
    stored events, all written in UTC), only a UTC offset is accepted, checked inside
    pydantic-core: a call back into Python for every timestamp of a rebuild cost a tenth of
    its decoding. A stored timestamp with another offset fails that check and is decoded
    on the codec's slow path, in Python mode, where it is converted."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.json_or_python_schema(
            json_schema=core_schema.datetime_schema(tz_constraint=0),
            python_schema=core_schema.no_info_after_validator_function(
                _utc, core_schema.datetime_schema()
            ),
        )


UtcDatetime = Annotated[datetime, _Utc]


def new_event_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


class Actor(BaseModel):
    """Who caused an event: role, unit and user name. A public reporter is
    ``Actor(role=REPORTER)`` with no user: nothing identifying is kept."""

    # A part of an event: what a newer writer adds is ignored here too.
    model_config = ConfigDict(frozen=True, extra="ignore")

    role: Role
    unit: str | None = None
    user: str | None = None


SYSTEM_ACTOR = Actor(role=Role.SYSTEM, user="system")


#: Every event type by its wire name, in the order the catalogue defines them.
EVENT_REGISTRY: dict[str, type[Event]] = {}


class Event(BaseModel):
    """Base of every event. Subclasses set ``event_type`` (a ``Literal``), the stream
    ``prefix`` and, when a breaking change is made, a higher ``schema_version`` with an
    upcaster registered in :mod:`common.events.codec`.

    Building an event with a field it does not define is an error (a typo must not vanish);
    reading one is not: adding a field with a default is a compatible change, and during a
    rolling upgrade an older consumer meets a newer writer's events, which the decoder reads
    without the fields it does not know (common.events.codec)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Subclasses narrow event_type to a Literal (the union decodes on it) and, from their
    # second version on, schema_version too: an old payload then fails the fast path and
    # is upcast instead of being misread as current.
    event_type: str
    schema_version: Literal[1] = 1
    event_id: str = Field(default_factory=new_event_id)
    lead_id: str | None = None
    occurred_at: UtcDatetime = Field(default_factory=utc_now)
    actor: Actor = SYSTEM_ACTOR
    correlation_id: str | None = None
    causation_id: str | None = None

    #: subject prefix of the stream the event is written to, e.g. ``ledger``.
    prefix: ClassVar[str]
    #: what the event belongs to, the subject's second token: ``lead`` (the lead id), or
    #: another kind of thing whose id :attr:`subject_id` gives (``ledger.notice.<id>.…``)
    subject_kind: ClassVar[str] = "lead"

    @property
    def subject_id(self) -> str | None:
        """The id the event's subject carries: its lead's, unless its kind says otherwise."""
        return self.lead_id

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # A class that names its event type is an event of the catalogue: registering it
        # here is all a new event type takes (the decoder's union is built from the
        # registry). Bases without a type of their own (_LedgerEvent) are not registered.
        super().__pydantic_init_subclass__(**kwargs)
        name = cls.model_fields["event_type"].default
        if not isinstance(name, str):
            return
        known = EVENT_REGISTRY.get(name)
        if known is not None and known is not cls:
            raise TypeError(f"event type {name!r} is defined twice: {known!r} and {cls!r}")
        EVENT_REGISTRY[name] = cls

    @classmethod
    def type_name(cls) -> str:
        name: str = cls.model_fields["event_type"].default
        return name

    @classmethod
    def current_version(cls) -> int:
        """The schema version this code writes; older ones are upcast on read."""
        version: int = cls.model_fields["schema_version"].default
        return version

    def caused(self) -> dict[str, str | None]:
        """Envelope fields for an event caused by this one: same correlation, this as cause."""
        return {
            "correlation_id": self.correlation_id or self.event_id,
            "causation_id": self.event_id,
        }
