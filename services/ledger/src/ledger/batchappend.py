"""Appending several events as one atomic batch (JetStream's atomic batch publish, ADR-50).

The server stores all of them, one after the other with nothing in between, or none; each
may carry the expected sequence its decision was made on, so a batch decided on a stale
read is refused as a whole. Every message but the last is published without waiting; the commit's
acknowledgement answers for the batch, so a batch costs one round trip and one write to
disk instead of one of each per event. The stream must allow it (``allow_atomic``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import nats.errors
import orjson
from nats.js import JetStreamContext

from common.events import Event, encode
from common.eventstore import (
    MAX_EVENT_BYTES,
    AppendOutcomeUnknown,
    ConcurrencyConflict,
    EventStore,
    EventTooLarge,
    LogUnavailable,
)

# JSErrCodes the commit can answer with.
_WRONG_LAST_SEQUENCE: Final = 10071
_ATOMIC_DISABLED: Final = 10174
_DUPLICATE_IN_BATCH: Final = 10201
# nats-server's default limit of messages in one atomic batch.
MAX_BATCH: Final = 1000


class AtomicBatchRefused(Exception):
    """The server took none of the batch, for a reason other than a stale read."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"atomic batch refused ({code}): {description}")
        self.code = code

    @property
    def disabled(self) -> bool:
        """The stream does not allow atomic batches (``allow_atomic`` is off)."""
        return self.code == _ATOMIC_DISABLED

    @property
    def duplicate(self) -> bool:
        """One of the events was stored before (its id is a ``Nats-Msg-Id`` already seen)."""
        return self.code == _DUPLICATE_IN_BATCH


@dataclass(frozen=True, slots=True)
class Expect:
    """An event of a batch is stored only if the last message on ``subject`` (a filter,
    wildcards allowed) is at ``sequence`` (0: there is none)."""

    sequence: int
    subject: str


async def append_batch(
    js: JetStreamContext,
    store: EventStore,
    events: Sequence[tuple[Event, Expect | None]],
    *,
    timeout: float = 5.0,
) -> int:
    """Stores ``events`` in order, all or none, if each one's expectation holds when it is
    stored (checked against what the stream holds and the batch's own events before it);
    returns the stream sequence of the last one (the others precede it one by one)."""
    if not events:
        raise ValueError("an atomic batch needs at least one event")
    if len(events) > MAX_BATCH:
        raise ValueError(f"an atomic batch holds at most {MAX_BATCH} events")
    encoded = []
    for event, expect in events:
        data = encode(event)
        if len(data) > MAX_EVENT_BYTES:
            raise EventTooLarge(len(data))
        encoded.append((store.subject_for(event), data, event.event_id, expect))
    nc = js._nc
    if not nc.is_connected:
        raise LogUnavailable(store.stream.value)
    batch = uuid.uuid4().hex
    last = len(encoded) - 1
    try:
        for n, (subject, data, event_id, expect) in enumerate(encoded):
            headers = {
                "Nats-Batch-Id": batch,
                "Nats-Batch-Sequence": str(n + 1),
                "Nats-Msg-Id": event_id,
            }
            if expect is not None:
                headers["Nats-Expected-Last-Subject-Sequence"] = str(expect.sequence)
                headers["Nats-Expected-Last-Subject-Sequence-Subject"] = expect.subject
            if n < last:
                await nc.publish(subject, data, headers=headers)
                continue
            headers["Nats-Batch-Commit"] = "1"
            reply = await nc.request(subject, data, headers=headers, timeout=timeout)
    except nats.errors.NoRespondersError as exc:
        raise LogUnavailable(store.stream.value) from exc
    except (TimeoutError, nats.errors.Error) as exc:
        # The commit may have been stored and only its answer lost: a retry decides on the
        # stream again, and the event ids keep a retried batch from being stored twice.
        raise AppendOutcomeUnknown(store.stream.value) from exc
    answer = orjson.loads(reply.data)
    error = answer.get("error")
    if error is not None:
        code = int(error.get("err_code", 0))
        if code == _WRONG_LAST_SEQUENCE:
            raise ConcurrencyConflict(None, next((e.sequence for _, e in events if e), 0))
        raise AtomicBatchRefused(code, str(error.get("description", "")))
    return int(answer["seq"])
