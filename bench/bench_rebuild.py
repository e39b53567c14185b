"""Projection rebuild: the ledger's read model rebuilt from 200k events into SQLite, against
a bare nats-py ordered consumer reading the same stream in the same run.

The two are measured in turns, ``BENCH_ROUNDS`` times each (5 unless told), each rebuild
into a fresh database, and the median of each is printed: on a shared two-core machine
one measurement can be a quarter off the next, in either direction, for either side.

Prints three lines: the rebuild rate, the raw replay rate and their ratio."""

from __future__ import annotations

import asyncio
import os
import statistics
import time

from nats.js import JetStreamContext

from bench.ledger_workload import ledger_stream
from common.database import sync_engine
from common.projection import Tracker
from common.replay import replay
from common.subjects import Stream
from ledger.projection.projector import ledger_projection

TOTAL = int(os.environ.get("BENCH_EVENTS", "200000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


async def raw_rate(js: JetStreamContext, total: int) -> float:
    """What nats-py alone delivers: an ordered consumer whose callback only counts."""
    done = asyncio.Event()
    seen = 0

    async def count(_msg: object) -> None:
        nonlocal seen
        seen += 1
        if seen >= total:
            done.set()

    started = time.perf_counter()
    subscription = await js.subscribe(
        "ledger.>", stream="LEDGER", ordered_consumer=True, cb=count, pending_msgs_limit=total + 1
    )
    await done.wait()
    elapsed = time.perf_counter() - started
    await subscription.unsubscribe()
    return total / elapsed


async def main() -> None:
    raws: list[float] = []
    rebuilds: list[float] = []
    async with ledger_stream(TOTAL) as (js, scratch):
        for round_ in range(ROUNDS):
            raws.append(await raw_rate(js, TOTAL))
            engine = sync_engine(f"sqlite:///{scratch / f'rebuilt-{round_}.db'}")
            tracker = Tracker(engine, ledger_projection(), owner="bench")
            report = await replay(js, tracker, Stream.LEDGER, in_child_process=True)
            engine.dispose()
            if report.read != TOTAL or report.applied != TOTAL:
                raise SystemExit(f"rebuild read {report.read} and applied {report.applied}")
            rebuilds.append(report.rate)
    raw, rebuilt = statistics.median(raws), statistics.median(rebuilds)
    spread = f"median of {ROUNDS}, {min(rebuilds):,.0f}-{max(rebuilds):,.0f}"
    print(
        f"projection rebuild (ledger, {TOTAL} events, SQLite): {rebuilt:,.0f} events/s ({spread})"
    )
    print(
        f"raw nats-py ordered-consumer replay (same stream): {raw:,.0f} events/s "
        f"(median of {ROUNDS}, {min(raws):,.0f}-{max(raws):,.0f})"
    )
    print(f"rebuild / raw ratio: {rebuilt / raw:.2f} (target >= 0.50)")


if __name__ == "__main__":
    asyncio.run(main())
