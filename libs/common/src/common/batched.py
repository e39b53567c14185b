"""Reactors fed batches: whatever a durable has delivered, taken in one go.

common.reactor hands a decision one event at a time through FastStream, a pull request and
an acknowledgement round trip per event; FastStream's batch mode waits for a full batch or
its timeout, which a lead waiting to be filed cannot afford. This pulls with common.pull
(whatever is there, at once, in stream order) on the service's own connection, so under
load the batches grow by themselves and an idle stream still answers in one round trip.

A batch is decided either as a whole (``many``: the ledger's registrar files a batch in
one atomic append) or event by event (:func:`each_lead`, the default: each lead's events
in their order, different leads at once), where one event's failure is its own and the
others are acknowledged as usual. Either way an event is acknowledged only once its
decision was stored.

A malformed or planted message is parked and acknowledged, as common.reactor does. The
handler must be idempotent (a redelivery or a batch taken again after a failure decides on
the stream's own history). An event that failed is handed back with a growing delay and,
once its delivery count reached ``max_deliver``, parked with its reason; when a batch
failed as a whole, such an event is first tried alone (``one``), so one poisonous event
cannot hold the others back forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

import structlog
from nats.aio.msg import Msg

from common.consumers import consumer_info, create_missing, reactor_config
from common.events import Event
from common.pull import Puller, position_of
from common.reactor import decoded_or_refused, park_delivery
from common.subjects import Stream, durable_name

if TYPE_CHECKING:
    from common.service import ServiceRuntime

log = structlog.get_logger(__name__)

ReactOne = Callable[[Event], Awaitable[None]]
ReactMany = Callable[[Sequence[Event]], Awaitable[None]]

# Big enough that a burst is decided in few rounds, small enough that one batch is done
# well within the durable's ack wait (common.consumers.REACTOR_ACK_WAIT) under load.
BATCH_SIZE: Final = 200
# Leads decided at once by each_lead: each holds a few reads and an append in flight.
LEADS_AT_ONCE: Final = 32
# An idle pull request lasts this long; a delivery ends it at once.
IDLE_WAIT: Final = 1.0
_RESTART_AFTER: Final = 1.0
_CANCEL_AGAIN_AFTER: Final = 0.5


class PartlyFailed(Exception):
    """A batch decided event by event in which the events at ``failed`` (their index in
    the batch, with what each raised) failed; every other one took effect."""

    def __init__(self, failed: Mapping[int, Exception]) -> None:
        super().__init__(f"{len(failed)} events of the batch failed")
        self.failed = dict(failed)


def each_lead(one: ReactOne, at_once: int = LEADS_AT_ONCE) -> ReactMany:
    """A batch decided by ``one``, event by event: a lead's events one after the other in
    the stream's order, up to ``at_once`` leads at the same time (their decisions append to
    their own leads and cannot conflict). Raises PartlyFailed naming the events that
    failed, after every other one was decided."""

    async def many(events: Sequence[Event]) -> None:
        # Events of no lead (None) are decided one after the other, as one lead's are.
        by_lead: dict[str | None, list[int]] = {}
        for index, event in enumerate(events):
            by_lead.setdefault(event.lead_id, []).append(index)
        failed: dict[int, Exception] = {}
        limit = asyncio.Semaphore(at_once)

        async def decide(indices: list[int]) -> None:
            async with limit:
                for index in indices:
                    try:
                        await one(events[index])
                    except Exception as exc:
                        # As the one-event reactor does, the lead's next events are still
                        # decided: this one comes back later, after its delay.
                        failed[index] = exc

        await asyncio.gather(*(decide(indices) for indices in by_lead.values()))
        if failed:
            raise PartlyFailed(failed)

    return many


def react_in_batches(
    runtime: ServiceRuntime,
    *,
    name: str,
    stream: Stream,
    subject: str,
    one: ReactOne,
    many: ReactMany | None = None,
    max_deliver: int = 5,
    batch_size: int = BATCH_SIZE,
) -> None:
    """Feed batches from the durable ``name`` on ``subject`` to ``many`` (by default
    ``each_lead(one)``); ``one`` decides a single event (a parked event retried, an event
    that failed too often in a batch decided as a whole)."""
    many = many or each_lead(one)
    durable = durable_name(runtime.service, name)
    # Listed like any reactor: its durable is checked before start, a parked event is retried
    # through ``one``, and the NATS user's grants are those of common.consumers.
    runtime.reactors[durable] = one
    runtime.reactor_streams[durable] = stream
    runtime.reactor_subjects[durable] = subject
    feed = BatchFeed(runtime, durable, stream, subject, many, one, max_deliver, batch_size)
    runtime.on_start(feed.start)
    runtime.on_stop(feed.stop)


class BatchFeed:
    """One durable's batches, pulled and decided until stopped."""

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
            task = self._task
            task.cancel()
            # As common.runner does: on Python 3.11 a cancellation arriving as the pull's
            # asyncio.timeout expires can be swallowed, so it is repeated until it takes.
            while not (await asyncio.wait({task}, timeout=_CANCEL_AGAIN_AFTER))[0]:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
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
        """Decide what one delivery brought; each event is acknowledged once its decision
        was stored, or once it was parked."""
        taken: list[tuple[Msg, Event]] = []
        for msg in messages:
            event = decoded_or_refused(msg.subject, msg.data, msg.headers)
            if isinstance(event, str):
                await self._park(msg, event)
                await msg.ack()
                continue
            taken.append((msg, event))
        if not taken:
            return
        failed: Mapping[int, Exception]
        whole = False
        try:
            await self.many([event for _, event in taken])
        except asyncio.CancelledError:
            # Stopped mid-batch: what is not acknowledged is handed back rather than left to
            # the ack wait (deciding it again is harmless, the handler is idempotent); not
            # before this pull request expired, which would take it again for nobody.
            for msg, _ in taken:
                with contextlib.suppress(Exception):
                    await msg.nak(delay=IDLE_WAIT)
            raise
        except PartlyFailed as exc:
            failed = exc.failed
        except Exception as exc:
            self.log.warning("reactor_batch_failed", events=len(taken), error=repr(exc))
            failed = dict.fromkeys(range(len(taken)), exc)
            whole = True
        else:
            failed = {}
        for index, (msg, event) in enumerate(taken):
            error = failed.get(index)
            if error is None:
                await msg.ack()
            else:
                await self._after_failure(msg, event, error, alone=whole)

    async def _after_failure(self, msg: Msg, event: Event, error: Exception, alone: bool) -> None:
        """Hand a failed event back for later, or park it once it failed too often: when
        it failed in a batch decided as a whole, it is first tried alone (``alone``)."""
        delivered = position_of(msg).delivered
        bound = self.log.bind(event_id=event.event_id, lead_id=event.lead_id)
        if delivered < self.max_deliver:
            if not alone:  # a batch's failure was logged once, for the batch
                bound.warning("reactor_retry", attempt=delivered, error=repr(error))
            await msg.nak(delay=min(30.0, 0.5 * 2**delivered))
            return
        if alone:
            try:
                await self.one(event)
            except Exception as exc:
                error = exc
            else:
                await msg.ack()
                return
        bound.error("reactor_event_parked", error=repr(error))
        await self._park(msg, f"handler failed {delivered} times: {error!r}")
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
