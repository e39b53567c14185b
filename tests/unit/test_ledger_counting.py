"""What the ledger's projection folds over a batch: the month a lead counts in, and its
search text numbered when it is filed, whichever of the two came first and in which batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from common.database import sync_engine
from common.events import Actor, Event, Role
from common.events.catalogue import (
    LeadRegistered,
    LeadReported,
    LeadSupplemented,
    ReporterKind,
    ReporterRef,
)
from common.projection import Item, Tracker
from common.vocabulary import Category, Channel
from ledger.projection.counting import month_of
from ledger.projection.projector import ledger_projection
from ledger.projection.search import doc_number
from ledger.projection.tables import search_texts

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
CHINA = ZoneInfo("Asia/Shanghai")


def test_month_of_follows_the_zone_across_month_ends() -> None:
    moments = [
        datetime(2025, 12, 31, 15, 59, 59, 999999, tzinfo=UTC),
        datetime(2025, 12, 31, 16, 0, tzinfo=UTC),
        datetime(1988, 4, 30, 15, 30, tzinfo=UTC),  # China kept summer time then
        datetime(1988, 8, 31, 15, 30, tzinfo=UTC),
        datetime(2026, 2, 28, 16, 0, tzinfo=timezone(timedelta(hours=-5))),
    ]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    moments += [start + timedelta(minutes=97 * n) for n in range(12_000)]
    for moment in moments:
        assert month_of(moment) == moment.astimezone(CHINA).strftime("%Y-%m"), moment
    # A naive time is UTC, as the database stores it.
    assert month_of(datetime(2025, 12, 31, 16, 0)) == "2026-01"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = sync_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        yield made
    finally:
        made.dispose()


def _registered(lead_id: str, n: int) -> LeadRegistered:
    return LeadRegistered(
        lead_id=lead_id,
        ledger_number=f"SHD-2026-{n:06d}",
        unit="shd-office",
        reported_at=datetime(2026, 1, 5, tzinfo=UTC),
        channel=Channel.HOTLINE,
        category=Category.VILLAGE_TYRANT,
        summary="村口",
        village="shd-v01",
        for_committee=False,
        actor=OFFICE,
        occurred_at=datetime(2026, 1, 5, 8, n, tzinfo=UTC),
    )


def _reported(lead_id: str) -> LeadReported:
    return LeadReported(
        lead_id=lead_id,
        channel=Channel.HOTLINE,
        category=Category.VILLAGE_TYRANT,
        summary=f"{lead_id} 放高利贷",
        reporter=ReporterRef(kind=ReporterKind.ANONYMOUS),
        actor=OFFICE,
    )


def _supplemented(lead_id: str) -> LeadSupplemented:
    return LeadSupplemented(lead_id=lead_id, text="又来了", actor=OFFICE)


def _fed(tracker: Tracker, batches: Sequence[Sequence[Event]]) -> None:
    sequence = 0
    for batch in batches:
        items = []
        for event in batch:
            sequence += 1
            items.append(Item(sequence, event))
        tracker.apply("INTAKE", items)


def test_a_text_is_numbered_when_its_lead_is_filed_in_any_order(engine: Engine) -> None:
    tracker = Tracker(engine, ledger_projection(), owner="test")
    tracker.create_tables(["INTAKE"])
    assert tracker.acquire_lease()
    filed = {lead: _registered(lead, n) for n, lead in enumerate("abcde", start=1)}
    _fed(
        tracker,
        [
            [_reported("c"), _reported("d")],  # a batch before their filing
            [
                _reported("a"),  # the same batch, before
                filed["a"],
                filed["b"],
                _reported("b"),  # the same batch, after
                filed["c"],
                filed["d"],
                _supplemented("d"),  # grown in the batch of its filing
                filed["e"],  # never reported
            ],
        ],
    )
    with engine.connect() as conn:
        texts = {
            row.lead_id: (row.doc, row.body)
            for row in conn.execute(
                select(search_texts.c.lead_id, search_texts.c.doc, search_texts.c.body)
            )
        }
    numbers = {lead: doc_number(e.occurred_at, e.ledger_number) for lead, e in filed.items()}
    assert texts == {
        "a": (numbers["a"], "a 放高利贷"),
        "b": (numbers["b"], "b 放高利贷"),
        "c": (numbers["c"], "c 放高利贷"),
        "d": (numbers["d"], "d 放高利贷\n又来了"),
    }
