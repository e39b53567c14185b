"""A case's row is a function of its events, whatever interleaving of the OVERSIGHT and
DIRECTIVES streams is applied: the live consumers read them side by side, a replay one
after the other, and the two must agree."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from common.events import Actor, Event, Role
from common.events.catalogue import (
    CaseOpened,
    DisciplineOutcome,
    EscalatedToHigherLevel,
    SupervisionListed,
    SupervisionOpened,
)
from common.projection import Item, Tracker
from common.subjects import Stream
from common.vocabulary import Conclusion
from oversight.domain.cases import case_id_for
from oversight.projection.projector import PROJECTION
from oversight.projection.tables import cases

pytestmark = pytest.mark.integration

COMMITTEE = Actor(role=Role.DISCIPLINE, unit="shd-discipline", user="discipline")
LEAD = "a" * 32
CASE = case_id_for(LEAD)
T0 = datetime(2026, 3, 1, 2, tzinfo=UTC)


def at(minutes: int) -> dict[str, Any]:
    return {"occurred_at": T0 + timedelta(minutes=minutes), "actor": COMMITTEE}


OVERSIGHT_EVENTS: list[Event] = [
    CaseOpened(lead_id=LEAD, case_id=CASE, basis="涉及公职人员", umbrella=True, **at(0)),
    SupervisionOpened(lead_id=LEAD, case_id=CASE, reason="逾期未办结", **at(30)),
    EscalatedToHigherLevel(
        lead_id=LEAD, case_id=CASE, to_unit="county", reason="案情重大", **at(50)
    ),
]
DIRECTIVE_EVENTS: list[Event] = [
    SupervisionListed(lead_id=LEAD, unit="shd-police", deadline=T0 + timedelta(days=9), **at(10)),
    DisciplineOutcome(lead_id=LEAD, result=Conclusion.SUBSTANTIATED, **at(40)),
]


def interleavings(first: list[Event], second: list[Event]) -> list[list[tuple[str, Event]]]:
    """Every merge of the two streams that keeps each stream's own order."""
    n = len(first) + len(second)
    merged = []
    for slots in itertools.combinations(range(n), len(first)):
        a, b = iter(first), iter(second)
        merged.append(
            [
                (Stream.OVERSIGHT.value, next(a))
                if i in slots
                else (Stream.DIRECTIVES.value, next(b))
                for i in range(n)
            ]
        )
    return merged


def case_row(tmp_path: Path, order: list[tuple[str, Event]], name: str) -> dict[str, Any]:
    engine = create_engine(f"sqlite:///{tmp_path / f'{name}.db'}")
    tracker = Tracker(engine, PROJECTION, owner="test")
    tracker.create_tables([Stream.OVERSIGHT.value, Stream.DIRECTIVES.value])
    assert tracker.acquire_lease()
    sequences = {Stream.OVERSIGHT.value: 0, Stream.DIRECTIVES.value: 0}
    for stream, event in order:
        sequences[stream] += 1
        tracker.apply(stream, [Item(sequences[stream], event)])
    with engine.connect() as conn:
        row = dict(conn.execute(select(cases)).one()._mapping)
    engine.dispose()
    return row


def test_every_interleaving_of_the_two_streams_gives_the_same_case(tmp_path: Path) -> None:
    orders = interleavings(OVERSIGHT_EVENTS, DIRECTIVE_EVENTS)
    assert len(orders) == 10
    rows = [case_row(tmp_path, order, f"order{n}") for n, order in enumerate(orders)]
    assert rows[0]["status"] == "closed"
    assert rows[0]["outcome"] == Conclusion.SUBSTANTIATED.value
    assert rows[0]["escalated"] is True
    for n, row in enumerate(rows[1:], start=1):
        assert row == rows[0], f"interleaving {n} disagrees: {orders[n]}"


def test_an_outcome_then_a_supervision_leaves_the_case_closed(tmp_path: Path) -> None:
    opened, supervision = OVERSIGHT_EVENTS[0], OVERSIGHT_EVENTS[1]
    outcome = DIRECTIVE_EVENTS[1]
    live = case_row(
        tmp_path,
        [("OVERSIGHT", opened), ("DIRECTIVES", outcome), ("OVERSIGHT", supervision)],
        "live",
    )
    replayed = case_row(
        tmp_path,
        [("OVERSIGHT", opened), ("OVERSIGHT", supervision), ("DIRECTIVES", outcome)],
        "replayed",
    )
    assert live["status"] == replayed["status"] == "closed"
