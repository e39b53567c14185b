"""What a test reads back from JetStream: which subjects a stream holds, the messages and
events on them, and whether a service's durable consumers have caught up.

Every reader takes a ``JetStreamManager``: a test's own ``JetStreamContext`` is one, and so
is the admin's manager on a server with permissions."""

from __future__ import annotations

from nats.js import JetStreamManager
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from common.events import Event, decode, event_type_of
from common.eventstore import StoredEvent
from common.subjects import Stream


async def subjects_on(js: JetStreamManager, stream: Stream, subject: str = ">") -> dict[str, int]:
    """Each subject holding messages in ``stream`` (below ``subject``), with how many."""
    info = await js.stream_info(stream.value, subjects_filter=subject)
    return dict(info.state.subjects or {})


async def count_on(js: JetStreamManager, stream: Stream, subject: str = ">") -> int:
    """How many messages ``stream`` holds on ``subject`` (wildcards allowed)."""
    return sum((await subjects_on(js, stream, subject)).values())


async def raw_on(js: JetStreamManager, stream: Stream, subject: str) -> list[RawStreamMsg]:
    """Every message on ``subject`` (wildcards allowed), in stream order."""
    found: list[RawStreamMsg] = []
    sequence = 0
    while True:
        try:
            msg = await js.get_msg(
                stream.value, seq=sequence + 1, subject=subject, direct=True, next=True
            )
        except NotFoundError:
            return found
        sequence = msg.seq or sequence + 1
        found.append(msg)


def _decoded(msg: RawStreamMsg) -> Event:
    return decode(msg.data or b"", event_type_of(msg.subject or ""))


async def stored_on(js: JetStreamManager, stream: Stream, subject: str) -> list[StoredEvent]:
    """Every event on ``subject`` (wildcards allowed), in stream order, with its sequence."""
    return [
        StoredEvent(msg.seq or 0, msg.subject or "", _decoded(msg))
        for msg in await raw_on(js, stream, subject)
    ]


async def events_on(js: JetStreamManager, stream: Stream, subject: str) -> list[Event]:
    """Every event on ``subject`` (wildcards allowed), in stream order."""
    return [_decoded(msg) for msg in await raw_on(js, stream, subject)]


async def drained(js: JetStreamManager, consumers: tuple[tuple[Stream, str], ...]) -> bool:
    """Every message for each durable consumer was delivered and acknowledged (handled or
    applied); False while one of them does not exist yet."""
    for stream, durable in consumers:
        try:
            info = await js.consumer_info(stream.value, durable)
        except NotFoundError:
            return False
        if info.num_pending or info.num_ack_pending:
            return False
    return True
