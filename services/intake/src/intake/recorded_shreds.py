"""Every shredding the log records, carried out on a key store brought back from a backup.

A backup taken before a shred still holds that identity's key. The shredding event itself
stays in INTAKE for good, so whenever a key store is restored — with the streams of the same
backup, or under streams that are newer than it — each key whose shredding the log records
is destroyed again before anyone can open it. A restore reads the shreddings first and
loads such a key as destroyed (``without_shredded_keys``), so it is never written to the
new database's files at all. A lead's evidence key destroyed (EvidenceKeyDestroyed) is
treated the same way: its files stay ciphertext for good, whatever backup is restored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import Engine, update

from common.events import EventDecodeError, decode, lead_of_subject
from common.events.catalogue import IdentityShredded
from common.events.evidence import EvidenceKeyDestroyed
from common.eventstore import appended_id, read_messages
from common.subjects import Stream
from intake.vault import evidence_keys, identity_keys, scrub_destroyed_keys

SHREDDED: str = f"intake.lead.*.{IdentityShredded.__name__}"
EVIDENCE_GONE: str = f"intake.lead.*.{EvidenceKeyDestroyed.__name__}"


async def shreds_in_log(js: JetStreamContext) -> dict[str, datetime]:
    """Each lead whose identity the log says was shredded, and when."""
    return await _recorded(js, SHREDDED, IdentityShredded)


async def evidence_keys_destroyed_in_log(js: JetStreamContext) -> dict[str, datetime]:
    """Each lead whose evidence key the log says was destroyed, and when."""
    return await _recorded(js, EVIDENCE_GONE, EvidenceKeyDestroyed)


async def _recorded(
    js: JetStreamContext, subject: str, kind: type[IdentityShredded | EvidenceKeyDestroyed]
) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    async for msg in read_messages(js, Stream.INTAKE.value, subject, stored_headers=True):
        # Only what an append stored is an event (common.eventstore.appended_id).
        try:
            event = decode(msg.data or b"", kind.__name__)
        except EventDecodeError:
            continue
        if appended_id(msg.headers) != event.event_id:
            continue
        lead_id = lead_of_subject(msg.subject or "")
        if isinstance(event, kind) and lead_id == event.lead_id:
            found[lead_id] = event.occurred_at
    return found


def without_shredded_keys(
    shredded: dict[str, datetime],
    destroyed: list[str] | None = None,
    evidence_gone: dict[str, datetime] | None = None,
) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """A row filter for loading a dumped key store: a shredded lead's key row is loaded
    as destroyed, at the moment the log says it was shredded (its lead id appended to
    ``destroyed``); so is the evidence key of a lead in ``evidence_gone``."""
    gone = evidence_gone or {}

    def row(table: str, values: dict[str, Any]) -> dict[str, Any]:
        lead_id = values.get("lead_id", "")
        if table == evidence_keys.name:
            at = gone.get(lead_id)
            if at is None or values.get("wrapped_key") is None:
                return values
            return values | {"wrapped_key": None, "destroyed_at": values.get("destroyed_at") or at}
        if table != identity_keys.name:
            return values
        at = shredded.get(lead_id)
        if at is None or values.get("wrapped_key") is None:
            return values
        if destroyed is not None:
            destroyed.append(values["lead_id"])
        return values | {"wrapped_key": None, "shredded_at": values.get("shredded_at") or at}

    return row


def destroy_shredded_keys(
    engine: Engine,
    shredded: dict[str, datetime],
    evidence_gone: dict[str, datetime] | None = None,
) -> list[str]:
    """Destroy every key still held for a lead in ``shredded`` (returns those leads), and
    every evidence key of a lead in ``evidence_gone``. The database's files are scrubbed
    afterwards (``scrub_destroyed_keys``); a database too busy for that is reported by the
    caller and scrubbed by intake's own job later."""
    destroyed: list[str] = []
    with engine.begin() as conn:
        for lead_id, at in sorted((evidence_gone or {}).items()):
            conn.execute(
                update(evidence_keys)
                .where(
                    (evidence_keys.c.lead_id == lead_id) & evidence_keys.c.wrapped_key.is_not(None)
                )
                .values(wrapped_key=None, destroyed_at=at)
            )
        for lead_id, at in sorted(shredded.items()):
            result = conn.execute(
                update(identity_keys)
                .where(
                    (identity_keys.c.lead_id == lead_id) & identity_keys.c.wrapped_key.is_not(None)
                )
                .values(wrapped_key=None, shredded_at=at)
            )
            if result.rowcount == 1:
                destroyed.append(lead_id)
    return destroyed


def scrub(engine: Engine) -> bool:
    return scrub_destroyed_keys(engine)
