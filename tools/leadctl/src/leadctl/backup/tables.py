"""The tables of a service's database that no replay can rebuild, dumped and loaded row by
row through SQLAlchemy, so that a dump taken from SQLite loads into PostgreSQL and back.

Projections are not dumped: the streams are their truth and every service rebuilds them on
start (or ``leadctl replay``). What is dumped is named here, once: a table that holds state
the log does not must be added to ``KEPT``, or it is listed as left out in the manifest."""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    delete,
    func,
    inspect,
    select,
)
from sqlalchemy.types import TypeEngine

# "module:attribute" of each MetaData whose tables only the database holds.
KEPT: Final[dict[str, tuple[str, ...]]] = {
    "intake": (
        # the identity keys: without them no named reporter's identity opens again
        "intake.vault:vault_metadata",
        # claims that make a retried report land once, spent proofs of work, and the
        # duplicate detector's matters (its durable consumer is restored past them)
        "intake.idempotency:idempotency_metadata",
        "intake.work:work_metadata",
        "intake.duplicates:matter_metadata",
    ),
    "ledger": (
        # the staff files' data keys: without them no staff file opens again
        "ledger.file_keys:file_keys_metadata",
    ),
    "oversight": (),
}
# Kept whatever defines them: a schema migration tool's record of the schema's version.
KEPT_BY_NAME: Final = ("alembic_version",)
ROWS_PER_BATCH: Final = 1000


class DumpInvalid(ValueError):
    """A dump that does not read as one (truncated, or not a dump)."""


class NotEmpty(RuntimeError):
    """The target database already holds rows in a table a restore would fill."""


@dataclass(frozen=True)
class TableDump:
    table: str
    rows: int


def kept_tables(service: str) -> list[Table]:
    tables: list[Table] = []
    for ref in KEPT.get(service, ()):
        module, attribute = ref.split(":")
        metadata: MetaData = getattr(importlib.import_module(module), attribute)
        tables.extend(metadata.sorted_tables)
    return tables


def rebuildable_tables(service: str) -> set[str]:
    """The tables a service's projections (and their bookkeeping) fill from the log."""
    from common.accounts import SUBSCRIPTIONS as ACCOUNT_SUBSCRIPTIONS
    from common.batchwriter import deferred_metadata
    from common.projection import tracking_metadata

    names = set(tracking_metadata.tables) | set(deferred_metadata.tables)
    module = importlib.import_module(f"{service}.projection")
    # Every service also projects people's accounts from ACCOUNTS and SESSIONS.
    for sub in (*getattr(module, "SUBSCRIPTIONS", ()), *ACCOUNT_SUBSCRIPTIONS):
        names |= set(sub.projection.metadata.tables)
    return names


def _tables_present(engine: Engine, service: str) -> tuple[list[Table], list[str]]:
    """(the kept tables this database has, the tables it has that are neither kept nor
    rebuilt from the log)."""
    present = set(inspect(engine).get_table_names())
    known = [t for t in kept_tables(service) if t.name in present]
    generic = MetaData()
    for name in KEPT_BY_NAME:
        if name in present and name not in {t.name for t in known}:
            known.append(Table(name, generic, autoload_with=engine))
    named = {t.name for t in known}
    rebuilt = rebuildable_tables(service)
    left_out = sorted(n for n in present - named - rebuilt if not _belongs_to_rebuilt(n, rebuilt))
    return known, left_out


def _belongs_to_rebuilt(name: str, rebuilt: set[str]) -> bool:
    # SQLite's full-text index keeps shadow tables named after its own (ledger_search_fts_*).
    return any(name.startswith(f"{r}_") for r in rebuilt)


# --- values as JSON ------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, time):
        return {"time": value.isoformat()}
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, dict):
        return {"json": value}
    return value


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    [(kind, raw)] = value.items()
    match kind:
        case "b64":
            return base64.b64decode(raw)
        case "datetime":
            return datetime.fromisoformat(raw)
        case "date":
            return date.fromisoformat(raw)
        case "time":
            return time.fromisoformat(raw)
        case "decimal":
            return Decimal(raw)
        case "json":
            return raw
    raise DumpInvalid(f"unknown value kind {kind!r}")


_GENERIC_TYPES: Final[dict[str, type[TypeEngine[Any]]]] = {
    t.__name__: t
    for t in (
        String,
        Text,
        Integer,
        BigInteger,
        Boolean,
        DateTime,
        Date,
        Float,
        Numeric,
        LargeBinary,
    )
}


def _column_shape(column: Column[Any]) -> dict[str, Any]:
    # A TypeDecorator (UtcDateTime) is described by the type it stores as.
    stored = getattr(column.type, "impl_instance", column.type)
    try:
        generic = stored.as_generic()
    except NotImplementedError:
        generic = Text()
    kind = type(generic).__name__
    return {
        "name": column.name,
        "type": kind if kind in _GENERIC_TYPES else "Text",
        "length": getattr(generic, "length", None),
        "nullable": bool(column.nullable),
        "primary_key": bool(column.primary_key),
    }


