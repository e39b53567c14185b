"""Projections: pure handlers ``(writer, event)`` and the exactly-once bookkeeping.

The stream sequence a projection has applied is stored in the same transaction as its
rows. An event at or below that sequence is skipped, so a redelivery, a crash between
commit and acknowledgement, or an overlapping replay never applies anything twice.

The stored position row also carries a lease: only the holder may advance it, so several
replicas sharing one durable consumer never apply batches out of order.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import structlog
from prometheus_client import Counter
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from common.batchwriter import BatchWriter, RowCache, deferred_metadata
from common.database import write_transaction_begins_here
from common.events import BY_TYPE, Event, EventDecodeError, decode, lead_of_subject
from common.migrations import schema_lock
from common.subjects import Stream

log = structlog.get_logger(__name__)

NOT_APPENDED: Final = (
    "not stored by an append (no Nats-Msg-Id equal to the event id, or the broker's own"
    " headers): a copy the broker was made to store here, refused"
)

UNKNOWN_EVENTS: Final = Counter(
    "projection_unknown_events_total",
    "Messages of a type no contract defines, skipped by a projection",
    ["projection"],
)

# A handler takes the one event type it is registered for; the map is keyed by that type.
Handler = Callable[[BatchWriter, Any], None]

tracking_metadata: Final = MetaData()

projection_positions: Final = Table(
    "projection_positions",
    tracking_metadata,
    Column("projection", String(100), primary_key=True),
    Column("stream", String(100), primary_key=True),
    Column("sequence", BigInteger, nullable=False, default=0),
)

# Parked events applied after all, so that no retry applies one twice.
projection_retried: Final = Table(
    "projection_retried",
    tracking_metadata,
    Column("projection", String(100), primary_key=True),
    Column("parked_stream", String(100), primary_key=True),
    Column("parked_sequence", BigInteger, primary_key=True),
)

# One writer per projection at a time, across replicas and across the streams it reads.
projection_leases: Final = Table(
    "projection_leases",
    tracking_metadata,
    Column("projection", String(100), primary_key=True),
    Column("owner", String(200), nullable=True),
    Column("lease_expires", Float, nullable=False, default=0.0),
)

# Which version of each read model a database holds, and which one serves reads
# (common.readmodels): a new version is built beside the serving one, then switched to.
projection_versions: Final = Table(
    "projection_versions",
    tracking_metadata,
    Column("projection", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("state", String(10), nullable=False),
    # The version's tables, so that a later release can drop them without their code.
    Column("tables", Text, nullable=False, default="[]"),
    Column("changed_at", Float, nullable=False),
)


def versioned(name: str, version: int) -> str:
    """A read model's table (or index) name in a version: ``leads`` in version 1, the
    tables as they always were; ``leads_v2`` from version 2 on, beside the older ones."""
    return name if version == 1 else f"{name}_v{version}"


@dataclass(frozen=True)
class Projection:
    """A named read model: its tables and the handler for each event type it reacts to.
    Event types without a handler are passed over (and still advance the position).

    ``version`` is its schema's version: a change of its tables (a column more, another
    key) comes with the next version, whose tables are named apart (:func:`versioned`) so
    that it is rebuilt from the streams beside the one serving, never altered in place
    (common.readmodels)."""

    name: str
    metadata: MetaData
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    version: int = 1

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError(f"projection {self.name}: version must be 1 or more")
        if self.version > 1:
            suffix = versioned("", self.version)
            unnamed = [t for t in self.metadata.tables.values() if not t.name.endswith(suffix)]
            if unnamed:
                names = ", ".join(t.name for t in unnamed)
                raise ValueError(
                    f"projection {self.name} version {self.version}: tables {names} do not end"
                    f" in {suffix} (name them with common.projection.versioned)"
                )

    @property
    def key(self) -> str:
        """The name its positions, lease and deferred events are kept under: one set per
        version, so two versions are built and served side by side."""
        return versioned(self.name, self.version)

    @property
    def tables(self) -> list[str]:
        return [t.name for t in self.metadata.sorted_tables]

    def apply(self, writer: BatchWriter, event: Event) -> None:
        handler = self.handlers.get(event.event_type)
        if handler is not None:
            handler(writer, event)


@dataclass(frozen=True)
class Subscription:
    """A projection fed from one stream (optionally a filtered part of it)."""

    projection: Projection
    stream: Stream
    filter_subject: str | None = None


class LeaseLost(Exception):
    """Another replica holds this projection's position; this batch must not commit."""


