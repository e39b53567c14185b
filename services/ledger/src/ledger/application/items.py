"""What the ledger keeps beside leads on its own subjects (a notice, ``ledger.notice.<id>``):
a decision on one is appended with the last sequence of that thing's subjects, so two
people acting on it at once cannot both win, and logged by its kind and id."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import structlog

from common.auth import Principal
from common.events import Event
from common.subjects import Stream

if TYPE_CHECKING:
    from ledger.application.context import Ledger

log = structlog.get_logger(__name__)


async def record(ledger: Ledger, event: Event, sequence: int) -> Event:
    """Append ``event`` expecting ``sequence`` (0: the thing is new) on its subjects."""
    await ledger.runtime.store(Stream.LEDGER).append(event, expected_sequence=sequence)
    log.info(
        "ledger_item_event",
        kind=event.subject_kind,
        item_id=event.subject_id,
        event_type=event.event_type,
        event_id=event.event_id,
    )
    return event


def keyed_id(principal: Principal, key: str) -> str:
    """The id of the thing a person makes under an Idempotency-Key: the same for every
    retry of theirs, never the same as another person's."""
    return hashlib.sha256(f"{principal.user}\n{key}".encode()).hexdigest()[:32]
