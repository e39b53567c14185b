"""Reads of intake's read model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from intake.projection.tables import feedback, receipts, reports
from intake.vault import identity_keys


@dataclass(frozen=True)
class ReceiptView:
    lead_id: str
    progress: str
    reported_at: datetime
    feedback: tuple[tuple[str, datetime], ...]


async def by_receipt(conn: AsyncConnection, receipt_hash: str) -> ReceiptView | None:
    row = (
        await conn.execute(
            select(reports.c.lead_id, reports.c.progress, reports.c.reported_at)
            .join(receipts, receipts.c.lead_id == reports.c.lead_id)
            .where(receipts.c.receipt_hash == receipt_hash)
        )
    ).first()
    if row is None:
        return None
    answers = await conn.execute(
        select(feedback.c.text, feedback.c.given_at)
        .where(feedback.c.lead_id == row.lead_id)
        .order_by(feedback.c.given_at)
    )
    return ReceiptView(
        lead_id=row.lead_id,
        progress=row.progress,
        reported_at=row.reported_at,
        feedback=tuple((a.text, a.given_at) for a in answers),
    )


async def due_for_shredding(conn: AsyncConnection, archived_before: datetime) -> list[str]:
    """Named leads archived before the cut-off whose identity is still held."""
    rows = await conn.execute(
        select(reports.c.lead_id).where(
            reports.c.named.is_(True)
            & reports.c.identity_shredded.is_(False)
            & reports.c.archived_at.is_not(None)
            & (reports.c.archived_at < archived_before)
        )
    )
    return [r.lead_id for r in rows]


async def shredded_but_key_kept(conn: AsyncConnection) -> list[str]:
    """Leads whose shredding the log records but whose key is still held (the shredding
    was interrupted between recording it and destroying the key)."""
    rows = await conn.execute(
        select(identity_keys.c.lead_id)
        .join(reports, reports.c.lead_id == identity_keys.c.lead_id)
        .where(reports.c.identity_shredded.is_(True) & identity_keys.c.wrapped_key.is_not(None))
    )
    return [r.lead_id for r in rows]


async def keys_without_report(conn: AsyncConnection, created_before: datetime) -> list[str]:
    """Leads holding an identity key made before the cut-off but no report in the read
    model: their publication failed, or the read model has not caught up (ask the log)."""
    rows = await conn.execute(
        select(identity_keys.c.lead_id).where(
            (identity_keys.c.created_at < created_before)
            & identity_keys.c.lead_id.not_in(select(reports.c.lead_id))
        )
    )
    return [r.lead_id for r in rows]
