"""The notices the office issued, on the committee's side: the criticism notices to act
on, and the accountability the committee attaches to one (an event of its own, on its
private stream). The notice is read as the ledger issued it, from the LEDGER stream; the
ledger never reads what the committee decides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

import structlog

from common.auth import Principal
from common.errors import NotFound
from common.events import Event
from common.events.notices import NoticeIssued
from common.subjects import Stream
from oversight.application.towns import towns_seen
from oversight.domain import notices as rules
from oversight.projection import notice_queries

if TYPE_CHECKING:
    from oversight.application.context import Oversight

log = structlog.get_logger(__name__)

KIND: Final = "notice"


async def _issued(ox: Oversight, notice_id: str) -> NoticeIssued | None:
    history = await ox.runtime.store(Stream.LEDGER).read_item(KIND, notice_id)
    return next((s.event for s in history.events if isinstance(s.event, NoticeIssued)), None)


async def hold_accountable(
    ox: Oversight,
    principal: Principal,
    notice_id: str,
    *,
    person: str,
    kind: Literal["public_criticism", "accountability"],
    form: int,
    reason: str,
) -> Event:
    """Decided on the issued notice and the committee's earlier decisions on it (read back
    by their subjects), appended with the last sequence of those."""
    store = ox.runtime.store(Stream.OVERSIGHT)
    issued = await _issued(ox, notice_id)
    if issued is not None and not towns_seen(ox.runtime.org, principal).has_unit(issued.unit):
        # Another town's notice is, to a town's committee, one that was never issued.
        issued = None
    decided = await store.read_item(KIND, notice_id)
    event = rules.hold_accountable(issued, person, kind, form, reason, principal.actor)
    await store.append(event, expected_sequence=decided.last_sequence)
    log.info("notice_accountability", notice_id=notice_id, event_id=event.event_id)
    return event


async def issued(
    ox: Oversight, principal: Principal, kind: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    towns = towns_seen(ox.runtime.org, principal)
    async with ox.runtime.database.async_engine.connect() as conn:
        return await conn.run_sync(lambda c: notice_queries.issued(c, towns, kind, limit, offset))


async def one(ox: Oversight, principal: Principal, notice_id: str) -> dict[str, Any]:
    towns = towns_seen(ox.runtime.org, principal)
    async with ox.runtime.database.async_engine.connect() as conn:
        found = await conn.run_sync(lambda c: notice_queries.one(c, notice_id, towns))
    if found is None:
        raise NotFound(rules.NO_SUCH_NOTICE)
    return found
