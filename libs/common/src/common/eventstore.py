"""The event store: JetStream streams holding each lead's events on its own subjects.

A write names the sequence of the last event the writer saw for that lead; JetStream
refuses it if another event landed on the lead in between (optimistic concurrency). The
event id doubles as ``Nats-Msg-Id``, so a retried publish is stored once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Final

import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import APIError, NotFoundError

from common.errors import RuleViolation
from common.events import Event, EventDecodeError, decode, encode, event_type_of
from common.subjects import (
    Stream,
    item_filter,
    item_subject,
    lead_filter,
    lead_subject,
    subject_matches,
)

log = structlog.get_logger(__name__)

# JSErrCodeStreamWrongLastSequence: the expected-last-subject-sequence check failed.
_WRONG_LAST_SEQUENCE: Final = 10071


class ConcurrencyConflict(Exception):
    """Another event was appended to the lead (or the notice, the task: ``kind``) after the
    writer read it."""

    def __init__(self, lead_id: str | None, expected: int, kind: str = "lead") -> None:
        super().__init__(f"{kind} {lead_id} changed after sequence {expected}")
        self.lead_id = lead_id
        self.expected = expected
        self.kind = kind


# The largest event any service appends. NATS refuses a message over its max_payload (1 MiB
# by default) by closing the publisher's connection for good; an event under a quarter of
# it also leaves room for the headers of a parked copy. The largest event the APIs allow
# (a report with 10,000 characters of details) is under 70 KiB.
MAX_EVENT_BYTES: Final = 256 * 1024


class EventTooLarge(RuleViolation):
    """An event over MAX_EVENT_BYTES: refused before it is sent."""

    def __init__(self, size: int) -> None:
        super().__init__(
            f"the record would be {size // 1024} KiB, over the limit of"
            f" {MAX_EVENT_BYTES // 1024} KiB: shorten the text",
            f"内容过长（{size // 1024} KiB，上限 {MAX_EVENT_BYTES // 1024} KiB），请精简",
        )
        self.size = size


class LogUnavailable(Exception):
    """The stream does not answer (JetStream down or unreachable): nothing was stored."""


class AppendOutcomeUnknown(LogUnavailable):
    """The append was sent but no acknowledgement came back: it may have been stored.
    Retrying with the same event id (an Idempotency-Key over HTTP) is safe."""


@dataclass(frozen=True, slots=True)
class Appended:
    sequence: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class StoredEvent:
    sequence: int
    subject: str
    event: Event


@dataclass(frozen=True, slots=True)
class LeadHistory:
    """One lead's events in one stream, and the sequence a next write must expect."""

    events: tuple[StoredEvent, ...]
    last_sequence: int


