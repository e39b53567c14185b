"""Live projection: the ledger's durable pull consumer draining a backlog of ledger events
into SQLite, acknowledging each event after its batch commits (the service's own path).

Prints one line: events applied per second."""

from __future__ import annotations

import asyncio
import os
import time

from bench.ledger_workload import ledger_stream
from common.database import sync_engine
from common.deadletter import DeadLetters
from common.projection import Tracker
from common.runner import ProjectionRunner, RunnerOptions
from common.subjects import Service, Stream
from ledger.projection.projector import ledger_projection

TOTAL = int(os.environ.get("BENCH_EVENTS", "100000"))


async def main() -> None:
    async with ledger_stream(TOTAL) as (js, scratch):
        engine = sync_engine(f"sqlite:///{scratch / 'live.db'}")
        tracker = Tracker(engine, ledger_projection(), owner="bench")
        runner = ProjectionRunner(
            js,
            tracker,
            Stream.LEDGER,
            durable="bench-ledger",
            dead_letters=DeadLetters(js, Service.LEDGER),
            options=RunnerOptions(batch_size=1000),
        )
        started = time.perf_counter()
        await runner.start()
        await runner.caught_up.wait()
        if tracker.position(Stream.LEDGER.value) != TOTAL:
            raise SystemExit("the runner stopped short of the stream's end")
        elapsed = time.perf_counter() - started
        await runner.stop()
        engine.dispose()
    print(
        f"live projection (ledger, durable pull, ack after commit, SQLite): {TOTAL / elapsed:,.0f} events/s"
    )


if __name__ == "__main__":
    asyncio.run(main())
