"""What the ledger answers to a reader, and what it records about reading.

Whether the reader may see a lead is decided before anything else is read: a lead one may
not see answers exactly as one that does not exist, whether asked for by id or by ledger
number, and a list or a search never looks into it. Every read of one lead in full is
recorded (LeadViewed on AUDIT) once it is known the reader may read it.

Each read runs its queries in one go on a worker thread, over a pool of connections of its
own (see :func:`in_one_go`)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

import structlog
from nats.js.errors import NotFoundError
from sqlalchemy import Connection, Engine, select

from common.auth import Principal
from common.database import sync_engine
from common.errors import NotFound
from common.events import utc_now
from common.events.catalogue import LeadViewed, LedgerExported
from common.eventstore import LeadHistory
from common.projection import projection_positions
from common.subjects import Stream, lead_filter
from ledger.application import towns
from ledger.domain.numbering import is_ledger_number
from ledger.projection import PROJECTION, queries
from ledger.projection.queries import Filters

if TYPE_CHECKING:
    from common.service import ServiceRuntime
    from ledger.application.context import Ledger

log = structlog.get_logger(__name__)

T = TypeVar("T")

# A lead that does not exist and one the principal may not see get the same answer.
NO_SUCH_LEAD: Final = "no such lead, or not one you may see"
# How long an answer waits for the read model to catch up with a lead (it takes
# milliseconds; longer means the projection is stuck, and the lead stays hidden).
CATCH_UP_SECONDS: Final = 5.0
# A list waits less: while a standby takes a projection over (a few seconds) or under a
# burst of writes, a list answers from the read model as it is rather than hang.
LIST_CATCH_UP_SECONDS: Final = 1.0


@dataclass(frozen=True)
class LeadInFull:
    """One lead as a reader who may see it reads it."""

    row: dict[str, Any]
    #: the lead's own events (LEDGER) and the directives about it (DIRECTIVES)
    ledger_history: LeadHistory
    directive_history: LeadHistory
    #: what was reported (None until the ledger has read intake's report)
    report: dict[str, Any] | None
    #: the exchange with the reporter, oldest first
    thread: list[dict[str, Any]]
    #: the other reports of the same matter the reader may see
    duplicates: list[dict[str, Any]]


def _read_engine(runtime: ServiceRuntime) -> Engine:
    """The engine reads go through: pooled connections that only read, apart from the
    writers' (whose transactions take SQLite's write lock as they begin), each statement
    on its own (autocommit), so a read never waits for the projector's write. Closed when
    the service stops (a PostgreSQL database with connections open cannot be dropped)."""
    engine = _READ_ENGINES.get(runtime)
    if engine is None:
        engine = sync_engine(runtime.database.url).execution_options(isolation_level="AUTOCOMMIT")
        _READ_ENGINES[runtime] = engine

        async def close() -> None:
            _READ_ENGINES.pop(runtime, None)
            engine.dispose()

        runtime.on_stop(close)
    return engine


_READ_ENGINES: weakref.WeakKeyDictionary[ServiceRuntime, Engine] = weakref.WeakKeyDictionary()


# Built once: the statement and its cache key are made at import, not per read.
_APPLIED: Final = select(projection_positions.c.sequence).where(
    (projection_positions.c.projection == PROJECTION.key)
    & (projection_positions.c.stream == Stream.LEDGER.value)
)


def _applied(conn: Connection) -> int:
    """The last sequence of LEDGER the ledger's read model has applied."""
    return int(conn.execute(_APPLIED).scalar() or 0)


async def in_one_go(ledger: Ledger, work: Callable[[Connection], T]) -> T:
    """``work``'s queries on one connection, on a worker thread: the asyncio SQLite driver
    hands every statement and fetch to a thread of its own and back (and opened a
    connection per read), which held the ledger near a hundred reads a second."""
    engine = _read_engine(ledger.runtime)

    def run() -> T:
        with engine.connect() as conn:
            return work(conn)

    return await asyncio.to_thread(run)


async def visible(ledger: Ledger, lead_id: str, principal: Principal) -> dict[str, Any]:
    """The lead's row in the ledger, if the principal may see the lead; otherwise the
    very 404 a lead that does not exist gets. Reads and commands alike ask here first,
    so nothing about a hidden lead (its state, who holds it) ever shows.

    The read model follows the stream by moments: a lead handed to this unit a moment
    ago is not hidden, only not projected yet. When the row is missing, the answer waits
    (briefly) for the read model to apply the lead's last event."""
    principal = towns.reader(ledger.runtime.org, principal)
    row = await in_one_go(ledger, lambda conn: queries.one(conn, principal, lead_id))
    if row is None and await _caught_up_with(ledger, lead_id):
        row = await in_one_go(ledger, lambda conn: queries.one(conn, principal, lead_id))
    if row is None:
        raise NotFound(NO_SUCH_LEAD)
    return row