class EventStore:
    """Appends to and reads from one stream under one subject prefix.

    ``subject_prefix`` is the stream's top token (``ledger``) or, for the shared audit
    stream, ``audit.<service>``.
    """

    def __init__(
        self,
        js: JetStreamContext,
        stream: Stream,
        subject_prefix: str,
        timeout: float = 5.0,
    ) -> None:
        self._js = js
        self.stream = stream
        self.subject_prefix = subject_prefix
        self._timeout = timeout
        self._family = subject_prefix.split(".", 1)[0]

    def subject_for(self, event: Event) -> str:
        if event.prefix != self._family:
            raise ValueError(f"{event.event_type} does not belong on {self.subject_prefix}.>")
        if event.subject_kind == "lead":
            return lead_subject(self.subject_prefix, event.lead_id, event.event_type)
        return item_subject(
            self.subject_prefix, event.subject_kind, event.subject_id or "", event.event_type
        )

    def _own_filter(self, event: Event) -> str:
        if event.subject_kind == "lead":
            return lead_filter(self.subject_prefix, event.lead_id or "")
        return item_filter(self.subject_prefix, event.subject_kind, event.subject_id or "")

    async def append(
        self,
        event: Event,
        *,
        expected_sequence: int | None = None,
        expected_subject: str | None = None,
    ) -> Appended:
        """Store one event once JetStream has acknowledged it.

        ``expected_sequence`` is ``LeadHistory.last_sequence`` from the read the decision was
        made on (0: the lead has no events here yet); ``None`` appends unconditionally. The
        check is on the lead's subjects, or on ``expected_subject`` (a filter, wildcards
        allowed) when the decision was made on something wider than one lead.
        """
        subject = self.subject_for(event)
        data = encode(event)
        if len(data) > MAX_EVENT_BYTES:
            raise EventTooLarge(len(data))
        headers = {"Nats-Msg-Id": event.event_id}
        if expected_sequence is not None:
            if expected_subject is None and event.subject_id is None:
                raise ValueError("a conditional append needs a lead id or a subject filter")
            headers["Nats-Expected-Last-Subject-Sequence"] = str(expected_sequence)
            headers["Nats-Expected-Last-Subject-Sequence-Subject"] = (
                expected_subject or self._own_filter(event)
            )
        if not self._js._nc.is_connected:
            # Not sent at all (a message published while reconnecting would be buffered and
            # might land later, leaving the outcome unknown): surely not stored.
            raise LogUnavailable(self.stream.value)
        try:
            ack = await self._js.publish(
                subject,
                data,
                timeout=self._timeout,
                stream=self.stream.value,
                headers=headers,
            )
        except APIError as exc:
            if exc.err_code == _WRONG_LAST_SEQUENCE and expected_sequence is not None:
                raise ConcurrencyConflict(
                    event.subject_id, expected_sequence, event.subject_kind
                ) from exc
            raise
        except nats.errors.NoRespondersError as exc:
            raise LogUnavailable(self.stream.value) from exc
        except (TimeoutError, nats.errors.Error) as exc:
            # The message may be on its way or stored and only the answer lost: a
            # client buffer is flushed on reconnect. Only a retry under the same event id
            # (Nats-Msg-Id) can tell, and it is deduplicated.
            raise AppendOutcomeUnknown(self.stream.value) from exc
        return Appended(sequence=ack.seq, duplicate=bool(ack.duplicate))

    async def read_lead(self, lead_id: str) -> LeadHistory:
        """Every event of one lead in this stream, in order, read from the stream itself
        (not from a projection, which may lag). A message no append stored is left out of
        the history (see ``appended_id``), but its sequence still guards the next append."""
        return await self.read_subject(lead_filter(self.subject_prefix, lead_id))

    async def read_item(self, kind: str, item_id: str) -> LeadHistory:
        """Every event of one thing of another kind (``notice``), as :meth:`read_lead`."""
        return await self.read_subject(item_filter(self.subject_prefix, kind, item_id))

    async def read_subject(self, wanted: str) -> LeadHistory:
        events: list[StoredEvent] = []
        last_sequence = 0
        async for msg in read_messages(self._js, self.stream.value, wanted, stored_headers=True):
            subject = msg.subject or wanted
            last_sequence = msg.seq or 0
            # Checked before decoding: a planted copy need not even be an event, and must
            # not stop every decision on the lead by failing to decode.
            appended = appended_id(msg.headers)
            if appended is None:
                self._ignored(msg)
                continue
            event = decode(msg.data or b"", event_type_of(subject))
            if event.event_id != appended:
                self._ignored(msg)
                continue
            events.append(StoredEvent(sequence=last_sequence, subject=subject, event=event))
        return LeadHistory(events=tuple(events), last_sequence=last_sequence)

    def _ignored(self, msg: RawStreamMsg) -> None:
        log.warning(
            "unappended_message_ignored",
            security_event=True,
            stream=self.stream.value,
            seq=msg.seq,
            subject=msg.subject,
        )

    async def last_readable(
        self, wanted: str, usable: Callable[[Event], bool] = lambda _: True
    ) -> tuple[int, StoredEvent | None]:
        """The sequence of the last message on ``wanted``, and the last event there that
        can be read. A message that does not decode (a bug, a hostile writer) is parked by
        the consumers; it must not also stop whoever decides on the last event (the ledger
        numbers each registration after the last one), so it is stepped over here while
        its sequence still guards the append."""
        try:
            msg = await self._js.get_msg(self.stream.value, subject=wanted)
        except NotFoundError:
            return 0, None
        last_sequence = msg.seq or 0
        sequence = last_sequence
        while sequence > 0:
            subject = msg.subject or wanted
            if subject_matches(subject, wanted):
                try:
                    event = decode(msg.data or b"", event_type_of(subject))
                except EventDecodeError:
                    log.warning(
                        "unreadable_event_stepped_over", stream=self.stream.value, seq=sequence
                    )
                else:
                    if appended_id(msg.headers) != event.event_id:
                        self._ignored(msg)
                    elif usable(event):
                        return last_sequence, StoredEvent(sequence, subject, event)
            sequence -= 1
            if sequence == 0:
                break
            try:
                msg = await self._js.get_msg(self.stream.value, seq=sequence)
            except NotFoundError:
                continue
        return last_sequence, None


# Headers the broker puts on a copy of a stored message (a direct read's answer). A message
# stored with them was not appended: it is such a copy, which the broker itself published to
# a reply subject the asker chose, inside another stream's subjects. nats-server does not
# check a reply subject against the asker's permissions, so any service could plant one.
_BROKER_HEADERS: Final = ("Nats-Stream", "Nats-Subject", "Nats-Sequence", "Nats-Time-Stamp")


def appended_id(headers: Mapping[str, str] | None) -> str | None:
    """The event id a message stored by :meth:`EventStore.append` carries (its
    ``Nats-Msg-Id``, which is the event's id), or None for a message no append stored.

    Readers take an event only when this equals the event's own id. That refuses what the
    broker can be made to store in a stream by a user who may not publish there: a direct
    read's answer sent to a reply subject in that stream (with the broker's headers, or
    none at all), or a publish acknowledgement or API answer (not an event)."""
    if not headers or any(name in headers for name in _BROKER_HEADERS):
        return None
    return headers.get("Nats-Msg-Id")


async def read_messages(
    js: JetStreamContext,
    stream: str,
    wanted: str = ">",
    from_sequence: int = 1,
    *,
    stored_headers: bool = False,
) -> AsyncIterator[RawStreamMsg]:
    """The stored messages of ``stream`` on subjects matching ``wanted``, in order, by
    direct reads: no consumer is made, so a read-only user can do it.

    ``stored_headers`` reads through the stream API instead, which answers with the headers
    as stored; a direct read adds the broker's own ``Nats-*`` headers over them, and so
    hides those a copied message carries (see ``appended_id``)."""
    sequence = from_sequence
    direct = not stored_headers
    while True:
        try:
            msg = await js.get_msg(stream, seq=sequence, subject=wanted, direct=direct, next=True)
        except NotFoundError:
            return
        except (TimeoutError, nats.errors.Error) as exc:
            raise LogUnavailable(stream) from exc
        yield msg
        sequence = (msg.seq or sequence) + 1
