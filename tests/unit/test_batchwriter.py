"""A projection batch's reads and writes: one write per row, and a cache that saves SELECTs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    text,
)

from common.batchwriter import BatchWriter, RowCache
from common.database import UtcDateTime

metadata = MetaData()

leads = Table(
    "leads",
    metadata,
    Column("lead_id", String, primary_key=True),
    Column("status", String, nullable=False),
    Column("touches", Integer, nullable=False),
)
history = Table(
    "history",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("lead_id", String, nullable=False),
    Column("what", String, nullable=False),
)
assignments = Table(
    "assignments",
    metadata,
    Column("lead_id", String, primary_key=True),
    Column("unit", String, primary_key=True),
    Column("assignee", String, nullable=False),
)
moments = Table(
    "moments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True)),
)
moments_utc = Table(
    "moments_utc",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime),
)
links = Table(
    "links",
    metadata,
    Column("lead_id", String, primary_key=True),
    Column("other_id", String, primary_key=True),
)


_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK"}


class StatementLog:
    """Every SQL statement SQLite runs, as its trace callback reports them (the batch writer
    reads rows on the driver's own cursor, which SQLAlchemy's events do not see), but for
    the transaction's own BEGIN and COMMIT."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, statement: str) -> None:
        if statement.split(maxsplit=1)[0].upper() not in _TRANSACTION_CONTROL:
            self.statements.append(statement)

    @property
    def selects(self) -> int:
        return sum(1 for s in self.statements if s.lstrip().upper().startswith("SELECT"))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'projection.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sql(engine: Engine) -> Iterator[StatementLog]:
    log = StatementLog()

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(log)

    engine.dispose()  # every connection from now on is traced
    event.listen(engine, "connect", trace)
    yield log
    event.remove(engine, "connect", trace)


def _rows(conn: Connection, table: Table) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(select(table).order_by(*table.c))]


def test_a_missing_row_is_none_and_remembered_as_absent(engine: Engine, sql: StatementLog) -> None:
    with engine.begin() as conn:
        writer = BatchWriter(conn, RowCache())
        assert writer.get(leads, "lead-1") is None
        assert writer.get(leads, "lead-1") is None
    assert sql.selects == 1


def test_an_existing_row_is_read_once_and_then_served_from_the_cache(
    engine: Engine, sql: StatementLog
) -> None:
    with engine.begin() as conn:
        conn.execute(leads.insert(), {"lead_id": "lead-1", "status": "registered", "touches": 1})
    with engine.begin() as conn:
        writer = BatchWriter(conn, RowCache())
        first = writer.get(leads, "lead-1")
        second = writer.get(leads, "lead-1")
    assert first == {"lead_id": "lead-1", "status": "registered", "touches": 1}
    assert second == first
    assert sql.selects == 1


def test_a_row_put_twice_in_a_batch_is_written_once_with_the_last_values(
    engine: Engine, sql: StatementLog
) -> None:
    with engine.begin() as conn:
        writer = BatchWriter(conn, RowCache())
        writer.put(leads, {"lead_id": "lead-1", "status": "registered", "touches": 1})
        writer.put(leads, {"lead_id": "lead-1", "status": "assigned", "touches": 2})
        assert sql.statements == []  # nothing is written before the flush
        writer.flush()
        assert len(sql.statements) == 1
        assert _rows(conn, leads) == [{"lead_id": "lead-1", "status": "assigned", "touches": 2}]


def test_a_put_replaces_a_row_written_by_an_earlier_batch(engine: Engine) -> None:
    cache = RowCache()
    with engine.begin() as conn:
        writer = BatchWriter(conn, cache)
        writer.put(leads, {"lead_id": "lead-1", "status": "registered", "touches": 1})
        writer.flush()
    with engine.begin() as conn:
        writer = BatchWriter(conn, cache)
        row = writer.get(leads, "lead-1")
        assert row is not None
        writer.put(leads, {**row, "status": "concluded", "touches": 2})
        writer.flush()
        assert _rows(conn, leads) == [{"lead_id": "lead-1", "status": "concluded", "touches": 2}]