@dataclass(frozen=True)
class _Rest:
    #: the last sequence of LEDGER the read model had applied before the rest was read
    applied: int
    row: dict[str, Any] | None
    report: dict[str, Any] | None
    thread: list[dict[str, Any]]
    duplicates: list[dict[str, Any]]


async def read_in_full(ledger: Ledger, key: str, principal: Principal, purpose: str) -> LeadInFull:
    """The lead named by its id or by its ledger number (SHD-2026-000066, as written or in
    small letters), with what was reported, the exchange with the reporter, the reports of
    the same matter and its history; the same 404 as a lead that does not exist when the
    principal may not see it. Recorded as read: the record is stored while the history is
    read, and nothing is answered before it is.

    The lead as its history shows it: when the read model had not yet applied the lead's
    last event (a command answered a moment ago), the read waits for it, briefly.

    Whether the principal may see the lead and what the read model holds of it are read
    in one trip to a worker thread; nothing is recorded and no history read before that
    says the lead is theirs to see."""
    principal = towns.reader(ledger.runtime.org, principal)
    number = key.upper()
    by_number = is_ledger_number(number)

    def by_key(conn: Connection) -> dict[str, Any] | None:
        if by_number:
            return queries.one_by_number(conn, principal, number)
        return queries.one(conn, principal, key)

    read = await in_one_go(ledger, lambda conn: _rest(conn, principal, by_key))
    if read.row is None and not by_number and await _caught_up_with(ledger, key):
        read = await in_one_go(ledger, lambda conn: _rest(conn, principal, by_key))
    if read.row is None:
        raise NotFound(NO_SUCH_LEAD)
    lead_id: str = read.row["lead_id"]
    # If the record fails, so does the read (gather raises it), and nothing read is shown.
    _, (ledger_history, directive_history) = await asyncio.gather(
        viewed(ledger, lead_id, principal, purpose), _history(ledger, lead_id)
    )
    if read.applied < ledger_history.last_sequence and await _applied_up_to(
        ledger, ledger_history.last_sequence, lead_id
    ):
        read = await in_one_go(
            ledger,
            lambda conn: _rest(conn, principal, lambda c: queries.one(c, principal, lead_id)),
        )
        if read.row is None:  # no longer the reader's to see
            raise NotFound(NO_SUCH_LEAD)
    return LeadInFull(
        read.row, ledger_history, directive_history, read.report, read.thread, read.duplicates
    )


def _rest(
    conn: Connection,
    principal: Principal,
    row_of: Callable[[Connection], dict[str, Any] | None],
) -> _Rest:
    """The lead whose row ``row_of`` reads as the principal sees it, and the rest of it,
    if they may see it."""
    # The position first: the rows read after it show at least what it says.
    applied = _applied(conn)
    row = row_of(conn)
    if row is None:
        return _Rest(applied, None, None, [], [])
    lead_id = row["lead_id"]
    return _Rest(
        applied,
        row,
        queries.report_of(conn, lead_id),
        queries.thread_of(conn, lead_id),
        queries.duplicates_of(conn, principal, lead_id),
    )


async def _history(ledger: Ledger, lead_id: str) -> tuple[LeadHistory, LeadHistory]:
    """The lead's events on LEDGER and the directives about it, both streams read at once."""
    runtime = ledger.runtime
    found = await asyncio.gather(
        runtime.store(Stream.LEDGER).read_lead(lead_id),
        runtime.store(Stream.DIRECTIVES).read_lead(lead_id),
    )
    return found[0], found[1]


