"""The exchange with a reporter as the people handling a lead read it: one row an entry
(what the reporter, or staff for them, added and wrote on INTAKE; the answers given on
LEDGER). The ledger and oversight each keep it in their own database, in the same shape."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import Column, Index, MetaData, String, Table, Text

from common.database import UtcDateTime
from common.events import Event
from common.events.catalogue import Attachment

SUPPLEMENT: Final = "supplement"
MESSAGE: Final = "message"
FEEDBACK: Final = "feedback"


def thread_table(metadata: MetaData, name: str) -> Table:
    """The thread's table, named for the service that keeps it."""
    return Table(
        name,
        metadata,
        Column("event_id", String(64), primary_key=True),
        Column("lead_id", String(64), nullable=False),
        Column("kind", String(20), nullable=False),
        Column("occurred_at", UtcDateTime, nullable=False),
        Column("author_role", String(20), nullable=False),
        Column("author_unit", String(40)),
        Column("author_user", String(64)),
        Column("text", Text, nullable=False),
        Column("attachments", Text, nullable=False, default="[]"),
        Column("method", String(40)),
        Index(f"ix_{name}_lead", "lead_id", "occurred_at"),
    )


def attachments_json(attachments: Iterable[Attachment]) -> str:
    """File references as a column keeps them: the files themselves are kept elsewhere."""
    return json.dumps(
        [{"name": a.name, "size": a.size, "sha256": a.sha256} for a in attachments],
        ensure_ascii=False,
    )


def entry(
    event: Event,
    kind: str,
    text: str,
    attachments: Iterable[Attachment] = (),
    method: str | None = None,
) -> dict[str, Any]:
    """One entry of the thread: who wrote it and when, never who reported."""
    return {
        "event_id": event.event_id,
        "lead_id": event.lead_id,
        "kind": kind,
        "occurred_at": event.occurred_at,
        "author_role": event.actor.role.value,
        "author_unit": event.actor.unit,
        "author_user": event.actor.user,
        "text": text,
        "attachments": attachments_json(attachments),
        "method": method,
    }
