"""Linking reports of the same matter (through any channel) with DuplicateSuspected.

Each new report is compared with the earlier reports of its category from the same village
(or of unknown village) in the last half year; the most similar one above the threshold is
named. Both reports stay and are handled; the link only tells the office.

Comparing with every such report made each one cost as much as the history of its category
(O(n²) in all). Each report is now indexed under its MinHash bands (intake.domain.matters),
with its village and moment, so a new report reads only the earlier ones sharing a band in
its window. Unrelated reports in scope share a band by chance (a few in a hundred of those
of a category at a fifth alike), so their number grows with the reports of unknown village
(in every report's scope) a half year holds: the index counts the bands each shares, and
only those sharing the most (MAX_CONFIRMED) are fetched and confirmed with the exact
similarity. A report of the same matter shares many bands, an unrelated one mostly one. The
bands live in the database beside the matters, so the index survives restarts and needs no
rebuilding."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Insert,
    MetaData,
    Select,
    String,
    Subquery,
    Table,
    Text,
    bindparam,
    cast,
    func,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from common.database import UtcDateTime
from common.events import SYSTEM_ACTOR, Event
from common.events.catalogue import DuplicateSuspected, LeadReported
from common.service import ServiceRuntime
from common.subjects import Stream
from intake.domain.matters import BANDS, band_keys, shingles, similarity

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
# reports read a few hundred rows (a median 234 reports share a band at a million earlier
# reports; a report of unknown village, whose scope is every village, reaches the bound).
MAX_CANDIDATE_ROWS: Final = 1000
# The candidates one report confirms at most, those sharing the most bands first. Unrelated
# reports in scope share a band by chance in proportion to their number (in the benchmark's
# county, most of them of unknown village, in every report's scope): confirming each cost
# ~30-50 us of fetching and comparing, 8 ms a report at a million earlier reports. Counting
# the bands each shares is the index's own work; a report alike at s = 0.6 shares 8 of 64
# bands on average (99.85% two or more), unrelated ones mostly one.
MAX_CONFIRMED: Final = 32
_NAMESPACE: Final = uuid.UUID("9a0e5c7e-7d0b-4f0f-8a43-53a1f6b7c2de")


def band_rows(
    lead_id: str,
    village: str | None,
    category: str,
    marks: frozenset[str],
    reported_at: object,
    bands: int = BANDS,
) -> list[dict[str, object]]:
    """The rows indexing one report (what the revisions filling the index write; the
    detector writes the same rows through _banding)."""
    return [
        {
            "band_key": key,
            "village": village or UNKNOWN_VILLAGE,
            "reported_at": reported_at,
            "lead_id": lead_id,
        }
        for key in band_keys(category, marks, bands)
    ]


Probe = tuple[Select[Any], dict[str, object]]


@cache
def _sharing(scoped: bool) -> Subquery:
    """The earlier reports in a report's window (and, when its village is known, scope)
    sharing at least one of its bands, each once with the number of bands it shares, from at
    most a bound of band rows. Built once, as the statements below: a statement's cache key
    is kept on it, and building one anew cost more than the probe itself (~1.5 ms)."""
    rows = (
        select(matter_bands.c.lead_id, matter_bands.c.reported_at)
        .where(matter_bands.c.band_key.in_(bindparam("band_keys", expanding=True)))
        .where(matter_bands.c.reported_at >= bindparam("since"))
        # Only earlier reports: a redelivered one must not link to later ones.
        .where(matter_bands.c.reported_at < bindparam("until"))
        .where(matter_bands.c.lead_id != bindparam("lead_id"))
    )
    if scoped:
        rows = rows.where(matter_bands.c.village.in_(bindparam("villages", expanding=True)))
    limited = rows.limit(bindparam("rows")).subquery("band_rows")
    return (
        select(
            limited.c.lead_id,
            func.count().label("shared"),
            func.min(limited.c.reported_at).label("reported_at"),
        )
        .group_by(limited.c.lead_id)
        .subquery("sharing")
    )


@cache
def _shared(scoped: bool) -> Select[Any]:
    sharing = _sharing(scoped)
    return select(sharing.c.lead_id, sharing.c.shared)


@cache
def _near(scoped: bool) -> Select[Any]:
    sharing = _sharing(scoped)
    chosen = (
        select(sharing.c.lead_id)
        .order_by(sharing.c.shared.desc(), sharing.c.reported_at, sharing.c.lead_id)
        .limit(bindparam("confirmed"))
        .subquery("chosen")
    )
    return (
        select(matters.c.lead_id, matters.c.shingles, matters.c.reported_at)
        .select_from(chosen.join(matters, matters.c.lead_id == chosen.c.lead_id))
        # A band key of another category would be a 64-bit collision.
        .where(matters.c.category == bindparam("category"))
    )


def _parameters(
    keys: list[int], village: str | None, at: datetime, lead_id: str
) -> dict[str, object]:
    found: dict[str, object] = {
        "band_keys": keys,
        "since": at - LOOK_BACK,
        "until": at,
        "lead_id": lead_id,
        "rows": MAX_CANDIDATE_ROWS,
        "confirmed": MAX_CONFIRMED,
    }
    if village:
        found["villages"] = [village, UNKNOWN_VILLAGE]
    return found


def sharing_reports(keys: list[int], village: str | None, at: datetime, lead_id: str) -> Probe:
    """The earlier reports in a report's window and scope sharing one of its bands, each
    with the number of bands it shares (lead_id, shared): a statement and its parameters."""
    return _shared(bool(village)), _parameters(keys, village, at, lead_id)


def near_reports(
    keys: list[int], category: str, village: str | None, at: datetime, lead_id: str
) -> Probe:
    """The earlier reports in a report's window and scope sharing the most of its bands (at
    most MAX_CONFIRMED, the earliest first of those sharing as many), with what confirming
    them needs: a statement and its parameters.

    One statement: the band index drives it (the probe is a range of its key), the bands
    counted per report, and only the chosen reports fetched by primary key."""
    return _near(bool(village)), {
        **_parameters(keys, village, at, lead_id),
        "category": category,
    }


@cache
def _inserting(table: Table, dialect: str) -> Insert:
    """A row written once, kept if it is there already (a redelivered report)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing()


