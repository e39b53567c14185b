"""The ledger's reads bounded by the page, not by the ledger (version 2 of its read model):
statistics read from counts the projection keeps, totals counted up to a limit ("at
least"), a search read newest first from its index; and the version built beside the one
serving. On real SQLite and, when DATABASE_URL is set, PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, inspect, select, text

from common.auth import Principal
from common.database import sync_engine
from common.events import Actor, Event, Role
from common.events.catalogue import (
    LeadRegistered,
    LeadReported,
    LeadSupplemented,
    LeadTransferred,
    ReporterKind,
    ReporterRef,
    TransferReturned,
)
from common.projection import Item, Tracker, projection_versions, tracking_metadata
from common.readmodels import BUILDING, SERVING, ReadModels
from common.vocabulary import Category, Channel
from ledger.projection import PROJECTION, queries
from ledger.projection.queries import Filters, visible_to
from ledger.projection.search import FTS, create_index
from ledger.projection.tables import counts, leads

pytestmark = pytest.mark.integration

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
VILLAGES = ("shd-v01", "shd-v02", "shd-v03")
CATEGORIES = (Category.VILLAGE_TYRANT, Category.PUBLIC_ORDER, Category.MASS_ECONOMIC)
# Lead n is filed n hours after: the first at 23:00 on 31 December in the township (15:00
# UTC), the next in January, though still on 31 December in UTC.
START = datetime(2025, 12, 31, 14, 0, tzinfo=UTC)
READERS = (
    Principal("office", "office", Role.OFFICE, "shd-office"),
    Principal("auditor", "auditor", Role.AUDITOR, "shd-office"),
    Principal("s1", "s1", Role.SCREENER, "shd-v01"),
    Principal("s2", "s2", Role.SCREENER, "shd-v02"),
    Principal("police", "police", Role.POLICE, "shd-police"),
    Principal("judicial", "judicial", Role.JUDICIAL, "shd-judicial"),
    Principal("discipline", "discipline", Role.DISCIPLINE, "shd-discipline"),
    Principal("custodian", "custodian", Role.CUSTODIAN, "shd-office"),
)


def _registered(n: int, rng: random.Random) -> LeadRegistered:
    return LeadRegistered(
        lead_id=f"lead-{n:03d}",
        ledger_number=f"SHD-{(START + timedelta(hours=n)).year}-{n:06d}",
        unit="shd-office",
        reported_at=START,
        channel=Channel.HOTLINE,
        category=rng.choice(CATEGORIES),
        summary=f"第{n}件",
        village=rng.choice((*VILLAGES, None)),
        for_committee=rng.random() < 0.2,
        actor=OFFICE,
        occurred_at=START + timedelta(hours=n),
    )


def _reported(lead_id: str, summary: str) -> LeadReported:
    return LeadReported(
        lead_id=lead_id,
        channel=Channel.HOTLINE,
        category=Category.VILLAGE_TYRANT,
        summary=summary,
        reporter=ReporterRef(kind=ReporterKind.ANONYMOUS),
        actor=OFFICE,
    )


def _history(size: int = 40, seed: int = 7) -> list[Event]:
    """Leads filed over the turn of a year, handed to the police or the judicial office,
    some sent back, some handed on again."""
    rng = random.Random(seed)
    events: list[Event] = []
    for n in range(1, size + 1):
        lead = _registered(n, rng)
        events.append(lead)
        at = lead.occurred_at
        unit = "shd-office"
        for step in range(rng.randint(0, 3)):
            to = rng.choice(("shd-police", "shd-judicial", "shd-discipline"))
            if to == unit:
                continue
            events.append(
                LeadTransferred(
                    lead_id=lead.lead_id,
                    from_unit=unit,
                    to_unit=to,
                    reason="移交",
                    actor=OFFICE,
                    occurred_at=at + timedelta(minutes=step + 1),
                )
            )
            if rng.random() < 0.4:
                events.append(
                    TransferReturned(
                        lead_id=lead.lead_id,
                        unit=to,
                        to_unit=unit,
                        reason="退回",
                        actor=OFFICE,
                        occurred_at=at + timedelta(minutes=step + 2),
                    )
                )
            else:
                unit = to
    return events


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = sync_engine(database_url)
    try:
        yield made
    finally:
        made.dispose()


def _fed(engine: Engine, streams: dict[str, Sequence[Event]], batch: int) -> None:
    """The events applied by the projection's own tracker, ``batch`` at a time."""
    tracker = Tracker(engine, PROJECTION, owner="test")
    tracker.create_tables(streams)
    create_index(engine)
    assert tracker.acquire_lease()
    for stream, events in streams.items():
        items = [Item(sequence, event) for sequence, event in enumerate(events, start=1)]
        for start in range(0, len(items), batch):
            tracker.apply(stream, items[start : start + batch])


