"""Event contracts: the envelope, the catalogue and the decoder."""

from common.events.catalogue import *  # noqa: F403 - the catalogue is the public surface
from common.events.codec import (
    BY_TYPE,
    EVENT_CLASSES,
    AnyEvent,
    EventDecodeError,
    decode,
    encode,
    event_type_of,
    lead_of_subject,
    upcast,
    upcaster,
)
from common.events.envelope import SYSTEM_ACTOR, Actor, Event, Role, utc_now

__all__ = [
    "BY_TYPE",
    "EVENT_CLASSES",
    "SYSTEM_ACTOR",
    "Actor",
    "AnyEvent",
    "Event",
    "EventDecodeError",
    "Role",
    "decode",
    "encode",
    "event_type_of",
    "lead_of_subject",
    "upcast",
    "upcaster",
    "utc_now",
]
