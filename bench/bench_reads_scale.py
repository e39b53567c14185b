"""The ledger's reads on a ledger of a county over years: the list (a page of 20), one lead
in full (recorded in the audit stream before it is answered), a search (a page of 20) and
the statistics, 16 concurrent; target ≥ 1,000/s with p99 ≤ 50 ms each, on a ledger of
1,000,000 leads. Printed with the limit of the same stack in the same run (the same generator,
wrk over kept-alive connections when installed (bench.bench_reads), against
the same ledger process's /healthz) and the CPU the ledger spent per read, which is what
shows whether a read grows with the ledger.

A few leads are reported through intake and filed by the ledger (one of them is the lead
read in full; they are searched for too), then many more are seeded straight into the read
model (bench.seed_ledger): ``BENCH_SCALE`` leads, 100,000 unless told (what ``make bench``
seeds within its budget); ``BENCH_SCALE=1`` (or ``1m``) seeds 1,000,000, on SQLite and
then, when ``BENCH_DATABASE_URL`` is set, on PostgreSQL. Without ``BENCH_SCALE=1``, on
PostgreSQL when ``BENCH_DATABASE_URL`` is set.

Each figure is the median of ``BENCH_ROUNDS`` rounds (1 unless told) of
``BENCH_READS_REQUESTS`` requests (2,000 unless told).

    BENCH_SCALE=1 BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python -m bench.bench_reads_scale
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.seed_ledger import seed
from bench.stack import Stack, running_stack

# The shared knobs, read as bench_reads reads them; one round unless told (the budget).
os.environ.setdefault("BENCH_ROUNDS", "1")

from bench.bench_reads import measure, reads, report_leads

REPORTED = 20
DEFAULT_SCALE = 100_000
MILLION = 1_000_000


def wanted_scale() -> tuple[int, bool]:
    """How many leads to seed, and whether this is the million of the issue (on each
    engine available)."""
    wanted = os.environ.get("BENCH_SCALE", "").strip().lower().replace("_", "")
    if wanted in ("1", "1m"):
        return MILLION, True
    return (int(wanted) if wanted else DEFAULT_SCALE), False


@contextmanager
def on_sqlite() -> Iterator[None]:
    """The stack on SQLite, whatever BENCH_DATABASE_URL says (bench.stack reads it)."""
    kept = os.environ.pop("BENCH_DATABASE_URL", None)
    try:
        yield
    finally:
        if kept is not None:
            os.environ["BENCH_DATABASE_URL"] = kept


async def run(kind: str, count: int) -> None:
    async with running_stack() as stack:
        # Filed through the services before the seeding: the projector keeps the counts it
        # wrote in its cache, so nothing is projected after the counts are seeded.
        lead_id = await report_leads(stack, REPORTED)
        took = await asyncio.to_thread(seed, stack.database_url("ledger"), count)
        where = f"{kind}, {count + REPORTED:,} leads"
        print(f"# {count:,} leads seeded into the ledger's read model in {took:.0f} s", flush=True)
        measure_all(stack, lead_id, where)


def measure_all(stack: Stack, lead_id: str, where: str) -> None:
    token, pid = stack.tokens["office"], stack.pid("ledger")
    health = measure("GET /healthz (the limit)", stack.url("ledger") + "/healthz", token, pid)
    for name, url in reads(stack, lead_id).items():
        print(measure(name, url, token, pid).line(where), flush=True)
    print(health.line(where), flush=True)


async def main() -> None:
    started = time.monotonic()
    count, million = wanted_scale()
    postgresql = bool(os.environ.get("BENCH_DATABASE_URL"))
    if million or not postgresql:
        with on_sqlite():
            await run("SQLite", count)
    if postgresql:
        await run("PostgreSQL", count)
    print(f"# bench_reads_scale took {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
