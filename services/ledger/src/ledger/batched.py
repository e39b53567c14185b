"""A reactor fed batches: whatever its durable has delivered, handed over as one list.

common.reactor hands a decision one event at a time through FastStream, a pull request and
an acknowledgement round trip per event; FastStream's batch mode waits for a full batch or
its timeout, which a lead waiting to be filed cannot afford. This pulls with common.pull
(whatever is there, at once, in stream order) on the service's own connection, so under
load the batches grow by themselves and an idle stream still answers in one round trip.

A malformed or planted message is parked and acknowledged, as common.reactor does. The
handler must be idempotent (a redelivery or a batch taken again after a failure decides on
the stream's own history). When a batch fails as a whole, each event whose delivery count
reached ``max_deliver`` is tried alone and parked if it fails again; the rest are handed
back with a growing delay, so one poisonous event cannot hold the others back forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import structlog
from nats.aio.msg import Msg

from common.consumers import consumer_info, create_missing, reactor_config
from common.events import Event, EventDecodeError, decode, event_type_of
from common.eventstore import appended_id
from common.projection import refusal
from common.pull import Puller, position_of
from common.reactor import park_delivery
from common.service import ServiceRuntime
from common.subjects import Stream, durable_name

log = structlog.get_logger(__name__)

ReactOne = Callable[[Event], Awaitable[None]]
ReactMany = Callable[[Sequence[Event]], Awaitable[None]]

# Big enough that a burst is numbered in few decisions, small enough that one batch is
# done well within the durable's ack wait (common.consumers.REACTOR_ACK_WAIT) under load.
BATCH_SIZE: Final = 200
# An idle pull request lasts this long; a delivery ends it at once.
IDLE_WAIT: Final = 1.0
_RESTART_AFTER: Final = 1.0


def react_in_batches(
    runtime: ServiceRuntime,
    *,
    name: str,
    stream: Stream,
    subject: str,
    many: ReactMany,
    one: ReactOne,
    max_deliver: int = 5,
    batch_size: int = BATCH_SIZE,
) -> None:
    """Feed ``many`` batches from the durable ``name`` on ``subject``; ``one`` decides a single
    event (a parked event retried, an event that failed too often in a batch)."""
    durable = durable_name(runtime.service, name)
    # Listed like any reactor: its durable is checked before start, a parked event is retried
    # through ``one``, and the NATS user's grants are those of common.consumers.
    runtime.reactors[durable] = one
    runtime.reactor_streams[durable] = stream
    runtime.reactor_subjects[durable] = subject
    feed = _Feed(runtime, durable, stream, subject, many, one, max_deliver, batch_size)
    runtime.on_start(feed.start)
    runtime.on_stop(feed.stop)


class _Feed:
    def __init__(
        self,
        runtime: ServiceRuntime,
        durable: str,
        stream: Stream,
        subject: str,
        many: ReactMany,
        one: ReactOne,
        max_deliver: int,
        batch_size: int,
    ) -> None:
        self.runtime = runtime
        self.durable = durable
        self.stream = stream
        self.subject = subject
        self.many = many
        self.one = one
        self.max_deliver = max_deliver
        self.batch_size = batch_size
        self.log = log.bind(reactor=durable)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"reactor:{self.durable}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _supervise(self) -> None:
        while True:
            try:
                await self._run()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("reactor_feed_failed")
                await asyncio.sleep(_RESTART_AFTER)

    async def _run(self) -> None:
        js = self.runtime.js
        if await consumer_info(js, self.stream, self.durable) is None:
            await create_missing(js, self.stream, reactor_config(self.durable, self.subject))
        puller = Puller(
            js._nc, self.stream.value, self.durable, batch_size=self.batch_size, expires=IDLE_WAIT
        )
        await puller.start()
        try:
            while True:
                messages = await puller.next_batch(IDLE_WAIT)
                if messages:
                    await self.process(messages)
        finally:
            await puller.close()

    async def process(self, messages: Sequence[Msg]) -> None:
        taken: list[tuple[Msg, Event]] = []
        for msg in messages:
            try:
                event = decode(msg.data, event_type_of(msg.subject))
                refused = refusal(msg.subject, event, appended_id(msg.headers))
            except EventDecodeError as exc:
                refused = f"malformed event: {exc}"
            if refused is not None:
                await self._park(msg, refused)
                await msg.ack()
                continue
            taken.append((msg, event))
        if not taken:
            return
        try:
            await self.many([event for _, event in taken])
        except Exception as exc:
            self.log.warning("reactor_batch_failed", events=len(taken), error=repr(exc))
            for msg, event in taken:
                await self._after_failure(msg, event)
            return
        for msg, _ in taken:
            await msg.ack()

    async def _after_failure(self, msg: Msg, event: Event) -> None:
        delivered = position_of(msg).delivered
        if delivered < self.max_deliver:
            await msg.nak(delay=min(30.0, 0.5 * 2**delivered))
            return
        try:
            await self.one(event)
        except Exception as exc:
            self.log.error("reactor_event_parked", event_id=event.event_id, error=repr(exc))
            await self._park(msg, f"handler failed {delivered} times: {exc!r}")
        await msg.ack()

    async def _park(self, msg: Msg, reason: str) -> None:
        await park_delivery(
            self.runtime,
            self.durable,
            self.stream,
            msg.subject,
            position_of(msg).stream_sequence,
            msg.data,
            reason,
        )
