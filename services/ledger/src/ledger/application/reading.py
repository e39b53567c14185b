"""What the ledger answers to a reader, and what it records about reading.

Whether the reader may see a lead is decided before anything else is read: a lead one may
not see answers exactly as one that does not exist, whether asked for by id or by ledger
number, and a list or a search never looks into it. Every read of one lead in full is
recorded (LeadViewed on AUDIT) once it is known the reader may read it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

import structlog
from nats.js.errors import NotFoundError

from common.auth import Principal
from common.errors import NotFound
from common.events import utc_now
from common.events.catalogue import LeadViewed, LedgerExported
from common.eventstore import LeadHistory
from common.subjects import Stream, lead_filter
from ledger.domain.numbering import is_ledger_number
from ledger.projection import PROJECTION, queries
from ledger.projection.queries import Filters

if TYPE_CHECKING:
    from ledger.application.context import Ledger

log = structlog.get_logger(__name__)

# A lead that does not exist and one the principal may not see get the same answer.
NO_SUCH_LEAD: Final = "no such lead, or not one you may see"
# How long an answer waits for the read model to catch up with a lead (it takes
# milliseconds; longer means the projection is stuck, and the lead stays hidden).
CATCH_UP_SECONDS: Final = 5.0


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


async def visible(ledger: Ledger, lead_id: str, principal: Principal) -> dict[str, Any]:
    """The lead's row in the ledger, if the principal may see the lead; otherwise the
    very 404 a lead that does not exist gets. Reads and commands alike ask here first,
    so nothing about a hidden lead (its state, who holds it) ever shows.

    The read model follows the stream by moments: a lead handed to this unit a moment
    ago is not hidden, only not projected yet. When the row is missing, the answer waits
    (briefly) for the read model to apply the lead's last event."""
    engine = ledger.runtime.database.async_engine
    async with engine.connect() as conn:
        row = await queries.one(conn, principal, lead_id)
    if row is None and await _caught_up_with(ledger, lead_id):
        async with engine.connect() as conn:
            row = await queries.one(conn, principal, lead_id)
    if row is None:
        raise NotFound(NO_SUCH_LEAD)
    return row


async def find(ledger: Ledger, key: str, principal: Principal) -> dict[str, Any]:
    """The lead named by its id or by its ledger number (SHD-2026-000066), if the principal
    may see it (a number as written, or in small letters); the same 404 otherwise."""
    number = key.upper()
    if not is_ledger_number(number):
        return await visible(ledger, key, principal)
    async with ledger.runtime.database.async_engine.connect() as conn:
        row = await queries.one_by_number(conn, principal, number)
    if row is None:
        raise NotFound(NO_SUCH_LEAD)
    return row


async def read_in_full(ledger: Ledger, key: str, principal: Principal, purpose: str) -> LeadInFull:
    """The lead with what was reported, the exchange with the reporter, the reports of
    the same matter and its history. Recorded as read."""
    row = await find(ledger, key, principal)
    lead_id: str = row["lead_id"]
    await viewed(ledger, lead_id, principal, purpose)
    ledger_history, directive_history = await ledger.history(lead_id)
    async with ledger.runtime.database.async_engine.connect() as conn:
        report = await queries.report_of(conn, lead_id)
        thread = await queries.thread_of(conn, lead_id)
        duplicates = await queries.duplicates_of(conn, principal, lead_id)
    return LeadInFull(row, ledger_history, directive_history, report, thread, duplicates)


async def page(
    ledger: Ledger, principal: Principal, filters: Filters, number: int, size: int
) -> tuple[int, list[dict[str, Any]]]:
    async with ledger.runtime.database.async_engine.connect() as conn:
        return await queries.page(conn, principal, filters, utc_now(), number, size)


async def unanswered(
    ledger: Ledger, principal: Principal, days: int | None
) -> list[dict[str, Any]]:
    older_than: timedelta = ledger.settings.unanswered_after(days)
    async with ledger.runtime.database.async_engine.connect() as conn:
        return await queries.unanswered(conn, principal, older_than, utc_now())


async def statistics(ledger: Ledger, principal: Principal) -> dict[str, dict[str, int]]:
    async with ledger.runtime.database.async_engine.connect() as conn:
        return await queries.statistics(conn, principal)


async def export_rows(
    ledger: Ledger, principal: Principal, fmt: str, filters: Filters
) -> list[dict[str, Any]]:
    """The rows of an export, recorded as exported."""
    async with ledger.runtime.database.async_engine.connect() as conn:
        rows = await queries.all_rows(conn, principal, filters, utc_now())
    await exported(ledger, principal, fmt, filters, len(rows))
    return rows


async def timeliness(ledger: Ledger, principal: Principal) -> queries.Timeliness:
    async with ledger.runtime.database.async_engine.connect() as conn:
        return await queries.timeliness(conn, principal, utc_now())


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
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CATCH_UP_SECONDS
    while True:
        async with runtime.database.async_engine.connect() as conn:
            applied = await queries.applied_position(conn, PROJECTION.key, Stream.LEDGER.value)
        if applied >= (last.seq or 0):
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
