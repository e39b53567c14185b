"""What intake keeps only for a while: identities past their retention period after the
lead is archived, shreddings interrupted before the key went, idempotency claims, spent
proofs of work, and the keys of reports that never reached the log."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

import structlog

from common.application import for_each_due
from common.events import Actor, Role, utc_now
from intake.application.custody import destroy_key, shred_identity
from intake.commands import ShredIdentity
from intake.domain import lead as decisions
from intake.projection.queries import (
    due_for_shredding,
    keys_without_report,
    shredded_but_key_kept,
)

if TYPE_CHECKING:
    from intake.application.context import Intake

log = structlog.get_logger(__name__)

RETENTION: Final = Actor(role=Role.SYSTEM, user="retention")
#: a key whose report is not in the log this long after it was made never will be
ORPHANED_AFTER: Final = timedelta(days=1)


async def apply_retention(intake: Intake) -> None:
    """Shred identities past their retention period; forget old idempotency claims and the
    keys of reports that never reached the log."""
    shredded = await shred_expired(intake) + await finish_shredding(intake)
    forgotten = await intake.claims.forget_old() + await intake.work.forget_spent()
    orphans = await forget_orphan_keys(intake)
    if shredded or forgotten or orphans:
        log.info(
            "retention_done",
            identities_shredded=shredded,
            claims_forgotten=forgotten,
            orphan_keys_removed=orphans,
        )


async def shred_expired(intake: Intake) -> int:
    """Shred the identities of leads archived longer ago than the retention period."""
    cutoff = utc_now() - intake.settings.retention
    async with intake.engine.connect() as conn:
        due = await due_for_shredding(conn, cutoff)
    reason = "retention period after archiving expired"

    async def shred(lead_id: str) -> bool:
        try:
            await shred_identity(intake, ShredIdentity(lead_id, reason), RETENTION)
        except (decisions.IdentityAlreadyShredded, decisions.NotNamed):
            return False
        return True

    return await for_each_due(due, shred, job="retention")


async def finish_shredding(intake: Intake) -> int:
    """Destroy the keys of leads whose shredding was recorded but not carried out (the
    process stopped in between)."""
    async with intake.engine.connect() as conn:
        due = await shredded_but_key_kept(conn)
    for lead_id in due:
        await destroy_key(intake, lead_id)
    return len(due)


async def forget_orphan_keys(intake: Intake, older_than: timedelta = ORPHANED_AFTER) -> int:
    """Remove identity keys of reports whose publication failed (no LeadReported in the log
    a day later): they seal nothing anyone can ever read."""
    async with intake.engine.connect() as conn:
        candidates = await keys_without_report(conn, utc_now() - older_than)
    removed = 0
    for lead_id in candidates:
        if (await intake.store.read_lead(lead_id)).events:
            continue  # in the log after all; the read model will catch up
        async with intake.engine.begin() as conn:
            await intake.vault.forget_key(conn, lead_id)
        removed += 1
    return removed
