"""A projection's content as one digest per table, comparable across databases (SQLite
or PostgreSQL, live or replayed)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, MetaData, inspect, select

from common.database import as_utc
from common.projection import projection_positions


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).astimezone(UTC).isoformat()
    return value


def fingerprint(engine: Engine, metadata: MetaData) -> dict[str, str]:
    """SHA-256 of each table's rows in key order (the order rows were written in does not
    matter; their content does)."""
    present = set(inspect(engine).get_table_names())
    found = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name not in present:
                found[table.name] = "missing"
                continue
            keys = list(table.primary_key.columns)
            autoincrement = [c.name for c in keys if c.autoincrement is True and len(keys) == 1]
            columns = [c for c in table.columns if c.name not in autoincrement]
            rows = conn.execute(select(*columns)).all()
            lines = sorted(orjson.dumps([_plain(v) for v in row]) for row in rows)
            found[table.name] = hashlib.sha256(b"\n".join(lines)).hexdigest()
    return found


def positions(engine: Engine, projection: str) -> dict[str, int]:
    """The stream sequences a projection database has applied."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(projection_positions.c.stream, projection_positions.c.sequence).where(
                projection_positions.c.projection == projection
            )
        )
        return {r.stream: int(r.sequence) for r in rows}
