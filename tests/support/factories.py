"""Events with unique ids, for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from common.events import Actor, Role
from common.events.catalogue import LeadRegistered, LeadReported, LeadSupplemented, ReporterRef
from common.vocabulary import Category, Channel

CLERK = Actor(role=Role.CLERK, unit="shd-office", user="clerk")
OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")

# The township's clock (UTC+8): years, months and the export's times turn in China time.
# Said here again, not taken from common.times, so that a wrong offset there shows.
CHINA = timezone(timedelta(hours=8))


def new_lead_id() -> str:
    return uuid.uuid4().hex


def reported(lead_id: str | None = None, summary: str = "a casino in the old mill") -> LeadReported:
    return LeadReported(
        lead_id=lead_id or new_lead_id(),
        channel=Channel.HOTLINE,
        category=Category.CULT_VICE,
        summary=summary,
        reporter=ReporterRef(kind="anonymous"),
        actor=CLERK,
    )


def supplemented(lead_id: str, text: str = "they open at night") -> LeadSupplemented:
    return LeadSupplemented(lead_id=lead_id, text=text, actor=CLERK)


def registered(lead_id: str, number: int) -> LeadRegistered:
    """``lead_id`` filed by the office under SHD-2026-<number>, for a ledger scripted on
    LEDGER without a running registrar."""
    return LeadRegistered(
        for_committee=False,
        lead_id=lead_id,
        ledger_number=f"SHD-2026-{number:06d}",
        unit="shd-office",
        reported_at=datetime(2026, 3, 1, tzinfo=UTC),
        channel=Channel.HOTLINE,
        category=Category.VILLAGE_TYRANT,
        summary="村霸强占集体土地",
        village="shd-v03",
        actor=OFFICE,
    )
