"""The replay driver: the live projection's handlers, fed from a throw-away consumer.

Used to rebuild a projection into a fresh database, to audit a live one against the log,
and to see a projection as it stood at a moment (``until``). The consumer is ephemeral,
unacknowledged and kept in memory on the server, and leaves nothing behind.

Reading, decoding and applying all cost CPU under one interpreter lock. A rebuild can
therefore decode and apply in a forked child process (``in_child_process``) while this
process goes on reading the next batches: the same handlers, the same transactions, the
same lease (the child writes as the same owner), only on a second core.

Into tables that are still empty (a rebuild into a fresh database), the secondary indexes
are made once at the end instead of kept up to date row by row: nobody reads the tables
before the rebuild is over, and building an index from the finished table costs a fraction
of updating it at every insert.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import pickle
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Final

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Index, literal, select

from common.eventstore import appended_id
from common.projection import Tracker, decode_batch
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


# (sequence, subject, data): plain tuples cross the pipe at a tenth of a named tuple's cost.
_Message = tuple[int, str, bytes, str | None]
# What one applied batch reports: events applied, and (sequence, reason) of the malformed.
_Outcome = tuple[int, list[tuple[int, str]]]

# Each batch allocates thousands of short-lived objects while the row cache keeps a large
# heap alive; the default thresholds then make the collector rescan that heap constantly
# (measured: decoding ran at a third of its speed).
_REPLAY_GC_THRESHOLDS: Final = (100_000, 50, 100)
# Rows the applying child keeps between batches (a batch's leads are read once and written
# once either way; the cache saves the reads of leads still in flight in the next batches).
_REPLAY_CACHE_ROWS: Final = 20_000


class ReplayFailed(RuntimeError):
    """Applying a batch failed in the child process; the message carries its error."""


async def replay(
    js: JetStreamContext,
    tracker: Tracker,
    stream: Stream,
    *,
    filter_subject: str | None = None,
    from_sequence: int = 1,
    until: datetime | None = None,
    until_sequence: int | None = None,
    batch_size: int = 20_000,
    progress: Progress | None = None,
    in_child_process: bool = False,
) -> ReplayReport:
    """Apply the events of ``stream`` from ``from_sequence`` (and stored no later than
    ``until``, or up to ``until_sequence``) to the tracker's projection, in order, one
    transaction per batch. With ``in_child_process`` (where processes can be forked),
    batches are decoded and applied in a child while the next ones are read."""
    await asyncio.to_thread(tracker.create_tables, [stream.value])
    if not await asyncio.to_thread(tracker.acquire_lease):
        raise RuntimeError(f"projection {tracker.projection.name} is being written by another")
    try:
        await asyncio.to_thread(_drop_indexes_of_empty_tables, tracker)
    except BaseException:
        await asyncio.to_thread(tracker.release_lease)
        raise
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
    applier: _Applier = (
        _ChildApplier(tracker, stream)
        if in_child_process and "fork" in multiprocessing.get_all_start_methods()
        else _InlineApplier(tracker, stream)
    )
    sizes: list[int] = []  # of the batches handed over, in order

    def account(outcomes: Sequence[_Outcome]) -> None:
        for applied, malformed in outcomes:
            report.applied += applied
            report.malformed.extend(malformed)
            report.read += sizes.pop(0)
            if progress is not None:
                progress(report.read, total)

    thresholds = gc.get_threshold()
    gc.set_threshold(*_REPLAY_GC_THRESHOLDS)
    try:
        remaining = total
        while remaining > 0:
            messages = await puller.next_batch(timeout=30.0)
            if not messages:
                raise TimeoutError(f"replay of {stream} stalled at {report.last_sequence}")
            batch: list[_Message] = []
            for msg in messages:
                pos = position_of(msg)
                if (until_ns is not None and pos.timestamp_ns > until_ns) or (
                    until_sequence is not None and pos.stream_sequence > until_sequence
                ):
                    remaining = 0
                    break
                batch.append((pos.stream_sequence, msg.subject, msg.data, appended_id(msg.headers)))
                remaining = pos.pending
            if batch:
                sizes.append(len(batch))
                report.last_sequence = batch[-1][0]
                account(await applier.submit(batch))
        account(await applier.finish())
    finally:
        gc.set_threshold(*thresholds)
        await applier.close()
        await puller.stop()
        try:
            # Also after a failure: the tables are readable again, whatever they hold.
            await asyncio.to_thread(_create_missing_indexes, tracker)
        finally:
            await asyncio.to_thread(tracker.release_lease)
        # The server drops it after inactive_threshold anyway.
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream.value, name)
    report.seconds = time.perf_counter() - started
    return report


def _secondary_indexes(tracker: Tracker) -> list[Index]:
    """The indexes only reads use: a unique one is a rule every batch must keep."""
    return [
        index
        for table in tracker.projection.metadata.sorted_tables
        for index in table.indexes
        if not index.unique
    ]


def _drop_indexes_of_empty_tables(tracker: Tracker) -> None:
    """Drop the secondary indexes of the projection's tables if every one of them is empty
    (the replay builds them from nothing; :func:`_create_missing_indexes` makes them)."""
    tables = tracker.projection.metadata.sorted_tables
    with tracker.engine.begin() as conn:
        for table in tables:
            if conn.execute(select(literal(1)).select_from(table).limit(1)).first():
                return
        for index in _secondary_indexes(tracker):
            index.drop(conn, checkfirst=True)


def _create_missing_indexes(tracker: Tracker) -> None:
    with tracker.engine.begin() as conn:
        for index in _secondary_indexes(tracker):
            index.create(conn, checkfirst=True)


def _apply(tracker: Tracker, stream: str, batch: list[_Message]) -> _Outcome:
    items, failures = decode_batch(tracker.projection, batch)
    applied = tracker.apply(stream, items)
    return applied, [(batch[index][0], reason) for index, reason in failures]


class _Applier(ABC):
    @abstractmethod
    async def submit(self, batch: list[_Message]) -> list[_Outcome]:
        """Hand a batch over; returns the outcomes of the batches finished meanwhile."""

    async def finish(self) -> list[_Outcome]:
        """Wait for every batch handed over; their outcomes."""
        return []

    async def close(self) -> None:
        return None


class _InlineApplier(_Applier):
    def __init__(self, tracker: Tracker, stream: Stream) -> None:
        self._tracker = tracker
        self._stream = stream.value

    async def submit(self, batch: list[_Message]) -> list[_Outcome]:
        return [await asyncio.to_thread(_apply, self._tracker, self._stream, batch)]


class _ChildApplier(_Applier):
    """Batches applied in a forked child, at most ``depth`` handed over at a time (so
    memory stays bounded and the reader never runs far ahead of the writer).

    Forked rather than spawned: a fresh interpreter would spend a second importing what
    this one has loaded, and the child needs this process's projection and tracker, whose
    handlers are closures that cannot be pickled. The child opens its own database
    connections (``dispose(close=False)`` leaves the parent's alone) and ends with
    ``os._exit`` so that nothing inherited is finalised twice."""

    def __init__(self, tracker: Tracker, stream: Stream, depth: int = 2) -> None:
        self._tracker = tracker
        self._depth = depth
        self._in_flight = 0
        context = multiprocessing.get_context("fork")
        self._conn, child_end = context.Pipe()
        self._process = context.Process(
            target=_child_main,
            args=(child_end, tracker, stream.value),
            name=f"replay-{tracker.projection.name}",
            daemon=True,
        )
        self._process.start()
        child_end.close()
        # One thread per direction keeps the order of each and never blocks the loop.
        self._sender = ThreadPoolExecutor(1, thread_name_prefix="replay-send")
        self._receiver = ThreadPoolExecutor(1, thread_name_prefix="replay-receive")

    async def submit(self, batch: list[_Message]) -> list[_Outcome]:
        outcomes = []
        if self._in_flight >= self._depth:
            outcomes.append(await self._outcome())
        blob = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._sender, self._conn.send_bytes, blob)
        self._in_flight += 1
        return outcomes

    async def finish(self) -> list[_Outcome]:
        outcomes = []
        while self._in_flight:
            outcomes.append(await self._outcome())
        return outcomes

    async def _outcome(self) -> _Outcome:
        loop = asyncio.get_running_loop()
        try:
            # From our own forked child over a socket pair only the two of us hold.
            kind, value = pickle.loads(  # noqa: S301
                await loop.run_in_executor(self._receiver, self._conn.recv_bytes)
            )
        except EOFError:
            raise ReplayFailed(
                f"the applying process ended (exit code {self._process.exitcode})"
            ) from None
        self._in_flight -= 1
        if kind != "ok":
            raise ReplayFailed(value)
        outcome: _Outcome = value
        return outcome

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send_bytes(b"")  # the child's signal to stop
        await asyncio.to_thread(self._process.join, 10.0)
        if self._process.is_alive():
            self._process.kill()
            await asyncio.to_thread(self._process.join)
        self._conn.close()
        self._sender.shutdown(wait=False)
        self._receiver.shutdown(wait=False)
        # The child wrote rows this process's cache never saw.
        self._tracker.cache.clear()


def _child_main(conn: Connection, tracker: Tracker, stream: str) -> None:
    """Apply each batch that arrives, answer with its outcome; an empty message ends."""
    try:
        tracker.engine.dispose(close=False)
        # What the child keeps from batch to batch is the row cache: bounded by its row
        # count, it held 100,000 lead rows (~130 MB) on a long stream.
        tracker.cache.capacity = min(tracker.cache.capacity, _REPLAY_CACHE_ROWS)
        # This process lives for one replay and ends with os._exit: the few reference
        # cycles it makes (measured: 14 objects per batch of 20,000) die with it, and the
        # collector's scans of every decoded event would cost more.
        gc.disable()
        while blob := conn.recv_bytes():
            try:
                batch = pickle.loads(blob)  # noqa: S301 - from the parent, see above
                answer: tuple[str, object] = ("ok", _apply(tracker, stream, batch))
            except Exception as exc:  # reported to the parent, which raises it
                answer = ("error", f"{type(exc).__name__}: {exc}")
            batch = blob = None  # not held while the next batch arrives
            conn.send_bytes(pickle.dumps(answer))
            if answer[0] != "ok":
                break
    except (EOFError, OSError):
        pass  # the parent is gone
    finally:
        os._exit(0)