@cache
def _banding(dialect: str) -> Insert:
    """One report's band rows (band_rows) in one statement, its keys one parameter (a JSON
    array on SQLite, an array on PostgreSQL) unpacked by the database: as 64 rows of
    parameters SQLAlchemy processed each value of each row (~1.5 ms a report, a fifth of
    the check's CPU)."""
    moment = matter_bands.c.reported_at.type
    if dialect == "postgresql":
        key: ColumnElement[Any] = func.unnest(
            cast(bindparam("keys"), ARRAY(BigInteger))
        ).column_valued("band_key")
        # asyncpg needs each parameter's type; SQLite would turn a CAST's text to a number.
        at: ColumnElement[Any] = cast(bindparam("reported_at", type_=moment), moment)
        village: ColumnElement[Any] = cast(bindparam("village"), String)
        lead: ColumnElement[Any] = cast(bindparam("lead_id"), String)
    else:
        key = func.json_each(bindparam("keys")).table_valued("value").c.value
        at = bindparam("reported_at", type_=moment)
        village, lead = bindparam("village", type_=String), bindparam("lead_id", type_=String)
    rows = (
        select(key, village, at, lead)
        # SQLite reads "SELECT ... FROM f(x) ON CONFLICT" as a join's ON without a WHERE.
        .where(true())
    )
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(matter_bands)
        .from_select(["band_key", "village", "reported_at", "lead_id"], rows)
        .on_conflict_do_nothing()
    )


def _banding_parameters(
    dialect: str, keys: list[int], village: str | None, at: datetime, lead_id: str
) -> dict[str, object]:
    return {
        "keys": keys if dialect == "postgresql" else json.dumps(keys),
        "village": village or UNKNOWN_VILLAGE,
        "reported_at": at,
        "lead_id": lead_id,
    }


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
                for row in await conn.execute(*near):
                    score = similarity(mine, frozenset(row.shingles.split(" ")))
                    # Of equally similar reports, the first one told is named.
                    told = (row.reported_at, row.lead_id)
                    if score > best or (score == best > 0 and told < best_told):
                        best_id, best, best_told = row.lead_id, score, told
            dialect = conn.dialect.name
            await conn.execute(
                _inserting(matters, dialect),
                {
                    "lead_id": event.lead_id,
                    "village": event.village,
                    "category": category,
                    "shingles": " ".join(sorted(mine)),
                    "reported_at": event.occurred_at,
                },
            )
            if keys:
                await conn.execute(
                    _banding(dialect),
                    _banding_parameters(
                        dialect, keys, event.village, event.occurred_at, event.lead_id
                    ),
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
