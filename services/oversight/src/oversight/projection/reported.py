"""Pure handlers folding what was reported and the exchange with the reporter into
oversight's read side, keyed by lead: the committee reads them on its cases, and a case
may open after them (on a transfer), so they are kept for every lead.

Only what the people handling a lead read is kept. The reporter's identity (ciphertext),
the receipt's hash and whether the reporter gave a name stay in intake: nothing here reads
them off the event."""

from __future__ import annotations

from collections.abc import Iterable

from common.batchwriter import BatchWriter
from common.events import Event
from common.events.catalogue import (
    Attachment,
    FeedbackGiven,
    LeadReported,
    LeadSupplemented,
    ReporterMessagePosted,
)
from common.thread import FEEDBACK, MESSAGE, SUPPLEMENT, attachments_json, entry
from oversight.projection.tables import reports, thread


def reported(db: BatchWriter, event: LeadReported) -> None:
    db.put(
        reports,
        {
            "lead_id": event.lead_id,
            "reported_at": event.occurred_at,
            "channel": event.channel.value,
            "category": event.category.value,
            "village": event.village,
            "summary": event.summary,
            "details": event.details,
            "attachments": attachments_json(event.attachments),
        },
    )


def supplemented(db: BatchWriter, event: LeadSupplemented) -> None:
    _entry(db, event, SUPPLEMENT, event.text, event.attachments)


def message_posted(db: BatchWriter, event: ReporterMessagePosted) -> None:
    _entry(db, event, MESSAGE, event.text, ())


def answered(db: BatchWriter, event: FeedbackGiven) -> None:
    """The ledger's answer, as an entry of the exchange (the lead's row is the projector's)."""
    _entry(db, event, FEEDBACK, event.text, (), method=event.method)


def _entry(
    db: BatchWriter,
    event: Event,
    kind: str,
    text: str,
    attachments: Iterable[Attachment],
    method: str | None = None,
) -> None:
    db.put(thread, entry(event, kind, text, attachments, method))
