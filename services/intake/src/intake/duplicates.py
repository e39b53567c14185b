"""Linking reports of the same matter (through any channel) with DuplicateSuspected.

Each new report is compared with the earlier reports of its category from the same village
(or of unknown village) in the last half year; the most similar one above the threshold is
named. Both reports stay and are handled; the link only tells the office."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Final

from sqlalchemy import Column, MetaData, String, Table, Text, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from common.database import UtcDateTime
from common.events import SYSTEM_ACTOR, Event
from common.events.catalogue import DuplicateSuspected, LeadReported
from common.service import ServiceRuntime
from common.subjects import Stream
from intake.domain.matters import shingles, similarity

matter_metadata = MetaData()

matters = Table(
    "intake_matters",
    matter_metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("village", String(40)),
    Column("category", String(40), nullable=False, index=True),
    Column("shingles", Text, nullable=False),
    Column("reported_at", UtcDateTime, nullable=False),
)

LOOK_BACK: Final = timedelta(days=183)
_NAMESPACE: Final = uuid.UUID("9a0e5c7e-7d0b-4f0f-8a43-53a1f6b7c2de")


class DuplicateDetector:
    def __init__(self, runtime: ServiceRuntime, threshold: float) -> None:
        self._runtime = runtime
        self._threshold = threshold

    async def __call__(self, event: Event) -> None:
        """Compare a new report with earlier ones of the same matter; link the closest."""
        if not isinstance(event, LeadReported):
            return
        mine = shingles(f"{event.summary} {event.details}")
        async with self._runtime.database.async_engine.begin() as conn:
            village_matches = (
                or_(matters.c.village == event.village, matters.c.village.is_(None))
                if event.village
                else matters.c.village.is_(None) | matters.c.village.is_not(None)
            )
            candidates = await conn.execute(
                select(matters.c.lead_id, matters.c.shingles).where(
                    (matters.c.category == event.category.value)
                    & (matters.c.lead_id != event.lead_id)
                    & (matters.c.reported_at >= event.occurred_at - LOOK_BACK)
                    # Only earlier reports: a redelivered one must not link to later ones.
                    & (matters.c.reported_at < event.occurred_at)
                    & village_matches
                )
            )
            best_id, best = None, 0.0
            for row in candidates:
                score = similarity(mine, frozenset(row.shingles.split(" ")))
                if score > best:
                    best_id, best = row.lead_id, score
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            await conn.execute(
                insert(matters)
                .values(
                    lead_id=event.lead_id,
                    village=event.village,
                    category=event.category.value,
                    shingles=" ".join(sorted(mine)),
                    reported_at=event.occurred_at,
                )
                .on_conflict_do_nothing()
            )
        if best_id is None or best < self._threshold:
            return
        store = self._runtime.store(Stream.INTAKE)
        history = await store.read_lead(event.lead_id)
        if any(isinstance(e.event, DuplicateSuspected) for e in history.events):
            return  # linked already (a redelivery after the duplicate window)
        await store.append(
            DuplicateSuspected(
                # Derived from the pair, so a redelivery links them once.
                event_id=str(uuid.uuid5(_NAMESPACE, f"{event.lead_id}:{best_id}")),
                lead_id=event.lead_id,
                duplicate_of=best_id,
                basis=f"same category and village, {best:.0%} of the wording alike",
                actor=SYSTEM_ACTOR,
                **event.caused(),
            )
        )
