"""The duplicate check (intake.duplicates) fed whatever its durable delivered, checked
in a few transactions instead of one per report.

One report at a time, each check was a pull and an acknowledgement round trip, a
transaction and its commit: under a burst the check fell thousands of reports behind.
Here a batch's reports are checked one after the other in stream order, in as few
transactions as the write lock allows (HOLD_SECONDS), so each is still compared with every
report before it, those earlier in its own batch included (their rows are committed, or in
the open transaction). Checking them at the same time, as reactors of independent leads
may be, would let two reports of one matter miss each other.

The links a transaction finds are appended once its rows are committed: an append never
waits with the database's write lock held, and a transaction that fails has appended
nothing. If the batch fails or the process dies after a commit, the batch comes again and
each report finds the same earliest match (its own rows are kept once, a report linked
already is not linked again, and a link's event id is derived from the pair).

Whether a report is linked already is read from the stream only for a report checked
before (its row was in the table when the batch came): a link is appended only after its
report's row is committed, so a report without a row has none. Reading every linked
report's history cost two stream requests and their decoding, with the write lock held
(~2-3 ms of CPU a report when most reports are alike, as in the end-to-end benchmark).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from common.batched import react_in_batches
from common.events import Event
from common.eventstore import Appended, EventStore, LeadHistory
from common.service import ServiceRuntime
from common.subjects import Stream
from intake.duplicates import DuplicateDetector, matters

SUBJECT = "intake.lead.*.LeadReported"
BATCH_SIZE = 200
# On SQLite a transaction holds the database's write lock from its first report's rows to
# its commit, while the key store, the claims of reports coming in and the projection wait
# for it: a batch is committed in parts of about this long (a report's check takes longer
# the more earlier reports share its words).
HOLD_SECONDS = 0.05


def check_duplicates(runtime: ServiceRuntime, threshold: float) -> None:
    """Feed the duplicate check from its durable in batches (a parked report, or one that
    failed too often in a batch, is checked alone)."""
    react_in_batches(
        runtime,
        name="duplicates",
        stream=Stream.INTAKE,
        subject=SUBJECT,
        one=DuplicateDetector(runtime, threshold),
        many=BatchCheck(runtime, threshold),
        batch_size=BATCH_SIZE,
    )


class BatchCheck:
    def __init__(self, runtime: ServiceRuntime, threshold: float) -> None:
        self._runtime = runtime
        self._threshold = threshold

    async def __call__(self, events: Sequence[Event]) -> None:
        loop = asyncio.get_running_loop()
        store = self._runtime.store(Stream.INTAKE)
        first_checks = await self._first_checks(events)
        done = 0
        while done < len(events):
            links = _HeldLinks(store, first_checks)
            async with self._runtime.database.async_engine.begin() as conn:
                detector = DuplicateDetector(_OneBatch(conn, links), self._threshold)  # type: ignore[arg-type]
                until = loop.time() + HOLD_SECONDS
                while done < len(events):
                    await detector(events[done])
                    done += 1
                    if loop.time() > until:
                        break
            await asyncio.gather(*(store.append(link) for link in links.held))

    async def _first_checks(self, events: Sequence[Event]) -> frozenset[str]:
        """The reports of the batch that no check has seen before (no row of theirs)."""
        lead_ids = {event.lead_id for event in events if event.lead_id}
        if not lead_ids:
            return frozenset()
        async with self._runtime.database.async_engine.connect() as conn:
            seen = await conn.scalars(
                select(matters.c.lead_id).where(matters.c.lead_id.in_(lead_ids))
            )
            return frozenset(lead_ids.difference(seen))


class _OneBatch:
    """What the detector uses of the service runtime, seen through the batch: its
    transactions are the batch's one, and its appends are held until that commits."""

    def __init__(self, conn: AsyncConnection, links: _HeldLinks) -> None:
        self.database = _Database(_InTransaction(conn))
        self._links = links

    def store(self, stream: Stream) -> _HeldLinks:
        if stream is not Stream.INTAKE:
            raise ValueError(f"the duplicate check appends to INTAKE only, not {stream.value}")
        return self._links


class _Database:
    def __init__(self, async_engine: _InTransaction) -> None:
        self.async_engine = async_engine


class _InTransaction:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        yield self._conn


class _HeldLinks:
    """The INTAKE store for reading; the links to append are kept for after the commit."""

    def __init__(self, store: EventStore, first_checks: frozenset[str]) -> None:
        self.store = store
        self.held: list[Event] = []
        self._first_checks = first_checks

    async def read_lead(self, lead_id: str) -> LeadHistory:
        """What the detector reads to tell whether the report is linked already: for a
        report checked for the first time no link can exist, and nothing is read (the
        history is then empty, as the detector needs nothing else of it)."""
        if lead_id in self._first_checks:
            return LeadHistory(events=(), last_sequence=0)
        return await self.store.read_lead(lead_id)

    async def append(self, event: Event, **_: Any) -> Appended:
        self.held.append(event)
        return Appended(sequence=0, duplicate=False)