def _counted_over_the_rows(conn: Connection, principal: Principal) -> dict[str, dict[str, int]]:
    """The statistics as they were counted before the counts were kept: grouped over
    every lead the principal may see."""
    month = (
        func.strftime("%Y-%m", leads.c.registered_at, "+8 hours")
        if conn.dialect.name == "sqlite"
        else func.to_char(func.timezone("Asia/Shanghai", leads.c.registered_at), "YYYY-MM")
    )
    by: dict[str, dict[str, int]] = {}
    for name, key in (
        ("village", leads.c.village),
        ("unit", leads.c.unit),
        ("category", leads.c.category),
        ("month", month),
    ):
        found: Counter[str] = Counter()
        rows = conn.execute(
            select(key, func.count()).where(visible_to(principal)).group_by(key)
        ).all()
        for value, number in rows:
            found[value or "-"] += number
        by[name] = dict(sorted(found.items()))
    return by


def _visible(conn: Connection, principal: Principal) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(leads).where(visible_to(principal))
        ).scalar_one()
    )


def test_the_counts_follow_filing_and_handing_on_and_a_rebuild_counts_the_same(
    engine: Engine, tmp_path: Path
) -> None:
    history = _history()
    _fed(engine, {"LEDGER": history}, batch=7)
    now = datetime.now(UTC)
    with engine.connect() as conn:
        live = {p.user: queries.statistics(conn, p) for p in READERS}
        for principal in READERS:
            assert live[principal.user] == _counted_over_the_rows(conn, principal), principal
            total = queries.page_of(conn, principal, Filters(), now, 1, 5).total
            assert total == _visible(conn, principal), principal
        # A unit the leads left still counts them where they were, with none under it now.
        assert live["police"]["unit"].get("shd-police", 0) < sum(live["police"]["unit"].values())
    assert live["custodian"] == {"village": {}, "unit": {}, "category": {}, "month": {}}
    assert {"2025-12", "2026-01"} <= set(live["office"]["month"])

    # Rebuilt from the same events in one batch, in another database: the same counts.
    rebuilt = sync_engine(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    try:
        _fed(rebuilt, {"LEDGER": history}, batch=len(history))
        with rebuilt.connect() as conn:
            assert {p.user: queries.statistics(conn, p) for p in READERS} == live
            assert conn.execute(select(counts)).all()  # kept, not counted on reading
    finally:
        rebuilt.dispose()


def test_a_filtered_list_counts_up_to_its_limit_then_says_at_least(engine: Engine) -> None:
    history = _history(size=30)
    _fed(engine, {"LEDGER": history}, batch=10)
    office, now = READERS[0], datetime.now(UTC)
    handed_on = Filters(status="transferred")
    with engine.connect() as conn:
        every = _visible(conn, office)
        matching = int(
            conn.execute(
                select(func.count()).select_from(leads).where(leads.c.status == "transferred")
            ).scalar_one()
        )
        assert matching > 4, "the history hands more than four leads on"

        unfiltered = queries.page_of(conn, office, Filters(), now, 1, 3, count_limit=2)
        assert (unfiltered.total, unfiltered.exact) == (every, True)  # the kept counts

        bounded = queries.page_of(conn, office, handed_on, now, 1, 2, count_limit=3)
        assert (bounded.total, bounded.exact, len(bounded.rows)) == (3, False, 2)

        further = queries.page_of(conn, office, handed_on, now, 2, 2, count_limit=3)
        assert further.total >= 4
        assert [r["lead_id"] for r in bounded.rows + further.rows] == [
            r["lead_id"] for r in queries.page_of(conn, office, handed_on, now, 1, 4).rows
        ]

        whole = queries.page_of(conn, office, handed_on, now, 1, 2, count_limit=matching)
        assert (whole.total, whole.exact) == (matching, True)
        last = queries.page_of(conn, office, handed_on, now, 1, matching + 5, count_limit=1)
        assert (last.total, last.exact) == (matching, True)  # the last page counts itself
        # Newest first, as the index serves it.
        listed = queries.page_of(conn, office, Filters(), now, 1, every).rows
        order = [(r["registered_at"], r["ledger_number"]) for r in listed]
        assert order == sorted(order, reverse=True)


def test_a_search_reads_newest_first_what_was_reported_before_or_after_filing(
    engine: Engine,
) -> None:
    rng = random.Random(3)
    # All in one village, none routed to the committee: its screener sees them all.
    filed = [
        _registered(n, rng).model_copy(update={"village": "shd-v01", "for_committee": False})
        for n in range(1, 13)
    ]
    # Half the texts were read before the ledger filed their lead, half after.
    before = [_reported(lead.lead_id, f"村口有人放高利贷 {n}") for n, lead in enumerate(filed[:6])]
    after = [_reported(lead.lead_id, f"村口有人放高利贷 {n}") for n, lead in enumerate(filed[6:])]
    _fed(engine, {"INTAKE": before}, batch=4)
    _fed(engine, {"LEDGER": filed}, batch=5)
    _fed(engine, {"INTAKE": [*before, *after]}, batch=4)  # the first six again: skipped
    tracker = Tracker(engine, PROJECTION, owner="test")
    assert tracker.acquire_lease()
    tracker.apply(
        "INTAKE",
        [Item(13, LeadSupplemented(lead_id=filed[0].lead_id, text="补充：债主姓王", actor=OFFICE))],
    )
    now = datetime.now(UTC)
    newest_first = [lead.lead_id for lead in reversed(filed)]
    with engine.connect() as conn:
        for reader in (READERS[0], READERS[2]):  # the whole ledger, and a screener's
            found = queries.page_of(conn, reader, Filters(q="高利贷"), now, 1, 20)
            assert [r["lead_id"] for r in found.rows] == newest_first, reader
            assert (found.total, found.exact) == (12, True)
            bounded = queries.page_of(conn, reader, Filters(q="高利贷"), now, 1, 3, count_limit=5)
            assert [r["lead_id"] for r in bounded.rows] == newest_first[:3]
            assert (bounded.total, bounded.exact) == (5, False)
            second = queries.page_of(conn, reader, Filters(q="高利贷"), now, 2, 3, count_limit=5)
            assert [r["lead_id"] for r in second.rows] == newest_first[3:6]
        supplemented = queries.page_of(conn, READERS[0], Filters(q="债主姓王"), now, 1, 20)
        assert [r["lead_id"] for r in supplemented.rows] == [filed[0].lead_id]
        assert queries.page_of(conn, READERS[3], Filters(q="高利贷"), now, 1, 20).rows == []
        assert queries.page_of(conn, READERS[0], Filters(q="100%"), now, 1, 20).rows == []


def test_version_2_is_built_beside_version_1_and_its_search_index_apart(
    engine: Engine,
) -> None:
    """A database serving version 1 (its tables and, on SQLite, its search index named as
    they were): preparing version 2 records it as building and makes its own tables and
    index, leaving version 1's as they were."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE ledger_leads (lead_id VARCHAR(64) PRIMARY KEY)"))
        conn.execute(
            text(
                "CREATE TABLE ledger_search (lead_id VARCHAR(64) PRIMARY KEY,"
                " doc BIGINT NOT NULL UNIQUE, body TEXT NOT NULL)"
            )
        )
        conn.execute(text("INSERT INTO ledger_leads VALUES ('old')"))
        conn.execute(text("INSERT INTO ledger_search VALUES ('old', 1, '旧版本的线索')"))
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE VIRTUAL TABLE ledger_search_fts USING fts5(body,"
                    " content='ledger_search', content_rowid='doc', tokenize='trigram')"
                )
            )
            conn.execute(
                text("INSERT INTO ledger_search_fts(ledger_search_fts) VALUES ('rebuild')")
            )
        else:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            conn.execute(
                text(
                    "CREATE INDEX ix_ledger_search_trigrams"
                    " ON ledger_search USING gin (body gin_trgm_ops)"
                )
            )
    models = ReadModels(engine, [PROJECTION])
    tracking_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            projection_versions.insert().values(
                projection="ledger",
                version=1,
                state=SERVING,
                tables='["ledger_leads", "ledger_search"]',
                changed_at=0.0,
            )
        )

    assert models.prepare() == {"ledger": BUILDING}
    create_index(engine)

    names = set(inspect(engine).get_table_names())
    assert {"ledger_leads", "ledger_search"} <= names
    assert {t.name for t in PROJECTION.metadata.sorted_tables} <= names
    assert all(t.name.endswith("_v2") for t in PROJECTION.metadata.sorted_tables)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT lead_id FROM ledger_leads")).scalars().all() == ["old"]
        if engine.dialect.name == "sqlite":
            assert FTS == "ledger_search_v2_fts"
            assert FTS in names
            old = conn.execute(
                text(
                    "SELECT rowid FROM ledger_search_fts WHERE ledger_search_fts MATCH '\"旧版本\"'"
                )
            ).all()
            assert old == [(1,)]
        else:
            indexes = {i["name"] for i in inspect(engine).get_indexes("ledger_search")}
            assert "ix_ledger_search_trigrams" in indexes
            assert "ix_ledger_search_v2_trigrams" in {
                i["name"] for i in inspect(engine).get_indexes("ledger_search_v2")
            }
