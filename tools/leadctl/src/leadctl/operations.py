"""The operator's view: streams, consumers and their lag, parked events, service health,
and retrying a parked event once its cause is fixed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from common.chain import read_stream
from common.deadletter import (
    HEADER_BY_REFERENCE,
    HEADER_CONSUMER,
    HEADER_REASON,
    HEADER_RESOLVES,
    HEADER_SEQUENCE,
    HEADER_STREAM,
    HEADER_SUBJECT,
    RESOLVED,
)
from common.subjects import DLQ_STREAM, Service, Stream, dlq_subject

SERVICES = (Service.INTAKE, Service.LEDGER, Service.OVERSIGHT)


async def stream_status(js: JetStreamContext) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for stream in Stream:
        try:
            info = await js.stream_info(stream.value)
        except NotFoundError:
            found.append({"stream": stream.value, "exists": False})
            continue
        consumers = []
        for consumer in await js.consumers_info(stream.value):
            consumers.append(
                {
                    "name": consumer.name,
                    "lag": consumer.num_pending or 0,
                    "unacknowledged": consumer.num_ack_pending or 0,
                    "redelivered": consumer.num_redelivered or 0,
                }
            )
        found.append(
            {
                "stream": stream.value,
                "exists": True,
                "messages": info.state.messages,
                "bytes": info.state.bytes,
                "first_sequence": info.state.first_seq,
                "last_sequence": info.state.last_seq,
                "replicas": info.config.num_replicas,
                "consumers": consumers,
            }
        )
    return found


@dataclass(frozen=True)
class ParkedEvent:
    service: str
    sequence: int
    consumer: str
    origin_stream: str
    origin_sequence: int
    subject: str
    reason: str
    parked_at: str
    data: bytes
    resolved: bool
    # Set when the message was too large to copy: its body is read from origin_stream.
    by_reference: str = ""

    def as_dict(self, with_data: bool = False) -> dict[str, Any]:
        found = {k: v for k, v in self.__dict__.items() if k != "data"}
        if with_data:
            found["data"] = self.data.decode(errors="replace")
        return found


async def parked(js: JetStreamContext, service: Service) -> list[ParkedEvent]:
    stream = DLQ_STREAM[service].value
    resolutions = dlq_subject(service, RESOLVED)
    events, resolved = [], set()
    try:
        async for message in read_stream(js, stream):
            headers = message.headers
            if message.subject == resolutions:
                resolved.add(int(headers.get(HEADER_RESOLVES, "0")))
                continue
            events.append(
                ParkedEvent(
                    service=service.value,
                    sequence=message.sequence,
                    consumer=headers.get(HEADER_CONSUMER, ""),
                    origin_stream=headers.get(HEADER_STREAM, ""),
                    origin_sequence=int(headers.get(HEADER_SEQUENCE, "0")),
                    subject=headers.get(HEADER_SUBJECT, ""),
                    reason=headers.get(HEADER_REASON, ""),
                    parked_at=message.time,
                    data=message.data,
                    resolved=False,
                    by_reference=headers.get(HEADER_BY_REFERENCE, ""),
                )
            )
    except NotFoundError:
        return []
    return [ParkedEvent(**{**e.__dict__, "resolved": e.sequence in resolved}) for e in events]


def health(urls: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, url in urls.items():
        try:
            answer = httpx.get(f"{url}/readyz", timeout=3)
            found[name] = answer.json() | {"http": answer.status_code}
        except (httpx.HTTPError, ValueError) as exc:
            found[name] = {"status": "unreachable", "error": type(exc).__name__}
    return found


def retry(url: str, sequence: int, token: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/admin/dead-letters/{sequence}/retry",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
