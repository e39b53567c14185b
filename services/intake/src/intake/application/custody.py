"""The custody of named reporters' identities: read only on a request another custodian
approved (intake.application.identity_requests), shredded for good (the key destroyed, then scrubbed from the database's files)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final, NoReturn

import structlog
from sqlalchemy import Engine

from common.application import retry_on_conflict
from common.auth import Principal
from common.events import Actor, utc_now
from common.events.catalogue import IdentityShredded
from intake.application.lead_access import check_may_read
from intake.commands import DiscloseIdentity, ShredIdentity
from intake.domain import lead as decisions
from intake.domain.custody import DirectReadEnded
from intake.vault import scrub_destroyed_keys

if TYPE_CHECKING:
    from intake.application.context import Intake

log = structlog.get_logger(__name__)

_SCRUB_ATTEMPTS: Final = 5


async def disclose_identity(intake: Intake, command: DiscloseIdentity) -> NoReturn:
    """A custodian's read on their own word alone, refused: it too goes through a request
    another custodian approves (intake.application.identity_requests). Safer than a lone
    read recorded after the fact: a record deters, a second person prevents. The lead is
    checked first, so an anonymous or shredded identity is still said to be so."""
    lead, _ = await intake.load(command.lead_id)
    decisions.identity_still_held(lead)
    raise DirectReadEnded


async def shred_identity(
    intake: Intake, command: ShredIdentity, actor: Actor, principal: Principal | None = None
) -> None:
    """Record the shredding, then destroy the key, then scrub the database files.

    A person (``principal``) shreds only a lead they may read (common.visibility): another
    town's lead answers as one that does not exist, before anything is decided. The
    retention job, a principal of no one, shreds every expired lead.

    Recorded first: a key destroyed with no event saying who did it and when must not
    happen. Shredding does not depend on what else happened to the lead, so an append that
    lost a race (the duplicate detector may append meanwhile) is decided again on the new
    history, even when a person asked. Should the process die after the append, the key is
    destroyed by the next call or by the retention job (``finish_shredding``)."""

    async def attempt() -> IdentityShredded:
        lead, sequence = await intake.load(command.lead_id)
        if principal is not None:
            await check_may_read(intake, lead, principal)
        try:
            event = decisions.shred(lead, command.reason, actor)
        except decisions.IdentityAlreadyShredded:
            await destroy_key(intake, command.lead_id)
            raise
        await intake.store.append(event, expected_sequence=sequence)
        return event

    event = await retry_on_conflict(attempt)
    log.warning("identity_shredded", lead_id=command.lead_id, event_id=event.event_id)
    await destroy_key(intake, command.lead_id)


async def destroy_key(intake: Intake, lead_id: str) -> None:
    async with intake.engine.begin() as conn:
        destroyed = await intake.vault.shred(conn, lead_id, utc_now())
    if destroyed:
        intake.scrubber.pending = True
        await intake.scrubber.scrub()


class KeyScrubber:
    """Makes destroyed keys unrecoverable from the database's files (WAL, free pages, dead
    row versions); retried in the background until it succeeds."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Whether a destroyed key may still sit in a database file; true at start, since a
        # process that stopped mid-shred left no note of it.
        self.pending = True

    async def scrub(self) -> bool:
        if not self.pending:
            return True
        # Short transactions (a projection batch, a report) hold the old row version or the
        # log for a moment: a few quick tries usually finish it while the custodian waits
        # for the answer.
        for attempt in range(_SCRUB_ATTEMPTS):
            if await asyncio.to_thread(scrub_destroyed_keys, self.engine):
                self.pending = False
                log.info("identity_keys_scrubbed")
                return True
            await asyncio.sleep(0.1 * (attempt + 1))
        log.warning("identity_key_scrub_postponed", reason="database busy")
        return False