class _LastSequence:
    """LEDGER's last sequence, as a read that begins now must see it, by direct read of
    the stream's last message; the reads that ask while one such look is on its way share
    the next one, which begins after they asked (so it sees every write they could have
    seen), instead of each making its own: a look costs about as much CPU as the rest of a
    list."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime
        self._next: asyncio.Future[int] | None = None
        self._looking: asyncio.Task[None] | None = None

    async def now(self) -> int:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            # Whoever gave up waiting, the outcome is taken: no "never retrieved" warning.
            self._next.add_done_callback(lambda f: f.cancelled() or f.exception())
            if self._looking is None or self._looking.done():
                self._looking = asyncio.create_task(self._look(), name="ledger-last-sequence")
        return await asyncio.shield(self._next)

    async def _look(self) -> None:
        while self._next is not None:
            # Begun now: whoever asks from here on waits for the next look.
            asked, self._next = self._next, None
            try:
                asked.set_result(await self._last())
            except Exception as exc:
                asked.set_exception(exc)

    async def _last(self) -> int:
        runtime = self._runtime
        try:
            last = await runtime.js.get_msg(
                Stream.LEDGER.value,
                subject=f"{runtime.store(Stream.LEDGER).subject_prefix}.>",
                direct=True,
            )
        except NotFoundError:
            return 0
        return last.seq or 0


_LAST_SEQUENCES: weakref.WeakKeyDictionary[ServiceRuntime, _LastSequence] = (
    weakref.WeakKeyDictionary()
)


def _last_sequence(runtime: ServiceRuntime) -> _LastSequence:
    found = _LAST_SEQUENCES.get(runtime)
    if found is None:
        found = _LAST_SEQUENCES[runtime] = _LastSequence(runtime)
    return found


async def read_current(ledger: Ledger, work: Callable[[Connection], T]) -> T:
    """``work`` on a read model that has applied everything LEDGER held when the read
    began: a list asked for right after a command (a lead handed to a unit, then that
    unit's desk) shows what the command did. One direct read of the stream's last message
    (shared with the reads asking at the same moment), and the position read with the
    rows; a wait only when the projector is behind."""
    wanted = await _last_sequence(ledger.runtime).now()
    if wanted == 0:
        return await in_one_go(ledger, work)

    def positioned(conn: Connection) -> tuple[int, T]:
        # The position first: the rows read after it show at least what it says.
        return _applied(conn), work(conn)

    applied, found = await in_one_go(ledger, positioned)
    if applied < wanted and await _applied_up_to(ledger, wanted, None, LIST_CATCH_UP_SECONDS):
        applied, found = await in_one_go(ledger, positioned)
    return found


async def page(
    ledger: Ledger, principal: Principal, filters: Filters, number: int, size: int
) -> queries.LeadPage:
    principal = towns.reader(ledger.runtime.org, principal)
    now = utc_now()
    return await read_current(
        ledger, lambda conn: queries.page_of(conn, principal, filters, now, number, size)
    )


async def unanswered(
    ledger: Ledger, principal: Principal, days: int | None
) -> list[dict[str, Any]]:
    principal = towns.reader(ledger.runtime.org, principal)
    older_than: timedelta = ledger.settings.unanswered_after(days)
    now = utc_now()
    return await read_current(
        ledger, lambda conn: queries.unanswered(conn, principal, older_than, now)
    )


async def statistics(ledger: Ledger, principal: Principal) -> dict[str, dict[str, int]]:
    org = ledger.runtime.org
    reader = towns.reader(org, principal)
    return await read_current(ledger, lambda conn: towns.statistics(conn, org, reader))


async def statistics_by_town(
    ledger: Ledger, principal: Principal
) -> dict[str, dict[str, dict[str, int]]]:
    org = ledger.runtime.org
    reader = towns.reader(org, principal)
    return await read_current(ledger, lambda conn: towns.statistics_by_town(conn, org, reader))


async def export_rows(
    ledger: Ledger, principal: Principal, fmt: str, filters: Filters
) -> list[dict[str, Any]]:
    """The rows of an export, recorded as exported."""
    principal = towns.reader(ledger.runtime.org, principal)
    now = utc_now()
    rows = await in_one_go(ledger, lambda conn: queries.rows_of(conn, principal, filters, now))
    await exported(ledger, principal, fmt, filters, len(rows))
    return rows


async def timeliness(ledger: Ledger, principal: Principal) -> queries.Timeliness:
    principal = towns.reader(ledger.runtime.org, principal)
    now = utc_now()
    return await in_one_go(ledger, lambda conn: queries.timeliness(conn, principal, now))


async def caught_up(ledger: Ledger, lead_id: str) -> bool:
    """Waits (briefly) until the read model shows the lead's last event: a page that has
    just recorded a command shows the lead as the command left it."""
    return await _caught_up_with(ledger, lead_id)


async def _caught_up_with(ledger: Ledger, lead_id: str) -> bool:
    """Whether the lead has events the read model had not applied, and has now."""
    runtime = ledger.runtime
    try:
        wanted = lead_filter(runtime.store(Stream.LEDGER).subject_prefix, lead_id)
    except ValueError:
        return False  # not a lead id at all
    try:
        last = await runtime.js.get_msg(Stream.LEDGER.value, subject=wanted, direct=True)
    except NotFoundError:
        return False
    return await _applied_up_to(ledger, last.seq or 0, lead_id)


async def _applied_up_to(
    ledger: Ledger, sequence: int, lead_id: str | None, patience: float = CATCH_UP_SECONDS
) -> bool:
    """Waits (at most ``patience`` seconds) until the read model has applied LEDGER up to
    ``sequence``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        applied = await in_one_go(ledger, _applied)
        if applied >= sequence:
            return True
        if loop.time() > deadline:
            log.warning("read_model_behind", lead_id=lead_id, applied=applied)
            return False
        await asyncio.sleep(0.02)


# --- what is recorded about reading ------------------------------------------------


async def viewed(ledger: Ledger, lead_id: str, principal: Principal, purpose: str) -> None:
    await ledger.runtime.record_access(
        LeadViewed(lead_id=lead_id, service="ledger", purpose=purpose, actor=principal.actor)
    )


async def exported(
    ledger: Ledger, principal: Principal, fmt: str, filters: Filters, rows: int
) -> None:
    await ledger.runtime.record_access(
        LedgerExported(
            service="ledger",
            format=fmt,
            filters=filters.as_dict(),
            row_count=rows,
            actor=principal.actor,
        )
    )
