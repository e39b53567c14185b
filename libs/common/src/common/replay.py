"""The replay driver: the live projection's handlers, fed from a throw-away consumer.

Used to rebuild a projection into a fresh database, to audit a live one against the log,
and to see a projection as it stood at a moment (``until``). The consumer is ephemeral,
unacknowledged and kept in memory on the server, and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from common.projection import Raw, Tracker, decode_batch
from common.pull import Puller, position_of
from common.subjects import STREAM_SUBJECTS, Stream

Progress = Callable[[int, int], None]


@dataclass
class ReplayReport:
    applied: int = 0
    read: int = 0
    last_sequence: int = 0
    seconds: float = 0.0
    malformed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Events read and applied per second."""
        return self.read / self.seconds if self.seconds > 0 else 0.0


async def replay(
    js: JetStreamContext,
    tracker: Tracker,
    stream: Stream,
    *,
    filter_subject: str | None = None,
    from_sequence: int = 1,
    until: datetime | None = None,
    until_sequence: int | None = None,
    batch_size: int = 10_000,
    progress: Progress | None = None,
) -> ReplayReport:
    """Apply the events of ``stream`` from ``from_sequence`` (and stored no later than
    ``until``, or up to ``until_sequence``) to the tracker's projection, in order, one
    transaction per batch."""
    await asyncio.to_thread(tracker.create_tables, [stream.value])
    if not await asyncio.to_thread(tracker.acquire_lease):
        raise RuntimeError(f"projection {tracker.projection.name} is being written by another")
    started = time.perf_counter()
    report = ReplayReport(last_sequence=max(from_sequence - 1, 0))
    until_ns = int(until.timestamp() * 1e9) if until is not None else None
    name = f"replay-{uuid.uuid4().hex[:12]}"
    consumer = await js.add_consumer(
        stream.value,
        ConsumerConfig(
            name=name,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=max(from_sequence, 1),
            ack_policy=AckPolicy.NONE,
            filter_subject=filter_subject or STREAM_SUBJECTS[stream],
            inactive_threshold=60.0,
            mem_storage=True,
        ),
    )
    total = consumer.num_pending or 0
    puller = Puller(js._nc, stream.value, name, batch_size=batch_size)
    await puller.start()
    thresholds = gc.get_threshold()
    # Each batch allocates thousands of short-lived objects while the row cache keeps a
    # large heap alive; the default thresholds then make the collector rescan that heap
    # constantly (measured: decoding ran at a third of its speed).
    gc.set_threshold(100_000, 50, 100)
    try:
        remaining = total
        while remaining > 0:
            messages = await puller.next_batch(timeout=30.0)
            if not messages:
                raise TimeoutError(f"replay of {stream} stalled at {report.last_sequence}")
            raws = []
            for msg in messages:
                pos = position_of(msg)
                if (until_ns is not None and pos.timestamp_ns > until_ns) or (
                    until_sequence is not None and pos.stream_sequence > until_sequence
                ):
                    remaining = 0
                    break
                raws.append(Raw(pos.stream_sequence, msg.subject, msg.data))
                remaining = pos.pending
            if raws:
                report.applied += await asyncio.to_thread(_apply, tracker, stream, raws, report)
                report.read += len(raws)
                report.last_sequence = raws[-1].sequence
                if progress is not None:
                    progress(report.read, total)
    finally:
        gc.set_threshold(*thresholds)
        await puller.stop()
        await asyncio.to_thread(tracker.release_lease)
        # The server drops it after inactive_threshold anyway.
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream.value, name)
    report.seconds = time.perf_counter() - started
    return report


def _apply(tracker: Tracker, stream: Stream, raws: list[Raw], report: ReplayReport) -> int:
    items, failures = decode_batch(tracker.projection, raws)
    report.malformed.extend((raws[index].sequence, reason) for index, reason in failures)
    return tracker.apply(stream.value, items)
