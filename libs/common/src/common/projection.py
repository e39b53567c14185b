"""Projections: pure handlers ``(connection, event)`` and the exactly-once bookkeeping.

The stream sequence a projection has applied is stored in the same transaction as its
rows. An event at or below that sequence is skipped, so a redelivery, a crash between
commit and acknowledgement, or an overlapping replay never applies anything twice.

The stored position row also carries a lease: only the holder may advance it, so several
replicas sharing one durable consumer never apply batches out of order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    MetaData,
    String,
    Table,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from common.events import Event, EventDecodeError, decode
from common.events.codec import HEADER_TYPE

Handler = Callable[[Connection, Event], None]

tracking_metadata: Final = MetaData()

projection_positions: Final = Table(
    "projection_positions",
    tracking_metadata,
    Column("projection", String(100), primary_key=True),
    Column("stream", String(100), primary_key=True),
    Column("sequence", BigInteger, nullable=False, default=0),
    Column("owner", String(200), nullable=True),
    Column("lease_expires", Float, nullable=False, default=0.0),
)


@dataclass(frozen=True)
class Projection:
    """A named read model: its tables and the handler for each event type it reacts to.
    Event types without a handler are passed over (and still advance the position)."""

    name: str
    metadata: MetaData
    handlers: Mapping[str, Handler] = field(default_factory=dict)

    def apply(self, conn: Connection, event: Event) -> None:
        handler = self.handlers.get(event.event_type)
        if handler is not None:
            handler(conn, event)

    def handles(self, event_type: str | None) -> bool:
        """Whether an event of this type needs decoding at all (unknown: yes)."""
        return event_type is None or event_type in self.handlers


class LeaseLost(Exception):
    """Another replica holds this projection's position; this batch must not commit."""


@dataclass(frozen=True, slots=True)
class Raw:
    """A stored message as delivered: sequence, bytes and headers."""

    sequence: int
    data: bytes
    headers: Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class Item:
    """One delivered stream message: its sequence and the decoded event, or ``None`` when
    it was parked (it still advances the position)."""

    sequence: int
    event: Event | None


class Tracker:
    """Reads and advances one projection's position in one stream, under a lease."""

    def __init__(
        self,
        engine: Engine,
        projection: Projection,
        stream: str,
        owner: str,
        lease_seconds: float = 15.0,
    ) -> None:
        self.engine = engine
        self.projection = projection
        self.stream = stream
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._key = (projection_positions.c.projection == projection.name) & (
            projection_positions.c.stream == stream
        )

    def create_tables(self) -> None:
        tracking_metadata.create_all(self.engine)
        self.projection.metadata.create_all(self.engine)
        values = {
            "projection": self.projection.name,
            "stream": self.stream,
            "sequence": 0,
            "owner": None,
            "lease_expires": 0.0,
        }
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        with self.engine.begin() as conn:
            conn.execute(insert(projection_positions).values(values).on_conflict_do_nothing())

    def position(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(projection_positions.c.sequence).where(self._key)).scalar()
        return int(value or 0)

    def acquire_lease(self, now: float | None = None) -> bool:
        """Take or renew the lease; False while another live replica holds it."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            result = conn.execute(
                update(projection_positions)
                .where(
                    self._key
                    & (
                        (projection_positions.c.owner == self.owner)
                        | (projection_positions.c.owner.is_(None))
                        | (projection_positions.c.lease_expires < now)
                    )
                )
                .values(owner=self.owner, lease_expires=now + self.lease_seconds)
            )
        return result.rowcount == 1

    def release_lease(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(projection_positions)
                .where(self._key & (projection_positions.c.owner == self.owner))
                .values(owner=None, lease_expires=0.0)
            )

    def apply(self, items: Sequence[Item]) -> int:
        """Apply a batch in one transaction with the position; returns events applied.

        Raises LeaseLost (nothing committed) if this owner no longer holds the lease."""
        if not items:
            return 0
        applied = 0
        with self.engine.begin() as conn:
            row = conn.execute(
                select(projection_positions.c.sequence, projection_positions.c.owner)
                .where(self._key)
                .with_for_update()
            ).one()
            if row.owner != self.owner:
                raise LeaseLost(f"{self.projection.name}/{self.stream} is held by {row.owner}")
            position = int(row.sequence)
            for item in items:
                if item.sequence <= position:
                    continue
                if item.event is not None:
                    self.projection.apply(conn, item.event)
                    applied += 1
                position = item.sequence
            conn.execute(
                update(projection_positions)
                .where(self._key)
                .values(sequence=position, lease_expires=time.time() + self.lease_seconds)
            )
        return applied


def decode_batch(
    projection: Projection, raws: Iterable[Raw]
) -> tuple[list[Item], list[tuple[int, str]]]:
    """Decode what the projection handles; the rest become no-op items that still advance
    the position. Returns the items and the (index, reason) of each undecodable message."""
    items: list[Item] = []
    failures: list[tuple[int, str]] = []
    for index, raw in enumerate(raws):
        event_type = raw.headers.get(HEADER_TYPE) if raw.headers else None
        if not projection.handles(event_type):
            items.append(Item(raw.sequence, None))
            continue
        try:
            items.append(Item(raw.sequence, decode(raw.data, raw.headers)))
        except EventDecodeError as exc:
            failures.append((index, str(exc)))
            items.append(Item(raw.sequence, None))
    return items, failures