class SequenceGap(Exception):
    """A batch does not follow the stored position: messages in between were not
    delivered (yet). Nothing is committed; the consumer starts again from the position."""


# Named tuples, not dataclasses: a rebuild makes one of each per event, and a tuple is
# built at half the cost of a frozen dataclass.
class Raw(NamedTuple):
    """A stored message as delivered: sequence, subject, bytes, and the event id its
    headers show an append stored it under (``common.eventstore.appended_id``)."""

    sequence: int
    subject: str
    data: bytes
    appended_id: str | None


class Item(NamedTuple):
    """One delivered stream message: its sequence and the decoded event, or ``None`` when
    it was parked (it still advances the position)."""

    sequence: int
    event: Event | None


class _Statements:
    """A tracker's statements, built once: every batch runs four of them, and building a
    statement and working out the cache key SQLAlchemy finds its compiled form by cost
    more CPU than the database's answer. The projection and owner are fixed per tracker;
    the stream, sequence and times are bound as they run."""

    def __init__(self, key: str, owner: str) -> None:
        leases, positions = projection_leases, projection_positions
        is_ours = leases.c.projection == key
        at_stream = (positions.c.projection == key) & (
            positions.c.stream == bindparam("at_stream", type_=String)
        )
        expires = bindparam("expires", type_=Float)
        self.owner = select(leases.c.owner).where(is_ours)
        # FOR UPDATE on PostgreSQL; on SQLite nothing (write_transaction_begins_here).
        self.owner_locked = self.owner.with_for_update()
        self.lease = select(leases.c.owner, leases.c.lease_expires).where(is_ours)
        self.take = (
            update(leases)
            .where(
                is_ours
                & (
                    (leases.c.owner == owner)
                    | (leases.c.owner.is_(None))
                    | (leases.c.lease_expires < bindparam("now", type_=Float))
                )
            )
            .values(owner=owner, lease_expires=expires)
        )
        self.renew = update(leases).where(is_ours).values(lease_expires=expires)
        self.release = (
            update(leases)
            .where(is_ours & (leases.c.owner == owner))
            .values(owner=None, lease_expires=0.0)
        )
        self.position = select(positions.c.sequence).where(at_stream)
        self.advance = (
            update(positions)
            .where(at_stream)
            .values(sequence=bindparam("to_sequence", type_=BigInteger))
        )