def _table_from_shape(name: str, columns: list[dict[str, Any]], metadata: MetaData) -> Table:
    built = []
    for c in columns:
        kind = _GENERIC_TYPES[c["type"]]
        type_ = kind(c["length"]) if kind in (String,) and c.get("length") else kind()
        built.append(Column(c["name"], type_, nullable=c["nullable"], primary_key=c["primary_key"]))
    return Table(name, metadata, *built)


# --- dump and load -------------------------------------------------------------------------


def dump(engine: Engine, service: str, out: IO[bytes]) -> tuple[list[TableDump], list[str]]:
    """Write every kept table of the database as JSON lines: a header line per table (its
    name, columns and row count), then its rows. Read in one transaction, so the tables are
    dumped as they stood at one moment. Returns what was dumped and what was left out."""
    tables, left_out = _tables_present(engine, service)
    dumped: list[TableDump] = []
    with engine.connect() as conn, conn.begin():
        for table in tables:
            count = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            header = {
                "table": table.name,
                "columns": [_column_shape(c) for c in table.columns],
                "rows": count,
            }
            out.write(json.dumps(header, ensure_ascii=False).encode() + b"\n")
            written = 0
            ordered = select(table).order_by(*table.primary_key.columns)
            for row in conn.execution_options(yield_per=ROWS_PER_BATCH).execute(ordered):
                out.write(json.dumps([_encode(v) for v in row]).encode() + b"\n")
                written += 1
            if written != count:
                # Only a database changing under a non-repeatable read could do this.
                raise RuntimeError(f"{table.name}: counted {count} rows, read {written}")
            dumped.append(TableDump(table.name, count))
    return dumped, left_out


def _read(lines: Iterable[bytes]) -> Iterator[tuple[dict[str, Any], list[list[Any]]]]:
    it = iter(lines)
    for line in it:
        header = json.loads(line)
        if not isinstance(header, dict) or "table" not in header or "rows" not in header:
            raise DumpInvalid("a table's header line was expected")
        rows = []
        for _ in range(int(header["rows"])):
            row = next(it, None)
            if row is None:
                raise DumpInvalid(f"{header['table']}: the dump ends inside the table")
            rows.append([_decode(v) for v in json.loads(row)])
        yield header, rows


def tables_in(lines: Iterable[bytes]) -> list[TableDump]:
    return [TableDump(h["table"], len(rows)) for h, rows in _read(lines)]


RowFilter = Callable[[str, dict[str, Any]], dict[str, Any]]


def load(
    engine: Engine,
    service: str,
    lines: Iterable[bytes],
    force: bool = False,
    row_filter: RowFilter | None = None,
) -> list[TableDump]:
    """Create the kept tables where missing and insert the dumped rows, in one transaction;
    ``row_filter`` may change a row before it is written (table name, column values).

    Refuses a table that already holds rows unless ``force``, which replaces them."""
    known = {t.name: t for t in kept_tables(service)}
    generic = MetaData()
    loaded: list[TableDump] = []
    present = set(inspect(engine).get_table_names())
    parsed = list(_read(lines))
    with engine.begin() as conn:
        for header, rows in parsed:
            name = header["table"]
            table = known.get(name)
            if table is None:
                table = (
                    Table(name, generic, autoload_with=conn)
                    if name in present
                    else _table_from_shape(name, header["columns"], generic)
                )
            table.create(conn, checkfirst=True)
            held = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            if held and not force:
                raise NotEmpty(f"{name} already holds {held} rows")
            if held:
                conn.execute(delete(table))
            names = [c["name"] for c in header["columns"]]
            missing = set(names) - set(table.columns.keys())
            if missing:
                raise DumpInvalid(
                    f"{name}: the dump has columns this table lacks: {sorted(missing)}"
                )
            for start in range(0, len(rows), ROWS_PER_BATCH):
                batch = rows[start : start + ROWS_PER_BATCH]
                values = [dict(zip(names, r, strict=True)) for r in batch]
                if row_filter is not None:
                    values = [row_filter(name, v) for v in values]
                conn.execute(table.insert(), values)
            loaded.append(TableDump(name, len(rows)))
    return loaded


def holds_rows(engine: Engine, service: str) -> dict[str, int]:
    """The kept tables of this database that hold rows, and how many."""
    present = set(inspect(engine).get_table_names())
    found: dict[str, int] = {}
    with engine.connect() as conn:
        for table in kept_tables(service):
            if table.name in present:
                n = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                if n:
                    found[table.name] = n
    return found
