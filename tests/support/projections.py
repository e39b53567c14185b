"""A small projection for exercising the platform: it records every application, so an
event applied twice or skipped is visible in the rows."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, func, select

from common.batchwriter import BatchWriter
from common.events import Event
from common.projection import Projection

metadata = MetaData()

applications = Table(
    "applications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),  # deliberately not unique
    Column("lead_id", String(64)),
    Column("event_type", String(64), nullable=False),
)

FAIL_ON_SUMMARY = "make the handler fail"


def record(db: BatchWriter, event: Event) -> None:
    if getattr(event, "summary", None) == FAIL_ON_SUMMARY:
        raise RuntimeError("handler refuses this event")
    db.add(
        applications,
        {"event_id": event.event_id, "lead_id": event.lead_id, "event_type": event.event_type},
    )


def recording_projection(name: str = "recording") -> Projection:
    return Projection(
        name=name,
        metadata=metadata,
        handlers={"LeadReported": record, "LeadSupplemented": record},
    )


def applied(conn: Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        select(applications.c.event_id, applications.c.event_type).order_by(applications.c.id)
    )
    return [(r.event_id, r.event_type) for r in rows]


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(applications)).scalar_one())
