"""The live projection consumer: a durable pull consumer feeding batches to a Tracker.

FastStream's NATS subscribers hand messages over one at a time (about 3k/s here) or wait
for a full batch or a timeout; a projection wants whatever is there, in order, as one
transaction. So this drives nats-py's pull subscription on the service's own connection.

Order of work for a batch: decode (a malformed message is parked), apply in one
transaction with the position, then acknowledge. A handler error is retried in process
and then the event is parked, so the order of the remaining events is kept; JetStream's
redelivery covers crashes, and the stored position makes that redelivery harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import Counter, Gauge, Histogram

from common.deadletter import DeadLetters, Parked
from common.events import Event, EventDecodeError, decode
from common.projection import Item, LeaseLost, Tracker
from common.subjects import STREAM_SUBJECTS, Stream

log = structlog.get_logger(__name__)

EVENTS_APPLIED: Final = Counter(
    "projection_events_applied_total", "Events applied to a projection", ["projection", "stream"]
)
EVENTS_PARKED: Final = Counter(
    "projection_events_parked_total", "Events parked on the dead-letter stream", ["projection"]
)
BATCH_SECONDS: Final = Histogram(
    "projection_batch_seconds", "Time to apply one batch", ["projection", "stream"]
)
CONSUMER_LAG: Final = Gauge(
    "projection_consumer_lag", "Messages waiting for the consumer", ["projection", "stream"]
)


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class RunnerOptions:
    batch_size: int = 500
    fetch_timeout: float = 1.0
    # Deliveries after which a message that keeps crashing the consumer is parked.
    max_deliver: int = 5
    # In-process attempts at a failing handler before its event is parked.
    handler_attempts: int = 3
    retry_delay: float = 0.2
    ack_wait: float = 30.0
    lease_poll: float = 2.0


class ProjectionRunner:
    def __init__(
        self,
        js: JetStreamContext,
        tracker: Tracker,
        stream: Stream,
        durable: str,
        dead_letters: DeadLetters,
        filter_subject: str | None = None,
        options: RunnerOptions | None = None,
    ) -> None:
        self.js = js
        self.tracker = tracker
        self.stream = stream
        self.durable = durable
        self.dead_letters = dead_letters
        self.filter_subject = filter_subject or STREAM_SUBJECTS[stream]
        self.options = options or RunnerOptions()
        self._task: asyncio.Task[None] | None = None
        self._labels = (tracker.projection.name, stream.value)
        self.caught_up = asyncio.Event()
        self.log = log.bind(projection=tracker.projection.name, stream=stream.value)

    async def start(self) -> None:
        await asyncio.to_thread(self.tracker.create_tables)
        self._task = asyncio.create_task(self.run(), name=f"projection:{self.durable}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.tracker.release_lease)

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            deliver_policy=DeliverPolicy.ALL,
            # Explicit acks after commit; never AckAll, which would acknowledge messages
            # another replica holds but has not applied.
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.options.ack_wait,
            max_deliver=-1,
            max_ack_pending=self.options.batch_size * 4,
            filter_subject=self.filter_subject,
        )

    async def run(self) -> None:
        subscription = await self.js.pull_subscribe(
            self.filter_subject,
            durable=self.durable,
            stream=self.stream.value,
            config=self.consumer_config(),
        )
        lease_until = 0.0
        while True:
            if time.monotonic() >= lease_until:
                if not await asyncio.to_thread(self.tracker.acquire_lease):
                    await asyncio.sleep(self.options.lease_poll)
                    continue
                lease_until = time.monotonic() + self.tracker.lease_seconds / 3
            try:
                messages = await subscription.fetch(
                    self.options.batch_size, timeout=self.options.fetch_timeout
                )
            except nats.errors.TimeoutError:
                self.caught_up.set()
                CONSUMER_LAG.labels(*self._labels).set(0)
                continue
            if not messages:
                continue
            try:
                await self.process(messages)
            except LeaseLost as exc:
                self.log.warning("projection_lease_lost", reason=str(exc))
                lease_until = 0.0
                for msg in messages:
                    await msg.nak()

    async def process(self, messages: Sequence[Msg]) -> None:
        """Decode, apply in one transaction with the position, then acknowledge."""
        started = time.perf_counter()
        items = [await self._item(msg) for msg in messages]
        try:
            applied = await asyncio.to_thread(self.tracker.apply, items)
        except LeaseLost:
            raise
        except Exception:
            self.log.exception("projection_batch_failed", size=len(items))
            applied = await self._apply_one_by_one(messages, items)
        await self.acknowledge(messages)
        EVENTS_APPLIED.labels(*self._labels).inc(applied)
        BATCH_SECONDS.labels(*self._labels).observe(time.perf_counter() - started)
        pending = messages[-1].metadata.num_pending
        CONSUMER_LAG.labels(*self._labels).set(pending)
        if pending == 0:
            self.caught_up.set()

    async def acknowledge(self, messages: Sequence[Msg]) -> None:
        for msg in messages:
            await msg.ack()

    async def _item(self, msg: Msg) -> Item:
        meta = msg.metadata
        try:
            event: Event | None = decode(msg.data, msg.headers)
        except EventDecodeError as exc:
            await self._park(msg, f"malformed event: {exc}")
            return Item(meta.sequence.stream, None)
        if meta.num_delivered > self.options.max_deliver:
            await self._park(msg, f"delivered {meta.num_delivered} times without being applied")
            return Item(meta.sequence.stream, None)
        return Item(meta.sequence.stream, event)

    async def _apply_one_by_one(self, messages: Sequence[Msg], items: Sequence[Item]) -> int:
        applied = 0
        for msg, item in zip(messages, items, strict=True):
            for attempt in range(1, self.options.handler_attempts + 1):
                try:
                    applied += await asyncio.to_thread(self.tracker.apply, [item])
                    break
                except LeaseLost:
                    raise
                except Exception as exc:
                    if attempt < self.options.handler_attempts:
                        await asyncio.sleep(self.options.retry_delay * attempt)
                        continue
                    assert item.event is not None  # a parked item applies nothing
                    self.log.error(
                        "projection_event_parked",
                        event_id=item.event.event_id,
                        lead_id=item.event.lead_id,
                        correlation_id=item.event.correlation_id,
                        error=repr(exc),
                    )
                    await self._park(msg, f"handler failed {attempt} times: {exc!r}")
                    await asyncio.to_thread(self.tracker.apply, [Item(item.sequence, None)])
        return applied

    async def _park(self, msg: Msg, reason: str) -> None:
        meta = msg.metadata
        await self.dead_letters.park(
            Parked(
                consumer=self.durable,
                stream=meta.stream,
                sequence=meta.sequence.stream,
                subject=msg.subject,
                reason=reason,
                data=msg.data,
                headers=dict(msg.headers or {}),
            )
        )
        EVENTS_PARKED.labels(self.tracker.projection.name).inc()
        self.log.warning(
            "event_parked", sequence=meta.sequence.stream, subject=msg.subject, reason=reason
        )
