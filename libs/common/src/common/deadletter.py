"""Parking: an event a consumer cannot apply goes to the service's dead-letter stream with
the reason, and the consumer moves on. Operators list and retry parked events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from nats.js import JetStreamContext

from common.subjects import DLQ_STREAM, Service, dlq_subject

HEADER_REASON: Final = "Dlq-Reason"
HEADER_STREAM: Final = "Dlq-Stream"
HEADER_SEQUENCE: Final = "Dlq-Sequence"
HEADER_SUBJECT: Final = "Dlq-Subject"
HEADER_CONSUMER: Final = "Dlq-Consumer"
HEADER_RESOLVES: Final = "Dlq-Resolves"
# Set on a parked copy without the message's body: read it from its stream by sequence.
HEADER_BY_REFERENCE: Final = "Dlq-By-Reference"
# What a parked copy may carry: far below NATS's max_payload (1 MiB by default), whose
# excess would close the connection for good, headers and all.
MAX_PARKED_BYTES: Final = 512 * 1024
RESOLVED: Final = "_resolved"


@dataclass(frozen=True, slots=True)
class Parked:
    """What a parked message says about where it came from and why it stopped."""

    consumer: str
    stream: str
    sequence: int
    subject: str
    reason: str
    data: bytes
    headers: dict[str, str]


class DeadLetters:
    def __init__(self, js: JetStreamContext, service: Service) -> None:
        self._js = js
        self.service = service
        self.stream = DLQ_STREAM[service]

    async def park(self, parked: Parked) -> int:
        """Store the message with its reason; returns the dead-letter stream sequence.

        The id is derived from the origin, so parking the same delivery twice (a crash
        between parking and acknowledging) stores it once. A message too large to copy
        (whoever could publish it near the broker's limit) is parked by reference: its
        stream and sequence, without its body or headers."""
        data = parked.data
        headers = {k: v for k, v in parked.headers.items() if not k.startswith("Nats-")}
        if len(data) + sum(len(k) + len(v) for k, v in headers.items()) > MAX_PARKED_BYTES:
            data, headers = b"", {HEADER_BY_REFERENCE: f"{len(parked.data)} bytes"}
        headers.update(
            {
                "Nats-Msg-Id": f"{parked.stream}:{parked.sequence}:{parked.consumer}",
                HEADER_REASON: parked.reason[:1000],
                HEADER_STREAM: parked.stream,
                HEADER_SEQUENCE: str(parked.sequence),
                HEADER_SUBJECT: parked.subject,
                HEADER_CONSUMER: parked.consumer,
            }
        )
        ack = await self._js.publish(
            dlq_subject(self.service, parked.consumer),
            data,
            stream=self.stream.value,
            headers=headers,
        )
        return ack.seq

    async def resolve(self, sequence: int, how: str) -> None:
        """Record that the parked message at ``sequence`` was applied after all."""
        await self._js.publish(
            dlq_subject(self.service, RESOLVED),
            how.encode(),
            stream=self.stream.value,
            headers={"Nats-Msg-Id": f"resolved:{sequence}", HEADER_RESOLVES: str(sequence)},
        )
