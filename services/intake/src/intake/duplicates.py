"""Linking reports of the same matter (through any channel) with DuplicateSuspected.

Each new report is compared with the earlier reports of its category from the same village
(or of unknown village) in the last half year; the most similar one above the threshold is
named. Both reports stay and are handled; the link only tells the office.

Comparing with every such report made each one cost as much as the history of its category
(O(n²) in all). Each report is now indexed under its MinHash bands (intake.domain.matters),
with its village and moment, so a new report reads only the earlier ones sharing a band in
its window and confirms them with the exact similarity. The probes cost the same at any
size; the confirmations follow the unrelated reports in scope that share a band by chance
(a few in a hundred of those of a category at a fifth alike), so a county whose half year
holds many reports of unknown village (in every report's scope) confirms more of them. The
bands live in the database beside the matters, so the index survives restarts and needs no
rebuilding."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    Select,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from common.database import UtcDateTime
from common.events import SYSTEM_ACTOR, Event
from common.events.catalogue import DuplicateSuspected, LeadReported
from common.service import ServiceRuntime
from common.subjects import Stream
from intake.domain.matters import band_keys, shingles, similarity

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

# One row per band of each report, keyed so that a new report's probe is an index range:
# its band key (the category is hashed into it), the village ('' when unknown) and the
# window of moments. Without rowid on SQLite: the key is the table, not an index beside it.
matter_bands = Table(
    "intake_matter_bands",
    matter_metadata,
    Column("band_key", BigInteger, primary_key=True, autoincrement=False),
    Column("village", String(40), primary_key=True),
    Column("reported_at", UtcDateTime, primary_key=True),
    Column("lead_id", String(64), primary_key=True),
    sqlite_with_rowid=False,
)

UNKNOWN_VILLAGE: Final = ""
LOOK_BACK: Final = timedelta(days=183)
# The band rows one report reads at most. Reports alike are all candidates of each other, so
# without a bound a flood of one text (or of slight variations of it) makes each check read
# every earlier copy: ~30 ms a report after 1,000 copies, growing, with intake's request path
# waiting behind it. On SQLite the rows come in the index's order (band, village, time), so the first
# band's earliest copies, the earliest of the matter among them, are read first; ordinary
# reports read a few dozen rows (median 166 at a million earlier reports).
MAX_CANDIDATE_ROWS: Final = 1000
_NAMESPACE: Final = uuid.UUID("9a0e5c7e-7d0b-4f0f-8a43-53a1f6b7c2de")


def band_rows(
    lead_id: str, village: str | None, category: str, marks: frozenset[str], reported_at: object
) -> list[dict[str, object]]:
    """The rows indexing one report (also what the revision adding the index fills in)."""
    return [
        {
            "band_key": key,
            "village": village or UNKNOWN_VILLAGE,
            "reported_at": reported_at,
            "lead_id": lead_id,
        }
        for key in band_keys(category, marks)
    ]


def near_reports(
    keys: list[int], category: str, village: str | None, at: datetime, lead_id: str
) -> Select[tuple[str, str, datetime]]:
    """The earlier reports in a report's window and scope sharing one of its bands, with
    what confirming them needs; a report sharing several bands comes once per band.

    One statement: the band index drives it (the probe is a range of its key), each band
    row fetching its report by primary key."""
    near = (
        select(matters.c.lead_id, matters.c.shingles, matters.c.reported_at)
        .select_from(matter_bands.join(matters, matters.c.lead_id == matter_bands.c.lead_id))
        .where(matter_bands.c.band_key.in_(keys))
        .where(matter_bands.c.reported_at >= at - LOOK_BACK)
        # Only earlier reports: a redelivered one must not link to later ones.
        .where(matter_bands.c.reported_at < at)
        .where(matter_bands.c.lead_id != lead_id)
        # A band key of another category would be a 64-bit collision.
        .where(matters.c.category == category)
    )
    if village:
        near = near.where(matter_bands.c.village.in_([village, UNKNOWN_VILLAGE]))
    return near.limit(MAX_CANDIDATE_ROWS)


class DuplicateDetector:
    def __init__(self, runtime: ServiceRuntime, threshold: float) -> None:
        self._runtime = runtime
        self._threshold = threshold

    async def __call__(self, event: Event) -> None:
        """Compare a new report with earlier ones of the same matter; link the closest."""
        if not isinstance(event, LeadReported):
            return
        mine = shingles(f"{event.summary} {event.details}")
        category = event.category.value
        keys = band_keys(category, mine)
        async with self._runtime.database.async_engine.begin() as conn:
            best_id, best, best_told = None, 0.0, (event.occurred_at, event.lead_id)
            if keys:
                near = near_reports(keys, category, event.village, event.occurred_at, event.lead_id)
                seen: set[str] = set()
                for row in await conn.execute(near):
                    if row.lead_id in seen:
                        continue
                    seen.add(row.lead_id)
                    score = similarity(mine, frozenset(row.shingles.split(" ")))
                    # Of equally similar reports, the first one told is named.
                    told = (row.reported_at, row.lead_id)
                    if score > best or (score == best > 0 and told < best_told):
                        best_id, best, best_told = row.lead_id, score, told
            insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            await conn.execute(
                insert(matters)
                .values(
                    lead_id=event.lead_id,
                    village=event.village,
                    category=category,
                    shingles=" ".join(sorted(mine)),
                    reported_at=event.occurred_at,
                )
                .on_conflict_do_nothing()
            )
            rows = band_rows(event.lead_id, event.village, category, mine, event.occurred_at)
            if rows:
                await conn.execute(insert(matter_bands).on_conflict_do_nothing(), rows)
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
