"""The tracker's bookkeeping statements, built once per tracker, keep each projection's and
each stream's position apart and check the lease in the transaction that commits a batch."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table

from common.database import sync_engine
from common.projection import (
    Item,
    LeaseLost,
    Projection,
    SequenceGap,
    Tracker,
    projection_positions,
)


def _projection(name: str) -> Projection:
    metadata = MetaData()
    Table(f"{name}_rows", metadata, Column("id", Integer, primary_key=True))
    return Projection(name, metadata)


def _items(*sequences: int) -> list[Item]:
    return [Item(sequence, None) for sequence in sequences]


def test_each_projection_and_each_stream_keeps_its_own_position(database_url: str) -> None:
    engine = sync_engine(database_url)
    first = Tracker(engine, _projection("first"), "owner-a")
    second = Tracker(engine, _projection("second"), "owner-a")
    for tracker in (first, second):
        tracker.create_tables(["A", "B"])
        assert tracker.acquire_lease()
    first.apply("A", _items(1, 2, 3), contiguous=True)
    first.apply("B", _items(1), contiguous=True)
    second.apply("A", _items(1, 2), contiguous=True)
    first.apply("A", _items(3, 4), contiguous=True)  # 3 again: skipped, 4 follows
    assert [first.position("A"), first.position("B")] == [4, 1]
    assert [second.position("A"), second.position("B")] == [2, 0]
    with engine.connect() as conn:
        stored = conn.execute(projection_positions.select()).all()
    assert len(stored) == 4
    engine.dispose()


def test_a_batch_that_skips_a_sequence_commits_nothing(database_url: str) -> None:
    engine = sync_engine(database_url)
    tracker = Tracker(engine, _projection("gapped"), "owner-a")
    tracker.create_tables(["A"])
    assert tracker.acquire_lease()
    tracker.apply("A", _items(1, 2), contiguous=True)
    with pytest.raises(SequenceGap):
        tracker.apply("A", _items(4, 5), contiguous=True)
    assert tracker.position("A") == 2
    engine.dispose()


def test_a_batch_after_another_owner_took_the_lapsed_lease_is_refused(
    database_url: str,
) -> None:
    engine = sync_engine(database_url)
    holder = Tracker(engine, _projection("leased"), "owner-a", lease_seconds=15.0)
    other = Tracker(engine, _projection("leased"), "owner-b", lease_seconds=15.0)
    holder.create_tables(["A"])
    assert holder.acquire_lease(now=1_000.0)
    assert not other.acquire_lease(now=1_010.0)  # still held
    assert other.lease_left(now=1_010.0) == pytest.approx(5.0)
    holder.apply("A", _items(1), contiguous=True)  # renews it from the real clock
    assert other.acquire_lease(now=10**12)  # long after: lapsed, taken
    with pytest.raises(LeaseLost):
        holder.apply("A", _items(2), contiguous=True)
    assert holder.position("A") == 1
    other.apply("A", _items(2), contiguous=True)
    other.release_lease()
    assert holder.lease_left() == 0.0
    assert holder.acquire_lease()
    engine.dispose()