def test_added_rows_are_appended_in_the_order_they_were_added(engine: Engine) -> None:
    with engine.begin() as conn:
        writer = BatchWriter(conn, RowCache())
        for what in ("reported", "registered", "transferred"):
            writer.add(history, {"lead_id": "lead-1", "what": what})
        writer.flush()
        assert [row["what"] for row in _rows(conn, history)] == [
            "reported",
            "registered",
            "transferred",
        ]


def test_a_flush_with_nothing_pending_writes_nothing(engine: Engine, sql: StatementLog) -> None:
    with engine.begin() as conn:
        BatchWriter(conn, RowCache()).flush()
    assert sql.statements == []


def test_rows_put_in_one_batch_are_read_from_the_cache_in_the_next_without_a_select(
    engine: Engine, sql: StatementLog
) -> None:
    cache = RowCache()
    with engine.begin() as conn:
        writer = BatchWriter(conn, cache)
        writer.put(leads, {"lead_id": "lead-1", "status": "registered", "touches": 1})
        writer.flush()
    with engine.begin() as conn:
        row = BatchWriter(conn, cache).get(leads, "lead-1")
    assert row == {"lead_id": "lead-1", "status": "registered", "touches": 1}
    assert sql.selects == 0


def test_execute_writes_what_is_pending_before_running_the_statement(engine: Engine) -> None:
    with engine.begin() as conn:
        writer = BatchWriter(conn, RowCache())
        writer.put(leads, {"lead_id": "lead-1", "status": "registered", "touches": 1})
        found = writer.execute(select(leads.c.status).where(leads.c.lead_id == "lead-1"))
        assert found.scalar_one() == "registered"


def test_a_composite_key_row_is_read_and_written_by_all_its_key_columns(
    engine: Engine, sql: StatementLog
) -> None:
    cache = RowCache()
    with engine.begin() as conn:
        writer = BatchWriter(conn, cache)
        writer.put(assignments, {"lead_id": "lead-1", "unit": "shd-police", "assignee": "li"})
        writer.put(assignments, {"lead_id": "lead-1", "unit": "shd-office", "assignee": "wang"})
        writer.put(assignments, {"lead_id": "lead-1", "unit": "shd-police", "assignee": "zhao"})
        writer.flush()
        assert _rows(conn, assignments) == [
            {"lead_id": "lead-1", "unit": "shd-office", "assignee": "wang"},
            {"lead_id": "lead-1", "unit": "shd-police", "assignee": "zhao"},
        ]
    sql.statements.clear()
    with engine.begin() as conn:
        writer = BatchWriter(conn, RowCache())  # a cold cache: read from the table
        assert writer.get(assignments, "lead-1", "shd-police") == {
            "lead_id": "lead-1",
            "unit": "shd-police",
            "assignee": "zhao",
        }
        assert writer.get(assignments, "lead-1", "shd-judicial") is None
    assert sql.selects == 2


def test_a_table_of_key_columns_only_is_upserted_again_without_error(engine: Engine) -> None:
    cache = RowCache()
    for _ in range(2):
        with engine.begin() as conn:
            writer = BatchWriter(conn, cache)
            writer.put(links, {"lead_id": "lead-1", "other_id": "lead-0"})
            writer.put(links, {"lead_id": "lead-1", "other_id": "lead-0"})
            writer.flush()
    with engine.connect() as conn:
        assert _rows(conn, links) == [{"lead_id": "lead-1", "other_id": "lead-0"}]


def test_the_row_cache_drops_the_rows_used_longest_ago_beyond_its_capacity() -> None:
    cache = RowCache(capacity=4)
    cache.put(leads, ("a",), {"lead_id": "a"})
    cache.put(leads, ("b",), {"lead_id": "b"})
    assert cache.get(leads, ("a",)) == {"lead_id": "a"}  # now "b" is the least recent
    cache.put(leads, ("c",), {"lead_id": "c"})
    cache.put(leads, ("d",), {"lead_id": "d"})
    assert cache.get(leads, ("b",)) is None
    # The last half of its capacity used is always kept.
    assert cache.get(leads, ("d",)) == {"lead_id": "d"}
    assert cache.get(leads, ("c",)) == {"lead_id": "c"}


