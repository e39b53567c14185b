"""Pure handlers that fold what intake recorded into the ledger's read side: what was
reported, the exchange with the reporter, the reports of the same matter, and the text a
search looks through.

Only what the people handling a lead read is kept. The reporter's identity (ciphertext)
and the receipt's hash stay in intake: nothing here reads them off the event."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from common.batchwriter import BatchWriter
from common.events import Event
from common.events.catalogue import (
    Attachment,
    DuplicateSuspected,
    FeedbackGiven,
    LeadReported,
    LeadSupplemented,
    ReporterMessagePosted,
)
from common.thread import FEEDBACK, MESSAGE, SUPPLEMENT, attachments_json, entry
from ledger.projection.search import doc_number
from ledger.projection.tables import duplicates, leads, reports, search_texts, thread


def reported(db: BatchWriter, event: LeadReported) -> None:
    db.put(
        reports,
        {
            "lead_id": event.lead_id,
            "reported_at": event.occurred_at,
            "channel": event.channel.value,
            "summary": event.summary,
            "details": event.details,
            "attachments": attachments_json(event.attachments),
        },
    )
    _searchable(db, event.lead_id, "\n".join(t for t in (event.summary, event.details) if t))


def supplemented(db: BatchWriter, event: LeadSupplemented) -> None:
    _entry(db, event, SUPPLEMENT, event.text, event.attachments)
    _searchable(db, event.lead_id, event.text)


def message_posted(db: BatchWriter, event: ReporterMessagePosted) -> None:
    _entry(db, event, MESSAGE, event.text, ())
    _searchable(db, event.lead_id, event.text)


def answered(db: BatchWriter, event: FeedbackGiven) -> None:
    """The answer, as an entry of the exchange (the lead's row is the projector's)."""
    _entry(db, event, FEEDBACK, event.text, (), method=event.method)


def duplicate_suspected(db: BatchWriter, event: DuplicateSuspected) -> None:
    for one, other in ((event.lead_id, event.duplicate_of), (event.duplicate_of, event.lead_id)):
        db.put(
            duplicates,
            {
                "lead_id": one,
                "other_lead_id": other,
                "alike_because": event.basis,
                "suspected_at": event.occurred_at,
            },
        )


def _entry(
    db: BatchWriter,
    event: Event,
    kind: str,
    text: str,
    attachments: Iterable[Attachment],
    method: str | None = None,
) -> None:
    db.put(thread, entry(event, kind, text, attachments, method))


def _searchable(db: BatchWriter, lead_id: str | None, text: str) -> None:
    """Add ``text`` to what a search of the lead looks through (one line each, so no
    search text spans two of them)."""
    if not lead_id or not text:
        return
    row: dict[str, Any] | None = db.get(search_texts, lead_id)
    if row is None:
        # Numbered in the list's order once filed; until then (intake's report read before
        # the ledger filed it) the registration numbers it.
        lead = db.get(leads, lead_id)
        doc = doc_number(lead["registered_at"], lead["ledger_number"]) if lead else None
        row = {"lead_id": lead_id, "doc": doc, "body": text}
        if doc is None:
            _numbering(db).setdefault(lead_id, None)
    else:
        row["body"] = f"{row['body']}\n{text}"
    db.put(search_texts, row)


def filed(db: BatchWriter, lead_id: str, doc: int) -> None:
    """Number the lead's text, now that it is filed: searched from now on, in its place.

    Most leads have no text yet when filed (intake's report comes after, or never, in a
    rebuild of the ledger alone): rather than a SELECT per new lead, a text of this batch
    is numbered here and those of earlier batches with one query at the batch's end."""
    waiting = _numbering(db)
    if lead_id in waiting:
        text = db.get(search_texts, lead_id)
        if text is not None:
            text["doc"] = doc
            db.put(search_texts, text)
            return
    waiting[lead_id] = doc


def _numbering(db: BatchWriter) -> dict[str, int | None]:
    """The batch's leads filed (their text's number) or with a text made unnumbered in it
    (None)."""
    return db.folded(search_texts.name, _number_stored)


def _number_stored(db: BatchWriter, waiting: dict[str, int | None]) -> None:
    filed = [lead_id for lead_id, doc in waiting.items() if doc is not None]
    column = search_texts.c.lead_id
    for start in range(0, len(filed), _IN_LIST):
        stored = db.conn.execute(
            select(column).where(column.in_(filed[start : start + _IN_LIST]))
        ).scalars()
        for lead_id in list(stored):
            # Through the batch: the text may have grown in it since.
            text, doc = db.get(search_texts, lead_id), waiting[lead_id]
            if text is not None and text["doc"] != doc:
                text["doc"] = doc
                db.put(search_texts, text)


# Lead ids per query: below every driver's limit of bound parameters.
_IN_LIST = 500