class Tracker:
    """One projection's positions (one per stream it reads) and its lease.

    Runners of several streams share one tracker: their batches are applied one at a time,
    so the row cache is only ever touched by one transaction."""

    def __init__(
        self, engine: Engine, projection: Projection, owner: str, lease_seconds: float = 15.0
    ) -> None:
        self.engine = engine
        self.projection = projection
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.cache = RowCache()
        self._lock = threading.Lock()
        # When (time.monotonic, taken before the transaction began) this owner last held
        # the lease for certain: renewed by acquire_lease and by every committed batch, so
        # the runners sharing this tracker need not each renew it on their own.
        self.renewed = 0.0
        self._statements = _Statements(projection.key, owner)

    def create_tables(self, streams: Iterable[str] = ()) -> None:
        """Make what is missing of the bookkeeping and the read model's tables, under the
        database's schema lock: replicas starting together would otherwise race to create
        the same table, and one of them fail its start."""
        with schema_lock(self.engine):
            tracking_metadata.create_all(self.engine)
            deferred_metadata.create_all(self.engine)
            self.projection.metadata.create_all(self.engine)
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        with self.engine.begin() as conn:
            conn.execute(
                insert(projection_leases)
                .values(projection=self.projection.key, owner=None, lease_expires=0.0)
                .on_conflict_do_nothing()
            )
            for stream in streams:
                conn.execute(
                    insert(projection_positions)
                    .values(projection=self.projection.key, stream=stream, sequence=0)
                    .on_conflict_do_nothing()
                )

    def position(self, stream: str) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(self._statements.position, {"at_stream": stream}).scalar()
        return int(value or 0)

    def acquire_lease(self, now: float | None = None) -> bool:
        """Take or renew the lease; False while another live replica holds it."""
        now = time.time() if now is None else now
        started = time.monotonic()
        statements = self._statements
        with self._lock, self.engine.begin() as conn:
            previous = conn.execute(statements.owner).scalar()
            result = conn.execute(
                statements.take, {"now": now, "expires": now + self.lease_seconds}
            )
            if previous != self.owner:
                self.cache.clear()  # someone else may have written since we last did
        held = result.rowcount == 1
        if held:
            self.renewed = started
        return held

    def lease_left(self, now: float | None = None) -> float:
        """Seconds until another owner's lease runs out; 0 when this owner could take it now
        (it holds it, nobody does, or it ran out). A read: a standby learns when to ask
        without a write transaction, which on SQLite would wait for the holder's lock."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            row = conn.execute(self._statements.lease).first()
        if row is None or row.owner in (None, self.owner):
            return 0.0
        return max(float(row.lease_expires) - now, 0.0)

    def release_lease(self) -> None:
        with self._lock, self.engine.begin() as conn:
            conn.execute(self._statements.release)

    def apply(self, stream: str, items: Sequence[Item], contiguous: bool = False) -> int:
        """Apply a batch of one stream in one transaction with its position; returns the
        number of events applied. Raises LeaseLost (nothing committed) if this owner no
        longer holds the lease, and SequenceGap if ``contiguous`` (a whole stream) and the
        first new event is not the one right after the position."""
        if not items:
            return 0
        with self._lock:
            try:
                return self._apply(stream, items, contiguous)
            except BaseException:
                self.cache.clear()  # it holds rows of a transaction that did not commit
                raise

    def apply_parked(self, event: Event, parked_stream: str, parked_sequence: int) -> bool:
        """Apply one event that was parked earlier (its position is long passed), after its
        cause was fixed. An operator's decision: it lands out of order. Returns False, and
        applies nothing, if that parked event was applied before."""
        with self._lock:
            try:
                with self.engine.begin() as conn:
                    write_transaction_begins_here(conn)
                    owner = conn.execute(self._statements.owner_locked).scalar()
                    if owner not in (self.owner, None):
                        raise LeaseLost(f"projection {self.projection.name} is held by {owner}")
                    done = conn.execute(
                        select(projection_retried.c.parked_sequence).where(
                            (projection_retried.c.projection == self.projection.key)
                            & (projection_retried.c.parked_stream == parked_stream)
                            & (projection_retried.c.parked_sequence == parked_sequence)
                        )
                    ).first()
                    if done is not None:
                        return False
                    writer = BatchWriter(conn, self.cache, self.projection.key)
                    self.projection.apply(writer, event)
                    writer.flush()
                    # Same transaction: a second retry, even a concurrent one, fails here.
                    conn.execute(
                        projection_retried.insert().values(
                            projection=self.projection.key,
                            parked_stream=parked_stream,
                            parked_sequence=parked_sequence,
                        )
                    )
                    return True
            except BaseException:
                self.cache.clear()
                raise

    def _apply(self, stream: str, items: Sequence[Item], contiguous: bool) -> int:
        applied = 0
        started = time.monotonic()
        statements = self._statements
        at_stream = {"at_stream": stream}
        with self.engine.begin() as conn:
            write_transaction_begins_here(conn)
            owner = conn.execute(statements.owner_locked).scalar()
            if owner != self.owner:
                raise LeaseLost(f"projection {self.projection.name} is held by {owner}")
            position = int(conn.execute(statements.position, at_stream).scalar_one())
            first_new = next((i.sequence for i in items if i.sequence > position), None)
            if contiguous and first_new is not None and first_new != position + 1:
                raise SequenceGap(f"{stream}: at {position}, next delivered is {first_new}")
            writer = BatchWriter(conn, self.cache, self.projection.key)
            # Projection.apply, unrolled: this loop runs once for every event of a rebuild.
            handler_for = self.projection.handlers.get
            for sequence, event in items:
                if sequence <= position:
                    continue
                if event is not None:
                    handler = handler_for(event.event_type)
                    if handler is not None:
                        handler(writer, event)
                    applied += 1
                position = sequence
            writer.flush()
            conn.execute(statements.advance, {"at_stream": stream, "to_sequence": position})
            conn.execute(statements.renew, {"expires": time.time() + self.lease_seconds})
        self.renewed = started
        return applied


def refusal(subject: str, event: Event, appended: str | None) -> str | None:
    """Why a decoded event must not be applied, or None: it names another lead than its
    subject (the subject is what a lead's history is read by), or no append stored it."""
    named = lead_of_subject(subject)
    if named is not None and named != event.lead_id:
        return f"the subject names lead {named}, the event lead {event.lead_id}"
    kind = event.subject_kind
    if kind != "lead" and subject.split(".")[-3:-1] != [kind, event.subject_id]:
        return f"the subject is not that of the event's {kind} ({event.subject_id})"
    if appended != event.event_id:
        return NOT_APPENDED
    return None


def decode_batch(
    projection: Projection, raws: Iterable[tuple[int, str, bytes, str | None]]
) -> tuple[list[Item], list[tuple[int, str]]]:
    """Decode what the projection handles; the rest become no-op items that still advance
    the position. Returns the items and the (index, reason) of each message that cannot be
    applied: undecodable, or naming another lead in its payload than in its subject (the
    subject is what a lead's history is read by), or not stored by an append (its
    ``appended_id`` is not the event's id: a copy the broker was made to store). Takes
    :class:`Raw` or plain ``(sequence, subject, data, appended_id)`` tuples. A message of a type no contract defines is
    counted and logged: nobody handles it, and nobody should be surprised by it later."""
    items: list[Item] = []
    failures: list[tuple[int, str]] = []
    handles = projection.handlers.__contains__  # only what has a handler is decoded
    for index, (sequence, subject, data, appended) in enumerate(raws):
        # event_type_of and, below, the usual outcome of refusal, without splitting the
        # subject: a rebuild decodes every event through this loop.
        head, _, event_type = subject.rpartition(".")
        if not handles(event_type):
            if event_type not in BY_TYPE:
                UNKNOWN_EVENTS.labels(projection.name).inc()
                log.warning(
                    "unknown_event_type_skipped",
                    projection=projection.name,
                    subject=subject,
                    sequence=sequence,
                )
            items.append(Item(sequence, None))
            continue
        try:
            event = decode(data, event_type)
        except EventDecodeError as exc:
            failures.append((index, str(exc)))
            items.append(Item(sequence, None))
            continue
        rest, dot, named = head.rpartition(".")
        if (
            appended != event.event_id
            or not dot
            or named != event.lead_id
            or not (rest == "lead" or rest.endswith(".lead"))
        ):
            # Not the usual ``….lead.<its lead>.<Type>`` stored by an append: the whole check.
            refused = refusal(subject, event, appended)
            if refused is not None:
                failures.append((index, refused))
                items.append(Item(sequence, None))
                continue
        items.append(_item((sequence, event)))
    return items, failures


# Item(sequence, event) without the named tuple's Python-level __new__ (one per event).
_item: Final = functools.partial(tuple.__new__, Item)
