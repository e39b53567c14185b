"""The deadline round: a deadline that passed without a result is recorded, once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Final

import structlog

from common.application import for_each_due
from common.errors import NotFound
from common.events import Actor, Role, utc_now
from common.subjects import Stream
from ledger.domain import lead as rules
from ledger.projection.queries import due_deadlines

if TYPE_CHECKING:
    from ledger.application.context import Ledger

log = structlog.get_logger(__name__)

_NAMESPACE: Final = uuid.UUID("a3b9d1f2-5c6e-4f7a-8b9c-0d1e2f3a4b5c")


async def mark_missed_deadlines(ledger: Ledger) -> int:
    """Append DeadlineMissed, once, for every deadline that passed without a result.

    Safe to run in every replica and after every restart: the decision is taken on the
    lead's events (a DeadlineMissed already there for this deadline means done), the
    append checks the lead's sequence (a lead that changed meanwhile is decided on
    again next round), and its id is derived from lead and deadline."""
    now = utc_now()
    async with ledger.runtime.database.async_engine.connect() as conn:
        due = await due_deadlines(conn, now)
    actor = Actor(role=Role.SYSTEM, user="deadlines")
    return await for_each_due(
        due, lambda lead_id: _mark_missed(ledger, lead_id, now, actor), job="deadlines"
    )


async def _mark_missed(ledger: Ledger, lead_id: str, now: datetime, actor: Actor) -> bool:
    try:
        lead, sequence = await ledger.load(lead_id)
    except NotFound:
        return False
    missed = rules.deadline_missed(lead, now, actor)
    if missed is None:
        return False
    missed = missed.model_copy(
        update={"event_id": str(uuid.uuid5(_NAMESPACE, f"{lead_id}:{missed.deadline.isoformat()}"))}
    )
    appended = await ledger.runtime.store(Stream.LEDGER).append(missed, expected_sequence=sequence)
    if appended.duplicate:
        return False
    log.warning("deadline_missed", lead_id=lead_id, event_id=missed.event_id)
    return True