def test_the_row_cache_reads_the_latest_row_put() -> None:
    cache = RowCache(capacity=4)
    cache.put(leads, ("a",), {"lead_id": "a", "status": "old"})
    cache.put(leads, ("b",), {"lead_id": "b"})  # "a" is in the older generation now
    cache.put(leads, ("a",), {"lead_id": "a", "status": "new"})
    assert cache.get(leads, ("a",)) == {"lead_id": "a", "status": "new"}
    cache.put(leads, ("c",), {"lead_id": "c"})
    assert cache.get(leads, ("a",)) == {"lead_id": "a", "status": "new"}


def test_a_row_put_in_the_batch_and_dropped_from_the_cache_is_read_as_put(
    engine: Engine, sql: StatementLog
) -> None:
    cache = RowCache(capacity=2)
    with engine.begin() as conn:
        writer = BatchWriter(conn, cache)
        writer.put(leads, {"lead_id": "lead-1", "status": "new", "touches": 1})
        for other in range(4):  # the cache holds two rows: lead-1 is dropped
            writer.put(leads, {"lead_id": f"lead-{other + 2}", "status": "new", "touches": 1})
        row = writer.get(leads, "lead-1")
        assert row == {"lead_id": "lead-1", "status": "new", "touches": 1}
        assert sql.selects == 0  # not read from the table, which does not have it yet
        row["touches"] += 1
        writer.put(leads, row)
        writer.flush()
    with engine.connect() as conn:
        assert _rows(conn, leads)[0] == {"lead_id": "lead-1", "status": "new", "touches": 2}


def test_a_row_is_read_back_as_sqlalchemy_reads_it(engine: Engine) -> None:
    moment = datetime(2027, 1, 31, 18, 0, tzinfo=timezone(timedelta(hours=8)))
    with engine.begin() as conn:
        conn.execute(insert(moments_utc).values(id=1, at=moment))
        conn.execute(insert(assignments).values(lead_id="x", unit="police", assignee="wang"))
        expected = dict(conn.execute(select(moments_utc)).one()._mapping)
        writer = BatchWriter(conn, RowCache())
        assert writer.get(moments_utc, 1) == expected
        assert writer.get(moments_utc, 1)["at"] == moment
        assert writer.get(assignments, "x", "police") == {
            "lead_id": "x",
            "unit": "police",
            "assignee": "wang",
        }
        assert writer.get(assignments, "police", "x") is None


def test_the_row_cache_keeps_tables_apart() -> None:
    cache = RowCache()
    cache.put(leads, ("x",), {"lead_id": "x"})
    assert cache.get(links, ("x",)) is None


def test_a_cleared_row_cache_reads_from_the_table_again(engine: Engine, sql: StatementLog) -> None:
    cache = RowCache()
    with engine.begin() as conn:
        writer = BatchWriter(conn, cache)
        assert writer.get(leads, "lead-1") is None
        cache.clear()
        assert writer.get(leads, "lead-1") is None
    assert sql.selects == 2


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 1, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 1, 8, 30, 0, 123456, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=8))),
        datetime(2026, 3, 1, 8, 30),
        date(2026, 3, 1),
    ],
)
def test_a_timestamp_is_stored_as_sqlalchemy_itself_stores_it(engine: Engine, moment: date) -> None:
    with engine.begin() as conn:
        conn.execute(insert(moments).values(id=1, at=moment))
        writer = BatchWriter(conn, RowCache())
        writer.put(moments, {"id": 2, "at": moment})
        writer.flush()
        stored = conn.execute(text("SELECT at FROM moments ORDER BY id")).scalars().all()
    assert stored[0] == stored[1]


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2027, 1, 31, 18, 0, tzinfo=timezone(timedelta(hours=8))),
        datetime(2027, 1, 31, 10, 0, 0, 1, tzinfo=UTC),
    ],
)
def test_a_moment_is_stored_in_utc_and_read_back_with_its_zone(
    engine: Engine, moment: datetime
) -> None:
    with engine.begin() as conn:
        conn.execute(insert(moments_utc).values(id=1, at=moment))
        writer = BatchWriter(conn, RowCache())
        writer.put(moments_utc, {"id": 2, "at": moment})
        writer.flush()
        stored = conn.execute(text("SELECT at FROM moments_utc ORDER BY id")).scalars().all()
        read = conn.execute(select(moments_utc.c.at).order_by(moments_utc.c.id)).scalars().all()
    assert stored[0] == stored[1]
    assert read == [moment, moment]
    assert all(r.utcoffset() == timedelta(0) for r in read)
