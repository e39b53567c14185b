"""The write side of a projection batch: rows folded in memory, written once per batch.

Handlers read and change rows through a :class:`BatchWriter`; at the end of the batch the
changed rows are upserted and the appended rows inserted, one ``executemany`` per table,
in the batch's transaction. A row touched by twenty events in a batch is written once.

The projector is the only writer of its tables (the position lease sees to that), so the
rows it has read or written stay valid across batches: :class:`RowCache` keeps them, and
is emptied whenever a transaction fails or the lease changes hands.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Dialect,
    Executable,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import DATETIME as SQLiteDateTime
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.expression import ClauseElement

from common.database import UtcDateTime
from common.events import Event, decode

Row = dict[str, Any]
Key = tuple[Any, ...]

_ABSENT: Final = object()


class RowCache:
    """Rows by (table, primary key), those not used for longest dropped first.

    Two generations instead of an exact LRU list: a row is looked up in the recent one,
    then in the older one (and moved back to the recent one); when the recent one holds
    half the capacity, it becomes the older one and the older one is dropped. A look-up is
    then a dict look-up, where keeping an ``OrderedDict`` in order cost a ``move_to_end``
    at every get and put (a rebuild makes some 5 of each per event). A lead's events come
    close together in the log, so the leads in flight stay in the recent generation."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._recent: dict[tuple[str, Key], Row | object] = {}
        self._older: dict[tuple[str, Key], Row | object] = {}
        self.capacity = capacity

    @property
    def capacity(self) -> int:
        return self._capacity

    @capacity.setter
    def capacity(self, rows: int) -> None:
        self._capacity = rows
        self._generation = max(rows // 2, 1)

    def get(self, table: Table, key: Key) -> Row | object | None:
        """The cached row, ``_ABSENT`` if known not to exist, None if not cached."""
        entry_key = (table.name, key)
        entry = self._recent.get(entry_key)
        if entry is None:
            entry = self._older.pop(entry_key, None)
            if entry is not None:
                self.put(table, key, entry)
        return entry

    def put(self, table: Table, key: Key, row: Row | object) -> None:
        recent = self._recent
        recent[table.name, key] = row
        if len(recent) >= self._generation:
            # A stale copy of a row in the older generation goes with it: the recent one
            # is looked in first, so it was never read.
            self._older = recent
            self._recent = {}

    def clear(self) -> None:
        self._recent.clear()
        self._older.clear()


# The primary key of a row, by table: looked up for every row put, so a plain dict of
# functions made once (``itemgetter`` returns the tuple itself for two columns or more).
_KEY_OF: dict[Table, Callable[[Mapping[str, Any]], Key]] = {}


def _key_of(table: Table, row: Mapping[str, Any]) -> Key:
    key_of = _KEY_OF.get(table)
    if key_of is None:
        names = [column.name for column in table.primary_key.columns]
        if len(names) == 1:
            name = names[0]
            key_of = _KEY_OF[table] = lambda row: (row[name],)
        else:
            key_of = _KEY_OF[table] = operator.itemgetter(*names)
    return key_of(row)


deferred_metadata: Final = MetaData()

# Events a handler could not apply yet because what they change does not exist yet: they
# arrived on another stream before the event that creates it (streams are read side by
# side). Applied when it is created.
deferred_events: Final = Table(
    "projection_deferred",
    deferred_metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("projection", String(100), nullable=False),
    Column("key", String(200), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_projection_deferred_key", "projection", "key"),
)


class BatchWriter:
    """One batch's reads and writes against a connection, through the cache."""

    def __init__(self, conn: Connection, cache: RowCache, projection: str = "") -> None:
        self.conn = conn
        self._cache = cache
        self._projection = projection
        self._stored_deferrals: bool | None = None
        self._dirty: dict[str, dict[Key, Row]] = {}
        self._tables: dict[str, Table] = {}
        self._appended: dict[str, list[Row]] = {}
        self._folds: dict[
            str, tuple[dict[Any, Any], Callable[[BatchWriter, dict[Any, Any]], None]]
        ] = {}

    def get(self, table: Table, *key: Any) -> Row | None:
        """The row with this primary key, or None. Change it in place, then ``put`` it."""
        cached = self._cache.get(table, key)
        if cached is not None:
            return None if cached is _ABSENT else cached  # type: ignore[return-value]
        # Put in this batch, then dropped from the cache: the table does not have it yet.
        dirty = self._dirty.get(table.name)
        row = dirty.get(key) if dirty is not None else None
        if row is None:
            row = _lookup(self.conn.dialect, table).row(self.conn, key)
        self._cache.put(table, key, row if row is not None else _ABSENT)
        return row

    def put(self, table: Table, row: Row) -> None:
        """Insert or replace a whole row (written at the end of the batch)."""
        key_of = _KEY_OF.get(table)
        key = key_of(row) if key_of is not None else _key_of(table, row)
        self._cache.put(table, key, row)
        dirty = self._dirty.get(table.name)
        if dirty is None:
            dirty = self._dirty[table.name] = {}
            self._tables[table.name] = table
        dirty[key] = row

    def add(self, table: Table, row: Row) -> None:
        """Append a row to an insert-only table (history, logs)."""
        self._appended.setdefault(table.name, []).append(row)
        self._tables[table.name] = table

    def folded(
        self, name: str, apply: Callable[[BatchWriter, dict[Any, Any]], None]
    ) -> dict[Any, Any]:
        """A dict the handlers fold changes into over the batch (a count moved by many
        events), handed to ``apply`` before the rows are written (at the batch's end, or
        before a statement that must see them), so that a row a hundred events change is
        read and put once. ``apply`` gets and puts rows; it does not fold."""
        fold = self._folds.get(name)
        if fold is None:
            fold = self._folds[name] = ({}, apply)
        return fold[0]

    def defer(self, key: str, event: Event) -> None:
        """Keep an event until what it changes (named by ``key``) exists."""
        self.add(
            deferred_events,
            {
                "projection": self._projection,
                "key": key,
                "event_type": event.event_type,
                "data": event.model_dump_json(),
            },
        )

    def change_or_defer(
        self, table: Table, key: Any, event: Event, change: Callable[[Row], None], *, wait_for: str
    ) -> bool:
        """Change the row ``key`` of ``table`` with ``change``, or, when it does not exist
        yet, keep ``event`` until the row named ``wait_for`` is created (streams are read
        side by side: news of a lead can come before the lead). True when changed."""
        row = self.get(table, key)
        if row is None:
            self.defer(wait_for, event)
            return False
        change(row)
        self.put(table, row)
        return True

    def release_deferred(self, key: str, apply: Callable[[Event], None]) -> None:
        """Apply the events that waited for ``key``, now that its row exists."""
        for waiting in self.take_deferred(key):
            apply(waiting)

    def take_deferred(self, key: str) -> list[Event]:
        """The events deferred for ``key``, in the order they came; they are forgotten.

        Called for every new row, so it must cost nothing in the usual case: one look per
        batch whether anything is deferred at all, and no flush."""
        found: list[tuple[str, str]] = []
        if self._anything_deferred():
            where = (deferred_events.c.projection == self._projection) & (
                deferred_events.c.key == key
            )
            rows = self.conn.execute(
                select(deferred_events.c.event_type, deferred_events.c.data)
                .where(where)
                .order_by(deferred_events.c.id)
            ).all()
            if rows:
                self.conn.execute(delete(deferred_events).where(where))
                found.extend((row.event_type, row.data) for row in rows)
        pending = self._appended.get(deferred_events.name, [])
        if pending:
            found.extend((r["event_type"], r["data"]) for r in pending if r["key"] == key)
            pending[:] = [r for r in pending if r["key"] != key]
        return [decode(data.encode(), event_type) for event_type, data in found]

    def _anything_deferred(self) -> bool:
        if self._stored_deferrals is None:
            self._stored_deferrals = (
                self.conn.execute(
                    select(deferred_events.c.id)
                    .where(deferred_events.c.projection == self._projection)
                    .limit(1)
                ).first()
                is not None
            )
        return self._stored_deferrals

    def execute(
        self, statement: Executable, params: Sequence[Mapping[str, Any]] | None = None
    ) -> Any:
        """Run any other statement after writing what is pending, so it sees it."""
        self.flush()
        return self.conn.execute(statement, params) if params else self.conn.execute(statement)

    def flush(self) -> None:
        for values, apply in self._folds.values():
            if values:
                folded = values.copy()
                values.clear()
                apply(self, folded)
        dialect = self.conn.dialect
        for name, rows in self._dirty.items():
            if rows:
                _compiled(dialect, self._tables[name], upsert=True).run(self.conn, rows.values())
        for name, appended in self._appended.items():
            if appended:
                _compiled(dialect, self._tables[name], upsert=False).run(self.conn, appended)
        self._dirty.clear()
        self._appended.clear()


class _Compiled:
    """A statement compiled once for a dialect, run with ``executemany`` on the driver.

    SQLAlchemy's per-row parameter handling costs more than SQLite's own work on a batch;
    here each column's bind processor is looked up once and applied directly."""

    def __init__(self, dialect: Dialect, table: Table, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        positional = bool(getattr(compiled, "positional", False))
        names = (
            (getattr(compiled, "positiontup", None) or []) if positional else list(compiled.params)
        )
        by_name = {column.name: column for column in table.columns}
        self.names = [name for name in names if name in by_name]
        self.values_of = operator.itemgetter(*self.names)
        # The dialect's own implementation of each type (SQLite stores datetimes its way).
        implementations = [by_name[name].type.dialect_impl(dialect) for name in self.names]
        processors = [impl.bind_processor(dialect) for impl in implementations]
        self.positional = positional
        # Most columns need no conversion: only those that do are converted, a column at a
        # time (map runs the loop in C), NULL staying NULL.
        self.converted: list[tuple[int, Callable[[Any], Any]]] = [
            (
                index,
                _faster_sqlite_datetime(process, to_utc=isinstance(impl, UtcDateTime))
                if _is_default_sqlite_datetime(impl)
                else _none_passed(process),
            )
            for index, (impl, process) in enumerate(zip(implementations, processors, strict=True))
            if process is not None
        ]

    def run(self, conn: Connection, rows: Iterable[Row]) -> None:
        names, values_of = self.names, self.values_of
        rows = list(rows)
        if len(names) == 1:
            values: list[Any] = [(row.get(names[0]),) for row in rows]
        else:
            try:
                values = list(map(values_of, rows))
            except KeyError:  # a row without some columns: they are NULL
                values = [tuple(row.get(name) for name in names) for row in rows]
        if self.converted and values:
            columns: list[Any] = list(zip(*values, strict=True))
            for index, process in self.converted:
                columns[index] = map(process, columns[index])
            values = list(zip(*columns, strict=True))
        params = values if self.positional else [dict(zip(names, v, strict=True)) for v in values]
        conn.exec_driver_sql(self.sql, params)


class _Lookup:
    """The SELECT of one row by its primary key, compiled once for a dialect, run on the
    driver's cursor and its values converted as SQLAlchemy would: through
    ``Connection.execute`` one such SELECT cost ten times SQLite's own work (a rebuild
    looks up every new lead's search text, one SELECT for every nine events)."""

    def __init__(self, dialect: Dialect, table: Table) -> None:
        self.table = table
        keys = list(table.primary_key.columns)
        statement = select(table).where(
            *(column == bindparam(f"key_{i}") for i, column in enumerate(keys))
        )
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = bool(getattr(compiled, "positional", False))
        order = (getattr(compiled, "positiontup", None) or []) if self.positional else []
        # Where each bound parameter's value is in the key (the compiler may reorder them).
        self.key_at = [int(name.removeprefix("key_")) for name in order]
        self.names = [column.name for column in table.columns]
        self.converted = [
            (i, process)
            for i, column in enumerate(table.columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None
        ]
        self.driver_error: type[Exception] = dialect.loaded_dbapi.Error

    def row(self, conn: Connection, key: Key) -> Row | None:
        params: Any = (
            tuple(key[at] for at in self.key_at)
            if self.positional
            else {f"key_{i}": value for i, value in enumerate(key)}
        )
        try:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(self.sql, params)
                found = cursor.fetchone()
            finally:
                cursor.close()
        except self.driver_error:
            # Again through SQLAlchemy, which raises its own error (DBAPIError, what the
            # projection runner handles) and invalidates a connection that was lost.
            return self._through_sqlalchemy(conn, key)
        if found is None:
            return None
        values = list(found)
        for index, process in self.converted:
            values[index] = process(values[index])
        return dict(zip(self.names, values, strict=True))

    def _through_sqlalchemy(self, conn: Connection, key: Key) -> Row | None:
        columns = list(self.table.primary_key.columns)
        found = conn.execute(
            select(self.table).where(*(c == v for c, v in zip(columns, key, strict=True)))
        ).first()
        return dict(found._mapping) if found is not None else None


@functools.cache
def _lookup(dialect: Dialect, table: Table) -> _Lookup:
    return _Lookup(dialect, table)


def _is_default_sqlite_datetime(implementation: Any) -> bool:
    if isinstance(implementation, UtcDateTime):
        implementation = implementation.impl_instance
    return (
        isinstance(implementation, SQLiteDateTime)
        and implementation._storage_format == SQLiteDateTime._storage_format
    )


# Two and three digits, zero-padded, looked up rather than formatted.
_TWO_DIGITS: Final = tuple(f"{n:02d}" for n in range(100))
_THREE_DIGITS: Final = tuple(f"{n:03d}" for n in range(1000))


def _faster_sqlite_datetime(original: Callable[[Any], Any], to_utc: bool) -> Callable[[Any], Any]:
    """SQLAlchemy's SQLite DATETIME text (``YYYY-MM-DD HH:MM:SS.ffffff``; like SQLAlchemy,
    the zone is left out), joined from looked-up digits: a format of seven numbers cost
    about twice as much (a rebuild writes some 0.9 timestamps an event)."""
    two, three = _TWO_DIGITS, _THREE_DIGITS

    def process(value: Any) -> Any:
        if type(value) is not datetime:
            return None if value is None else original(value)
        if to_utc and value.tzinfo is not None and value.utcoffset():
            value = value.astimezone(UTC)  # what UtcDateTime does
        year, micro = value.year, value.microsecond
        return "".join(
            (
                str(year) if year >= 1000 else f"{year:04d}",
                "-",
                two[value.month],
                "-",
                two[value.day],
                " ",
                two[value.hour],
                ":",
                two[value.minute],
                ":",
                two[value.second],
                ".",
                three[micro // 1000],
                three[micro % 1000],
            )
        )

    return process


def _none_passed(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A bind processor given NULLs: they stay NULL, as when they were skipped."""

    def passing(value: Any) -> Any:
        return None if value is None else process(value)

    return passing


@functools.cache
def _compiled(dialect: Dialect, table: Table, *, upsert: bool) -> _Compiled:
    if not upsert:
        # Only the columns a row brings: an autoincrement key is left to the database.
        columns = [c for c in table.columns if not (c.primary_key and c.autoincrement is True)]
        return _Compiled(dialect, table, insert(table).values({c.name: None for c in columns}))
    statement = (pg_insert if dialect.name == "postgresql" else sqlite_insert)(table)
    keys = [column.name for column in table.primary_key.columns]
    others = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    statement = statement.values({c.name: None for c in table.columns})
    if not others:
        return _Compiled(dialect, table, statement.on_conflict_do_nothing(index_elements=keys))
    return _Compiled(
        dialect, table, statement.on_conflict_do_update(index_elements=keys, set_=others)
    )
