"""Projection rebuild: the ledger's read model rebuilt from 200k events into SQLite, against
a bare nats-py ordered consumer reading the same stream in the same run.

The two are measured in turns, ``BENCH_ROUNDS`` times each (5 unless told), each rebuild
into a fresh database, and the median of each is printed: on a shared two-core machine
one measurement can be a quarter off the next, in either direction, for either side.

Prints three lines: the rebuild rate, the raw replay rate and their ratio; then the peak
memory and the CPU per event of one more rebuild of the same stream, run in a process of its
own (bench.rebuild_once): the reading process and the forked child that applies. The rebuild
needs both cores and the raw replay one, so a busy machine lowers the ratio; the CPU per event
says where the time goes even then.

With ``BENCH_SCALE=1`` (as for the other million-sized figures; ``BENCH_REBUILD_SCALE=1``
alone for this one) it goes on to a stream of 1,000,000 events (publishing it takes
5-10 minutes here, the two rebuilds 2-4 more) and prints the rebuild of its first 100,000 and
of all of it: the time per event of each (linear: the same) and the peak memory at 1M (target
300 MB)."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from nats.js import JetStreamContext

from bench.ledger_workload import ledger_stream
from common.database import sync_engine
from common.projection import Tracker
from common.replay import replay
from common.subjects import Stream
from ledger.projection.projector import ledger_projection

TOTAL = int(os.environ.get("BENCH_EVENTS", "200000"))
SCALE = os.environ.get("BENCH_REBUILD_SCALE", "") == "1" or os.environ.get(
    "BENCH_SCALE", ""
).strip().lower() in {"1", "1m"}
LARGE = 1_000_000
RSS_TARGET_MIB = 300
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


async def rebuild_once(js: JetStreamContext, database: Path, events: int) -> dict[str, float]:
    """A rebuild of the stream's first ``events`` in a fresh process: rate and peak memory."""
    url = js._nc.connected_url.geturl() if js._nc.connected_url else ""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bench.rebuild_once", url, str(database), str(events)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"rebuild_once failed: {done.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def memory(figures: dict[str, float]) -> str:
    peak = max(figures["parent_mib"], figures["child_mib"])
    return (
        f"peak RSS {figures['parent_mib']:.0f} MiB reading, {figures['child_mib']:.0f} MiB "
        f"applying (target <= {RSS_TARGET_MIB} MB each: {'met' if peak <= RSS_TARGET_MIB else 'MISSED'}); "
        f"CPU {figures['parent_cpu_us']:.1f} us an event reading, "
        f"{figures['child_cpu_us']:.1f} us applying"
    )


async def scale() -> None:
    """1,000,000 events: linear time and bounded memory."""
    async with ledger_stream(LARGE) as (js, scratch):
        small = await rebuild_once(js, scratch / "scale-small.db", LARGE // 10)
        large = await rebuild_once(js, scratch / "scale-large.db", LARGE)
    per_small = small["seconds"] / (LARGE // 10) * 1e6
    per_large = large["seconds"] / LARGE * 1e6
    print(
        f"projection rebuild, 100,000 then 1,000,000 events: {small['seconds']:.1f} s and "
        f"{large['seconds']:.1f} s, {small['rate']:,.0f} and {large['rate']:,.0f} events/s, "
        f"{per_small:.1f} and {per_large:.1f} us per event "
        f"(x{per_large / per_small:.2f}; target: linear)"
    )
    print(f"projection rebuild of 1,000,000 events: {memory(large)}")


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
        once = await rebuild_once(js, scratch / "measured.db", TOTAL)
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
    print(f"projection rebuild of {TOTAL} events: {memory(once)}")
    if SCALE:
        await scale()


if __name__ == "__main__":
    asyncio.run(main())
