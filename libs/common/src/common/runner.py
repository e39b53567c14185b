"""The live projection consumer: a durable pull consumer feeding batches to a Tracker.

FastStream's NATS subscribers hand messages over one at a time (about 3k/s here) or wait
for a full batch or a timeout; a projection wants whatever is there, in order, as one
transaction. So this pulls on the service's own nats-py connection (see common.pull).

Order of work for a batch: decode (a malformed message is parked), apply in one
transaction with the position, then acknowledge. A handler error is retried in process
and then the event is parked, so the order of the remaining events is kept. The stored
position is the truth: whenever the consumer starts, it is made anew from the position if it
delivered past it, and a batch that does not follow the position is refused, so nothing is
skipped and nothing applied twice, whatever stopped, crashed or moved in between.
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

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.exc import DBAPIError

from common.deadletter import DeadLetters, Parked
from common.projection import Item, LeaseLost, Raw, SequenceGap, Tracker, decode_batch
from common.pull import ConsumerGone, Puller, position_of
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
        # A whole stream has no holes (deny_delete): a batch that does not follow the
        # position means messages were skipped, and is refused.
        self._contiguous = filter_subject is None or filter_subject == STREAM_SUBJECTS[stream]
        self.caught_up = asyncio.Event()
        self.problem: str | None = None
        self.log = log.bind(projection=tracker.projection.name, stream=stream.value)

    async def start(self) -> None:
        await asyncio.to_thread(self.tracker.create_tables, [self.stream.value])
        self._task = asyncio.create_task(self._supervise(), name=f"projection:{self.durable}")

    async def stop(self, *, release: bool = True) -> None:
        """Stop consuming; ``release`` gives the projection's lease up (leave it to the last
        of several runners sharing one tracker)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if release:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.tracker.release_lease)

    @property
    def healthy(self) -> bool:
        return self._task is not None and not self._task.done() and self.problem is None

    async def _supervise(self) -> None:
        """Keep the consumer running: wait for a stream that is not there yet (its owner
        creates it), and start again after an unexpected failure."""
        delay = 0.5
        while True:
            started = time.monotonic()
            try:
                await self.run()
            except LeaseLost:
                self.problem = None  # a standby: another replica applies this projection
                delay = self.options.lease_poll / 2
            except (SequenceGap, ConsumerGone) as exc:
                self.log.info("projection_consumer_restart", reason=str(exc))
                delay = 0.1
            except NotFoundError:
                self.problem = f"waiting for stream {self.stream.value}"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.problem = f"restarting after {type(exc).__name__}"
                self.log.exception("projection_consumer_failed")
            await asyncio.sleep(delay)
            # Back off on repeated failures; a run that went well for a while starts over.
            delay = 0.5 if time.monotonic() - started > 60 else min(delay * 2, 15.0)

    def consumer_config(self, position: int = 0) -> ConsumerConfig:
        """The durable consumer, starting after ``position`` (what the database holds)."""
        return ConsumerConfig(
            durable_name=self.durable,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if position else DeliverPolicy.ALL,
            opt_start_seq=position + 1 if position else None,
            # Explicit acks after commit; never AckAll, which would acknowledge messages
            # another replica holds but has not applied.
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.options.ack_wait,
            max_deliver=-1,
            max_ack_pending=self.options.batch_size * 4,
            filter_subject=self.filter_subject,
        )

    async def _ensure_consumer(self) -> None:
        """The database's position is the truth; the consumer follows it.

        A consumer that delivered past the position holds messages that were never applied
        (a stop or crash with a batch in hand, a lease that moved, a database replaced or
        rebuilt): pulling on would deliver the next ones first and those would come back
        only after the ack wait, below the position, to be skipped. So it is made anew from
        the position, by the lease holder only."""
        # The lease lives in the database, shared with other processes: poll it.
        while not await asyncio.to_thread(self.tracker.acquire_lease):  # noqa: ASYNC110
            await asyncio.sleep(self.options.lease_poll)
        position = await asyncio.to_thread(self.tracker.position, self.stream.value)
        try:
            info = await self.js.consumer_info(self.stream.value, self.durable)
        except NotFoundError:
            info = None
        if info is not None and (info.delivered.stream_seq or 0) <= position:
            return
        if info is not None:
            self.log.info(
                "projection_consumer_reset",
                position=position,
                delivered=info.delivered.stream_seq,
            )
            await self.js.delete_consumer(self.stream.value, self.durable)
        await self.js.add_consumer(self.stream.value, self.consumer_config(position))

    async def run(self) -> None:
        await self._ensure_consumer()
        self.problem = None
        puller = Puller(
            self.js._nc,
            self.stream.value,
            self.durable,
            batch_size=self.options.batch_size,
            expires=self.options.fetch_timeout * 5,
        )
        await puller.start()
        lease_until = time.monotonic() + self.tracker.lease_seconds / 3
        try:
            while True:
                if time.monotonic() >= lease_until:
                    if not await asyncio.to_thread(self.tracker.acquire_lease):
                        raise LeaseLost("another replica took the lease")
                    lease_until = time.monotonic() + self.tracker.lease_seconds / 3
                messages = await puller.next_batch(self.options.fetch_timeout)
                if not messages:
                    self.caught_up.set()
                    CONSUMER_LAG.labels(*self._labels).set(0)
                    continue
                await self.process(messages)
        finally:
            # Whatever was pulled and not applied goes back at once; the next start makes
            # the consumer anew from the stored position in any case.
            for msg in puller.drain_buffer():
                with contextlib.suppress(Exception):
                    await msg.nak()
            await puller.stop()

    async def process(self, messages: Sequence[Msg]) -> None:
        """Decode, apply in one transaction with the position, then acknowledge."""
        started = time.perf_counter()
        positions = [position_of(msg) for msg in messages]
        raws = [
            Raw(pos.stream_sequence, msg.subject, msg.data)
            for msg, pos in zip(messages, positions, strict=True)
        ]
        items, failures = await asyncio.to_thread(decode_batch, self.tracker.projection, raws)
        for index, reason in failures:
            await self._park(messages[index], f"malformed event: {reason}")
        for index, pos in enumerate(positions):
            if pos.delivered > self.options.max_deliver and items[index].event is not None:
                await self._park(
                    messages[index], f"delivered {pos.delivered} times without being applied"
                )
                items[index] = Item(pos.stream_sequence, None)
        try:
            applied = await asyncio.to_thread(
                self.tracker.apply, self.stream.value, items, self._contiguous
            )
        except (LeaseLost, SequenceGap, DBAPIError):
            # Not this batch's fault: start again from the stored position (a database
            # that does not answer is no reason to park good events).
            raise
        except Exception:
            self.log.exception("projection_batch_failed", size=len(items))
            applied = await self._apply_one_by_one(messages, items)
        await self.acknowledge(messages)
        EVENTS_APPLIED.labels(*self._labels).inc(applied)
        BATCH_SECONDS.labels(*self._labels).observe(time.perf_counter() - started)
        pending = positions[-1].pending
        CONSUMER_LAG.labels(*self._labels).set(pending)
        if pending == 0:
            self.caught_up.set()

    async def acknowledge(self, messages: Sequence[Msg]) -> None:
        for msg in messages:
            await msg.ack()

    async def _apply_one_by_one(self, messages: Sequence[Msg], items: Sequence[Item]) -> int:
        applied = 0
        for msg, item in zip(messages, items, strict=True):
            for attempt in range(1, self.options.handler_attempts + 1):
                try:
                    applied += await asyncio.to_thread(
                        self.tracker.apply, self.stream.value, [item], self._contiguous
                    )
                    break
                except (LeaseLost, SequenceGap, DBAPIError):
                    raise
                except Exception as exc:
                    if attempt < self.options.handler_attempts:
                        await asyncio.sleep(self.options.retry_delay * attempt)
                        continue
                    event = item.event
                    self.log.error(
                        "projection_event_parked",
                        event_id=event.event_id if event else None,
                        lead_id=event.lead_id if event else None,
                        correlation_id=event.correlation_id if event else None,
                        error=repr(exc),
                    )
                    await self._park(msg, f"handler failed {attempt} times: {exc!r}")
                    await asyncio.to_thread(
                        self.tracker.apply, self.stream.value, [Item(item.sequence, None)]
                    )
        return applied

    async def _park(self, msg: Msg, reason: str) -> None:
        sequence = position_of(msg).stream_sequence
        await self.dead_letters.park(
            Parked(
                consumer=self.durable,
                stream=self.stream.value,
                sequence=sequence,
                subject=msg.subject,
                reason=reason,
                data=msg.data,
                headers=dict(msg.headers or {}),
            )
        )
        EVENTS_PARKED.labels(self.tracker.projection.name).inc()
        self.log.warning("event_parked", sequence=sequence, subject=msg.subject, reason=reason)
