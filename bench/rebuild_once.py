"""One projection rebuild in a process of its own, so that its peak memory is its own and
not the benchmark's (which built the stream): prints the rate, and the peak resident set and
the CPU time of this process (reading) and of the child that applied the batches, as JSON.

    python -m bench.rebuild_once NATS_URL DATABASE_FILE EVENTS"""

from __future__ import annotations

import asyncio
import json
import resource
import sys

import nats

from common.database import sync_engine
from common.projection import Tracker
from common.replay import replay
from common.subjects import Stream
from ledger.projection.projector import ledger_projection


async def main(url: str, database: str, total: int) -> None:
    nc = await nats.connect(url)
    before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        engine = sync_engine(f"sqlite:///{database}")
        tracker = Tracker(engine, ledger_projection(), owner="bench")
        report = await replay(
            nc.jetstream(), tracker, Stream.LEDGER, until_sequence=total, in_child_process=True
        )
        engine.dispose()
    finally:
        await nc.close()
    if report.read != total or report.applied != total:
        raise SystemExit(f"rebuild read {report.read} and applied {report.applied}")
    reading = resource.getrusage(resource.RUSAGE_SELF)
    applying = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Linux reports ru_maxrss in KiB; the children's figure is the largest waited-for one.
    print(
        json.dumps(
            {
                "rate": report.rate,
                "seconds": report.seconds,
                "parent_mib": reading.ru_maxrss / 1024,
                "child_mib": applying.ru_maxrss / 1024,
                # Per event, the replay's own (not the imports'): a guide where a busy
                # machine makes the rate say little.
                "parent_cpu_us": (
                    reading.ru_utime + reading.ru_stime - before.ru_utime - before.ru_stime
                )
                / total
                * 1e6,
                "child_cpu_us": (applying.ru_utime + applying.ru_stime) / total * 1e6,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
