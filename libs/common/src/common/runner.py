"""The live projection consumer: a durable pull consumer feeding batches to a Tracker.

FastStream's NATS subscribers hand messages over one at a time (about 3k/s here) or wait
for a full batch or a timeout; a projection wants whatever is there, in order, as one
transaction. So this pulls on the service's own nats-py connection (see common.pull).

Order of work for a batch: decode (a malformed message is parked), apply in one
transaction with the position, then acknowledge. A handler error is retried in process
and then the event is parked, so the order of the remaining events is kept. The stored
position is the truth: whenever the consumer starts, whatever it delivered past the position
is read back from the stream and applied first, a batch that does not follow the position is
refused, and what comes again below the position is skipped, so nothing is skipped and
nothing applied twice, whatever stopped, crashed or moved in between.

The durable is the administrator's (common.consumers): a service may bind to it, pull and
acknowledge, never create, change or delete it. A projection of a whole stream reads the
whole stream, unfiltered, and parks a message whose subject is not the stream's: the broker
stores such a message when someone names a stream subject as the reply subject of a request,
and a filtered consumer would pass over it and leave the position stuck before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import NotFoundError
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.exc import DBAPIError

from common.consumers import (
    ConsumerNotProvisioned,
    consumer_info,
    create_missing,
    projection_config,
)
from common.database import once_unlocked
from common.deadletter import DeadLetters, Parked
from common.eventstore import appended_id, read_messages
from common.projection import Item, LeaseLost, Raw, SequenceGap, Tracker, decode_batch
from common.pull import ConsumerGone, Puller, position_of
from common.subjects import STREAM_SUBJECTS, Stream, subject_matches

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
RESTARTS: Final = Counter(
    "projection_restarts_total",
    "Times a projection consumer failed and started again",
    ["projection", "stream"],
)
HEALTHY: Final = Gauge(
    "projection_healthy",
    "1 when the consumer runs, keeps up and parks little; 0 with the reason in /readyz",
    ["projection", "stream"],
)
ACTIVE: Final = Gauge(
    "leads_projection_active",
    "1 while this replica holds the projection's lease and applies the stream; 0 on standby",
    ["projection", "stream"],
)
LEASE_CHANGES: Final = Counter(
    "leads_projection_lease_changes",
    "Times this replica took a projection's lease from another holder, or lost it",
    ["projection", "stream", "change"],
)

# What /readyz does not call ready (RunnerOptions can change each): a consumer that failed
# this often within the window, lags this far behind, or parked this many events within it.
_HEALTH_WINDOW: Final = 300.0
_CANCEL_AGAIN_AFTER: Final = 0.5


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Received(NamedTuple):
    """A stored message as the runner works on it: delivered by the consumer, or read back
    by direct get (``delivered`` 0) when catching up."""

    sequence: int
    subject: str
    data: bytes
    headers: dict[str, str]
    delivered: int


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
    # How long a projection's lease lasts without renewal, and how often at most a standby
    # looks at it: a standby reads when the holder's lease runs out and asks for it then, so
    # it takes over about lease_seconds after the holder's last renewal. The holder renews
    # every lease_seconds / 3 and with every batch it commits, so only a replica stalled for
    # two thirds of a lease (between two transactions) loses it; and losing it is safe: the
    # lease and position are checked in the transaction that would commit the batch
    # (common.projection.Tracker.apply).
    lease_seconds: float = 3.0
    lease_poll: float = 0.5
    # When /readyz stops calling the consumer ready (see ProjectionRunner.health).
    unready_failures: int = 3
    unready_lag: int = 10_000
    unready_parked: int = 100


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
        # None: the whole stream, unfiltered (see the module's docstring).
        self.filter_subject = None if filter_subject == STREAM_SUBJECTS[stream] else filter_subject
        self._subjects = filter_subject or STREAM_SUBJECTS[stream]
        self.options = options or RunnerOptions()
        self._task: asyncio.Task[None] | None = None
        self._labels = labels = (tracker.projection.name, stream.value)
        # The series every batch moves, looked up once: labels() hashes and locks on each call.
        # The rare ones (lease changes, restarts, parked events) are made when they first
        # happen, so that a series seen means it happened.
        self._applied = EVENTS_APPLIED.labels(*labels)
        self._batch_seconds = BATCH_SECONDS.labels(*labels)
        self._lag = CONSUMER_LAG.labels(*labels)
        self._healthy = HEALTHY.labels(*labels)
        self._active = ACTIVE.labels(*labels)
        # A whole stream has no holes (deny_delete): a batch that does not follow the
        # position means messages were skipped, and is refused.
        self._contiguous = self.filter_subject is None
        # The stored position as this lease holder last read or wrote it: what comes again
        # at or below it was applied (or parked) already and is only acknowledged.
        self._position = 0
        self.caught_up = asyncio.Event()
        # Whether this replica holds the lease and applies the stream (else a standby).
        self.active = False
        self.problem: str | None = None
        self.lag = 0
        self._failures: deque[float] = deque()
        self._parked: deque[float] = deque()
        self.log = log.bind(projection=tracker.projection.name, stream=stream.value)

    async def start(self) -> None:
        await once_unlocked(
            lambda: asyncio.to_thread(self.tracker.create_tables, [self.stream.value]),
            f"create the tables of {self.tracker.projection.name}",
        )
        self._set_active(False)  # a standby until the lease is held: the gauge says so
        self._task = asyncio.create_task(self._supervise(), name=f"projection:{self.durable}")

    async def stop(self, *, release: bool = True) -> None:
        """Stop consuming; ``release`` gives the projection's lease up (leave it to the last
        of several runners sharing one tracker)."""
        if self._task is not None:
            task = self._task
            task.cancel()
            # On Python 3.11 a cancellation that arrives as an asyncio.timeout inside the
            # consumer expires can be taken for the timeout and swallowed: the task goes on
            # and the stop would wait for ever. So the cancellation is repeated until it
            # takes.
            while not (await asyncio.wait({task}, timeout=_CANCEL_AGAIN_AFTER))[0]:
                self.log.warning("projection_consumer_cancel_repeated")
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._task = None
        self._set_active(False)
        if release:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.tracker.release_lease)

    @property
    def healthy(self) -> bool:
        return self.health() is None

    def health(self, now: float | None = None) -> str | None:
        """What keeps this consumer from being called ready, or None. Besides a stopped
        or failed consumer: one that keeps failing (it may be up this instant, between
        two failures), one far behind its stream, one parking event after event."""
        now = time.monotonic() if now is None else now
        for recent in (self._failures, self._parked):
            while recent and recent[0] < now - _HEALTH_WINDOW:
                recent.popleft()
        minutes = int(_HEALTH_WINDOW // 60)
        problem: str | None
        if self._task is None or self._task.done():
            problem = "consumer stopped"
        elif self.problem is not None:
            problem = self.problem
        elif len(self._failures) >= self.options.unready_failures:
            problem = f"failed {len(self._failures)} times in {minutes} minutes"
        elif self.lag >= self.options.unready_lag:
            problem = f"{self.lag} events behind the stream"
        elif len(self._parked) >= self.options.unready_parked:
            problem = f"{len(self._parked)} events parked in {minutes} minutes"
        else:
            problem = None
        self._healthy.set(0 if problem else 1)
        return problem

    async def _supervise(self) -> None:
        """Keep the consumer running: wait for a stream that is not there yet (its owner
        creates it), and start again after an unexpected failure."""
        delay = 0.5
        while True:
            started = time.monotonic()
            try:
                await self.run()
            except LeaseLost as exc:
                self.problem = None  # a standby: another replica applies this projection
                if self.active:
                    LEASE_CHANGES.labels(*self._labels, "lost").inc()
                    self.log.warning("projection_lease_lost", reason=str(exc))
                delay = self.options.lease_poll / 2
            except (SequenceGap, ConsumerGone) as exc:
                self.log.info("projection_consumer_restart", reason=str(exc))
                delay = 0.1
            except ConsumerNotProvisioned as exc:
                self.problem = str(exc)
                self.log.error("projection_consumer_not_provisioned", consumer=self.durable)
            except NotFoundError:
                self.problem = f"waiting for stream {self.stream.value}"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.problem = f"restarting after {type(exc).__name__}"
                self._failures.append(time.monotonic())
                RESTARTS.labels(*self._labels).inc()
                self.log.exception("projection_consumer_failed")
            finally:
                self._set_active(False)
            await asyncio.sleep(delay)
            # Back off on repeated failures; a run that went well for a while starts over.
            delay = 0.5 if time.monotonic() - started > 60 else min(delay * 2, 15.0)

    def consumer_config(self, position: int = 0) -> ConsumerConfig:
        """The durable as this runner creates it where it may (no permissions): the listed
        configuration (common.consumers), starting after ``position``."""
        return projection_config(
            self.durable,
            self.filter_subject,
            ack_wait=self.options.ack_wait,
            after=position,
        )

    async def _ensure_consumer(self) -> int:
        """Bind to the durable from the database's position, the truth; returns it.

        A consumer that delivered past the position holds messages that were never applied
        (a stop or crash with a batch in hand, a lease that moved, a database replaced or
        restored): pulling on would deliver the next ones first and those would come back
        only after the ack wait, below the position by then. So they are read back from the
        stream and applied first, by the lease holder only; nothing about the consumer
        changes, which a service may not do anyway."""
        await self._wait_for_lease()
        position = await asyncio.to_thread(self.tracker.position, self.stream.value)
        info = await consumer_info(self.js, self.stream, self.durable)
        if info is None:
            await create_missing(self.js, self.stream, self.consumer_config(position))
            return position
        delivered = (info.delivered.stream_seq or 0) if info.delivered else 0
        if delivered <= position:
            return position
        self.log.info("projection_catch_up", position=position, delivered=delivered)
        self._position = position
        batch: list[Received] = []
        # The headers as stored: a direct read would add the broker's, and every message
        # would look like a copy (common.eventstore.appended_id).
        stored = read_messages(
            self.js,
            self.stream.value,
            self.filter_subject or ">",
            position + 1,
            stored_headers=True,
        )
        async for msg in stored:
            sequence = msg.seq or 0
            if sequence > delivered:
                break
            batch.append(
                Received(sequence, msg.subject or "", msg.data or b"", msg.headers or {}, 0)
            )
            if len(batch) >= self.options.batch_size:
                await self._apply(batch)
                batch = []
        if batch:
            await self._apply(batch)
        return await asyncio.to_thread(self.tracker.position, self.stream.value)

    async def _wait_for_lease(self) -> None:
        """Poll the lease, which lives in the database shared with the other replicas, until
        this replica holds it. Taking it after having waited means its holder stopped
        renewing it (died, or stalled): counted and logged, since it also happens when
        leases flap."""
        waited_since: float | None = None
        while True:
            left = await asyncio.to_thread(self.tracker.lease_left)
            if left == 0.0:
                if await asyncio.to_thread(self.tracker.acquire_lease):
                    break
                left = self.options.lease_poll  # another standby was first
            waited_since = waited_since or time.monotonic()
            # Asked for when it runs out, not up to a poll later; looked at again at least
            # every lease_poll, since the holder renews it meanwhile.
            await asyncio.sleep(min(left, self.options.lease_poll))
        self._set_active(True)
        if waited_since is not None:
            LEASE_CHANGES.labels(*self._labels, "taken").inc()
            self.log.info(
                "projection_lease_taken", waited_seconds=round(time.monotonic() - waited_since, 3)
            )

    def _set_active(self, active: bool) -> None:
        self.active = active
        self._active.set(1 if active else 0)
        if not active:
            # What a standby last saw as the holder is stale: the lag is the active's to say.
            self.lag = 0
            self._lag.set(0)

    async def run(self) -> None:
        self._position = await self._ensure_consumer()
        self.problem = None
        renew_every = self.tracker.lease_seconds / 3
        # A pull request lives no longer than a renewal interval: a holder that stops dead
        # (killed, hung, cut off) leaves a request open on the durable, and the broker hands
        # it what comes next. Expired before the lease can be taken, such a request holds
        # nothing the new holder's catch-up does not see; a longer one could take events
        # published after the takeover and keep them until the ack wait.
        puller = Puller(
            self.js._nc,
            self.stream.value,
            self.durable,
            batch_size=self.options.batch_size,
            expires=min(self.options.fetch_timeout, renew_every),
        )
        await puller.start()
        try:
            while True:
                # Renewed by whichever runner of the tracker is due first, and by every batch
                # any of them commits: the runners of one projection share its lease.
                lease_until = self.tracker.renewed + renew_every
                if time.monotonic() >= lease_until:
                    if not await asyncio.to_thread(self.tracker.acquire_lease):
                        raise LeaseLost("another replica took the lease")
                    lease_until = self.tracker.renewed + renew_every
                # An idle wait never outlasts the next renewal: a fetch as long as the lease
                # would let it lapse while nothing is wrong.
                wait = min(self.options.fetch_timeout, max(lease_until - time.monotonic(), 0.05))
                messages = await puller.next_batch(wait)
                if not messages:
                    self.caught_up.set()
                    self.lag = 0
                    self._lag.set(0)
                    continue
                await self.process(messages)
        finally:
            # The next start reads back from the stored position in any case.
            await puller.close()

    async def process(self, messages: Sequence[Msg]) -> None:
        """Decode, apply in one transaction with the position, then acknowledge."""
        started = time.perf_counter()
        positions = [position_of(msg) for msg in messages]
        received = [
            Received(pos.stream_sequence, msg.subject, msg.data, msg.headers or {}, pos.delivered)
            for msg, pos in zip(messages, positions, strict=True)
        ]
        await self._apply(received)
        await self.acknowledge(messages)
        self._batch_seconds.observe(time.perf_counter() - started)
        pending = positions[-1].pending
        self.lag = pending
        self._lag.set(pending)
        if pending == 0:
            self.caught_up.set()

    async def _apply(self, batch: Sequence[Received]) -> int:
        """Apply what follows the position in one transaction (parking what cannot be
        applied); returns the number of events applied."""
        fresh = [r for r in batch if r.sequence > self._position]
        if not fresh:
            return 0
        foreign = {i for i, r in enumerate(fresh) if not subject_matches(r.subject, self._subjects)}
        # A foreign message is not decoded at all: its subject names no event of this stream.
        raws = [
            Raw(r.sequence, "" if i in foreign else r.subject, r.data, appended_id(r.headers))
            for i, r in enumerate(fresh)
        ]
        if not foreign and all(r.delivered <= self.options.max_deliver for r in fresh):
            # The usual batch: decoded and applied in one trip to a worker thread (a trip
            # waits for the event loop twice, long under load); the rest goes as below.
            items, failures, outcome = await asyncio.to_thread(self._decode_then_apply, raws)
            if isinstance(outcome, Exception):
                self.log.error("projection_batch_failed", size=len(items), exc_info=outcome)
                outcome = await self._apply_one_by_one(fresh, items)
            if outcome is not None:
                return self._passed(fresh, outcome)
        else:
            items, failures = await asyncio.to_thread(decode_batch, self.tracker.projection, raws)
        for index in sorted(foreign):
            await self._park(
                fresh[index],
                f"foreign message: subject {fresh[index].subject} is not one of {self._subjects}",
            )
        for index, reason in failures:
            await self._park(fresh[index], f"malformed event: {reason}")
        for index, record in enumerate(fresh):
            if record.delivered > self.options.max_deliver and items[index].event is not None:
                await self._park(
                    record, f"delivered {record.delivered} times without being applied"
                )
                items[index] = Item(record.sequence, None)
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
            applied = await self._apply_one_by_one(fresh, items)
        return self._passed(fresh, applied)

    def _passed(self, batch: Sequence[Received], applied: int) -> int:
        self._position = batch[-1].sequence
        self._applied.inc(applied)
        return applied

    def _decode_then_apply(
        self, raws: Sequence[Raw]
    ) -> tuple[list[Item], list[tuple[int, str]], int | Exception | None]:
        """In a worker thread: decode, and apply if every event decoded. The items, the
        failures to park, and what applying gave: the number applied, the handler's error
        (the batch is then applied one by one), or None (not applied: failures to park)."""
        items, failures = decode_batch(self.tracker.projection, raws)
        if failures:
            return items, failures, None
        try:
            applied = self.tracker.apply(self.stream.value, items, self._contiguous)
        except (LeaseLost, SequenceGap, DBAPIError):
            raise
        except Exception as exc:
            return items, failures, exc
        return items, failures, applied

    async def acknowledge(self, messages: Sequence[Msg]) -> None:
        for msg in messages:
            await msg.ack()

    async def _apply_one_by_one(self, batch: Sequence[Received], items: Sequence[Item]) -> int:
        applied = 0
        for record, item in zip(batch, items, strict=True):
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
                    await self._park(record, f"handler failed {attempt} times: {exc!r}")
                    await asyncio.to_thread(
                        self.tracker.apply, self.stream.value, [Item(item.sequence, None)]
                    )
        return applied

    async def _park(self, record: Received, reason: str) -> None:
        await self.dead_letters.park(
            Parked(
                consumer=self.durable,
                stream=self.stream.value,
                sequence=record.sequence,
                subject=record.subject,
                reason=reason,
                data=record.data,
                headers=dict(record.headers),
            )
        )
        EVENTS_PARKED.labels(self.tracker.projection.name).inc()
        self._parked.append(time.monotonic())
        self.log.warning(
            "event_parked", sequence=record.sequence, subject=record.subject, reason=reason
        )
