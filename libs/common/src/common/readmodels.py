"""Versions of read models: a new one built beside the serving one, switched to when it
has caught up, the old one dropped later. No read model is ever altered in place.

A projection declares its ``version`` (common.projection); the tables of version N are
named apart from those of N-1 (``leads_v2`` beside ``leads``, :func:`versioned`), and its
positions, lease and deferred events are kept under its own key. So the two versions live
side by side in one database, each with its own lease, each fed by the projection's durable
consumer through its own stored positions (the runner reads back from the stream whatever
its position lacks, so a new version starts from the first event).

``projection_versions`` records, for each read model, which versions the database holds and
in what state:

- ``serving``: the version reads are answered from;
- ``building``: a newer (or, after a rollback, older) version being filled beside it;
- ``retired``: the version switched away from, kept ``retire_after`` seconds for replicas
  of the previous release still reading it (and for a rollback), then dropped.

A release with a new version starts: it records ``building`` and its runner fills the new
tables, while the replicas of the previous release go on serving from the old ones. When the
new version has applied at least what the serving one had, and everything the streams held
when the build began, it becomes ``serving`` and the old one ``retired``
(:meth:`ReadModels.switch_when_caught_up`). Until then the new replica is not ready
(:meth:`ReadModels.problems`), so no traffic reaches half a read model.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import structlog
from sqlalchemy import Connection, Engine, MetaData, Table, delete, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from common.batchwriter import deferred_events, deferred_metadata
from common.migrations import schema_lock
from common.projection import (
    Projection,
    projection_leases,
    projection_positions,
    projection_retried,
    projection_versions,
    tracking_metadata,
)

log = structlog.get_logger(__name__)

SERVING: Final = "serving"
BUILDING: Final = "building"
RETIRED: Final = "retired"

# How long a retired version is kept: longer than a rolling upgrade takes.
RETIRE_AFTER_SECONDS: Final = 3600.0

# The last sequence of a stream now (JetStream's stream info), for the caught-up test.
LastSequence = Callable[[str], Awaitable[int]]


@dataclass(frozen=True)
class Version:
    projection: str
    version: int
    state: str
    tables: tuple[str, ...]
    changed_at: float

    @property
    def key(self) -> str:
        return self.projection if self.version == 1 else f"{self.projection}_v{self.version}"


def versions_of(conn: Connection, name: str) -> list[Version]:
    rows = conn.execute(
        select(projection_versions)
        .where(projection_versions.c.projection == name)
        .order_by(projection_versions.c.version)
    ).all()
    return [
        Version(r.projection, r.version, r.state, tuple(json.loads(r.tables)), r.changed_at)
        for r in rows
    ]


def serving_version(engine: Engine, name: str) -> Version | None:
    with engine.connect() as conn:
        return next((v for v in versions_of(conn, name) if v.state == SERVING), None)


def positions_of(conn: Connection, key: str) -> dict[str, int]:
    rows = conn.execute(
        select(projection_positions.c.stream, projection_positions.c.sequence).where(
            projection_positions.c.projection == key
        )
    ).all()
    return {r.stream: int(r.sequence) for r in rows}


class ReadModels:
    """The read models of one service database and the version of each this release
    reads (``projections``)."""

    def __init__(
        self,
        engine: Engine,
        projections: Iterable[Projection],
        retire_after: float = RETIRE_AFTER_SECONDS,
    ) -> None:
        self.engine = engine
        self.projections = {p.name: p for p in projections}
        self.retire_after = retire_after
        self._serving: dict[str, bool] = {}

    # --- at start ----------------------------------------------------------------------

    def prepare(self) -> dict[str, str]:
        """Record this release's version of each read model and make its tables, under the
        schema lock; returns each read model's state for this release (``serving`` or
        ``building``)."""
        states: dict[str, str] = {}
        with schema_lock(self.engine):
            tracking_metadata.create_all(self.engine)
            deferred_metadata.create_all(self.engine)
            with self.engine.begin() as conn:
                for projection in self.projections.values():
                    states[projection.name] = self._record(conn, projection)
            for projection in self.projections.values():
                projection.metadata.create_all(self.engine)
        self._serving = {name: state == SERVING for name, state in states.items()}
        return states

    def _record(self, conn: Connection, projection: Projection) -> str:
        known = versions_of(conn, projection.name)
        mine = next((v for v in known if v.version == projection.version), None)
        serving = next((v for v in known if v.state == SERVING), None)
        now = time.time()
        if not known and projection.version > 1 and positions_of(conn, projection.name):
            # Version 1 from a release before versions were recorded: it serves until the
            # new one caught up. Its tables are not known here: they are left in place.
            log.warning("read_model_unrecorded_version_1", projection=projection.name)
            serving = self._insert(conn, projection.name, 1, SERVING, (), now)
        if mine is None:
            state = BUILDING if serving is not None else SERVING
            self._insert(conn, projection.name, projection.version, state, projection.tables, now)
            if state == BUILDING:
                log.info(
                    "read_model_building",
                    projection=projection.name,
                    version=projection.version,
                    serving=serving.version if serving else None,
                )
            return state
        if mine.state == RETIRED:
            # A rollback to a version kept: it catches up from where it stopped.
            conn.execute(
                update(projection_versions)
                .where(_row(projection.name, projection.version))
                .values(state=BUILDING, changed_at=now)
            )
            log.info("read_model_building", projection=projection.name, version=mine.version)
            return BUILDING
        return mine.state

    @staticmethod
    def _insert(
        conn: Connection, name: str, version: int, state: str, tables: Iterable[str], now: float
    ) -> Version:
        conn.execute(
            insert(projection_versions).values(
                projection=name,
                version=version,
                state=state,
                tables=json.dumps(list(tables)),
                changed_at=now,
            )
        )
        return Version(name, version, state, tuple(tables), now)

    # --- while running -----------------------------------------------------------------

    def problems(self) -> dict[str, str]:
        """What keeps this replica from answering reads, by read model (empty when none):
        its version is still being built."""
        return {
            f"read_model:{name}": f"building version {self.projections[name].version}"
            for name, serving in self._serving.items()
            if not serving
        }

    def serving(self, name: str) -> bool:
        return self._serving.get(name, False)

    def caught_up(
        self, projection: Projection, streams: Iterable[str], floor: Mapping[str, int]
    ) -> bool:
        """Whether ``projection``'s version has applied, on every stream it reads, what
        the serving version had applied and ``floor`` (what the streams held when its
        build began)."""
        with self.engine.connect() as conn:
            serving = next(
                (v for v in versions_of(conn, projection.name) if v.state == SERVING), None
            )
            mine = positions_of(conn, projection.key)
            theirs = positions_of(conn, serving.key) if serving is not None else {}
        return all(mine.get(s, 0) >= max(theirs.get(s, 0), floor.get(s, 0)) for s in streams)

    def switch(self, projection: Projection) -> bool:
        """Make this release's version the serving one and retire the one before, in one
        transaction; False if it serves already."""
        now = time.time()
        with self.engine.begin() as conn:
            known = versions_of(conn, projection.name)
            mine = next((v for v in known if v.version == projection.version), None)
            if mine is None or mine.state == SERVING:
                self._serving[projection.name] = True
                return False
            for other in known:
                if other.state == SERVING:
                    conn.execute(
                        update(projection_versions)
                        .where(_row(other.projection, other.version))
                        .values(state=RETIRED, changed_at=now)
                    )
            conn.execute(
                update(projection_versions)
                .where(_row(projection.name, projection.version))
                .values(state=SERVING, changed_at=now)
            )
        self._serving[projection.name] = True
        log.info("read_model_switched", projection=projection.name, version=projection.version)
        return True

    async def switch_when_caught_up(
        self,
        projection: Projection,
        streams: Iterable[str],
        last_sequence: LastSequence,
        poll: float = 1.0,
    ) -> None:
        """Wait until this release's version of ``projection`` caught up, then switch to
        it (another replica of the release may have switched first: then only follow)."""
        streams = list(streams)
        floor = {s: await last_sequence(s) for s in streams}
        while True:
            current = await asyncio.to_thread(serving_version, self.engine, projection.name)
            if current is not None and current.version == projection.version:
                self._serving[projection.name] = True
                log.info("read_model_serving", projection=projection.name)
                return
            if await asyncio.to_thread(self.caught_up, projection, streams, floor):
                await asyncio.to_thread(self.switch, projection)
                return
            await asyncio.sleep(poll)

    # --- afterwards --------------------------------------------------------------------

    def drop_retired(self, now: float | None = None) -> list[Version]:
        """Drop the versions retired longer than ``retire_after`` ago: their tables and
        their bookkeeping. Returns what was dropped."""
        now = time.time() if now is None else now
        dropped: list[Version] = []
        if not self._any_due(now):
            return dropped  # the usual answer: no lock taken for it
        with schema_lock(self.engine), self.engine.begin() as conn:
            for name in self.projections:
                for old in versions_of(conn, name):
                    if old.state != RETIRED or old.changed_at > now - self.retire_after:
                        continue
                    _drop(conn, old)
                    dropped.append(old)
                    log.info(
                        "read_model_dropped",
                        projection=old.projection,
                        version=old.version,
                        tables=list(old.tables),
                    )
        return dropped

    def _any_due(self, now: float) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(projection_versions.c.projection)
                .where(
                    projection_versions.c.projection.in_(list(self.projections))
                    & (projection_versions.c.state == RETIRED)
                    & (projection_versions.c.changed_at <= now - self.retire_after)
                )
                .limit(1)
            ).first()
        return found is not None


def _row(name: str, version: int) -> ColumnElement[bool]:
    return (projection_versions.c.projection == name) & (projection_versions.c.version == version)


def _drop(conn: Connection, old: Version) -> None:
    # Tables named by the version's own record: this release may not know its code.
    scratch = MetaData()
    for table in reversed(old.tables):
        Table(table, scratch).drop(conn, checkfirst=True)
    for bookkeeping in (projection_positions, projection_leases, projection_retried):
        conn.execute(delete(bookkeeping).where(bookkeeping.c.projection == old.key))
    conn.execute(delete(deferred_events).where(deferred_events.c.projection == old.key))
    conn.execute(delete(projection_versions).where(_row(old.projection, old.version)))
