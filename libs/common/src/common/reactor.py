"""Reactors: FastStream subscribers that turn one event into a decision (a new event).

A projection folds events into tables (common.runner); a reactor acts on them, one at a
time per replica. Reactors decide on the lead's own events and append with its expected
sequence, so two replicas, a redelivery or a retry cannot act twice. Here FastStream's pull subscriber is used as its documentation shows,
with the ack policy chosen explicitly: its default would terminate a message whose handler
raises, and it would be lost. A malformed event is parked at once; a failing handler is
retried with growing delays and parked after ``max_deliver`` attempts.

The durable is the administrator's, listed in common.consumers: nats-py's ``pull_subscribe``
looks it up (``CONSUMER.INFO``) and binds to it, and creates it only if missing, from the
config given here, which is the listed one, so what a service would create and what is
provisioned are the same. The service checks its reactors' durables before the broker starts
(``ServiceRuntime``), so a missing one is named rather than a bare timeout.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog
from faststream import AckPolicy
from faststream.nats import JStream, NatsMessage, PullSub

from common.consumers import reactor_config
from common.deadletter import DeadLetters, Parked
from common.events import Event, EventDecodeError, decode, event_type_of
from common.eventstore import appended_id
from common.projection import refusal
from common.pull import position_of
from common.subjects import Stream, durable_name, inbox_prefix

if TYPE_CHECKING:
    from common.service import ServiceRuntime

log = structlog.get_logger(__name__)

React = Callable[[Event], Awaitable[None]]


def react(
    runtime: ServiceRuntime,
    *,
    name: str,
    stream: Stream,
    subject: str,
    handler: React,
    max_deliver: int = 5,
) -> None:
    """Subscribe ``handler`` to ``subject`` through a durable pull consumer named after it."""
    durable = durable_name(runtime.service, name)
    runtime.reactors[durable] = handler
    runtime.reactor_streams[durable] = stream
    runtime.reactor_subjects[durable] = subject

    @runtime.broker.subscriber(
        subject,
        stream=JStream(stream.value, declare=False),
        durable=durable,
        # One message at a time: a batch would run as concurrent tasks and lose the order.
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        ack_policy=AckPolicy.MANUAL,
        # FastStream's subscriber has its own default (the shared "_INBOX."), which this
        # service's NATS user may not listen on.
        inbox_prefix=f"{inbox_prefix(runtime.service)}.".encode(),
        config=reactor_config(durable, subject),
        title=f"{runtime.service.value}:{name}",
        description=(handler.__doc__ or "").strip() or None,
    )
    async def consume(msg: NatsMessage) -> None:
        raw = msg.raw_message
        body = raw.data
        position = position_of(raw)
        event = decoded_or_refused(raw.subject, raw.data, raw.headers)
        if isinstance(event, str):
            await park_delivery(
                runtime, durable, stream, raw.subject, position.stream_sequence, body, event
            )
            await msg.ack()
            return
        bound = log.bind(
            reactor=name,
            event_id=event.event_id,
            lead_id=event.lead_id,
            correlation_id=event.correlation_id,
        )
        try:
            await handler(event)
        except Exception as exc:
            if position.delivered >= max_deliver:
                bound.error("reactor_event_parked", error=repr(exc))
                await park_delivery(
                    runtime,
                    durable,
                    stream,
                    raw.subject,
                    position.stream_sequence,
                    body,
                    f"handler failed {position.delivered} times: {exc!r}",
                )
                await msg.ack()
                return
            bound.warning("reactor_retry", attempt=position.delivered, error=repr(exc))
            await msg.nack(delay=min(30.0, 0.5 * 2**position.delivered))
            return
        await msg.ack()


async def park_delivery(
    runtime: ServiceRuntime,
    durable: str,
    stream: Stream,
    subject: str,
    sequence: int,
    data: bytes,
    reason: str,
) -> None:
    """Park a delivered event a reactor cannot handle, with its reason."""
    await DeadLetters(runtime.js, runtime.service).park(
        Parked(
            consumer=durable,
            stream=stream.value,
            sequence=sequence,
            subject=subject,
            reason=reason,
            data=data,
            headers={},
        )
    )


def decoded_or_refused(subject: str, data: bytes, headers: dict[str, str] | None) -> Event | str:
    """A delivered event, or why it must be parked instead (malformed, or refused by
    common.projection.refusal): what every reactor decides before its handler sees it."""
    try:
        event = decode(data, event_type_of(subject))
    except EventDecodeError as exc:
        return f"malformed event: {exc}"
    refused = refusal(subject, event, appended_id(headers))
    return event if refused is None else refused
