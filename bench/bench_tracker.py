"""CPU per batch of the projection bookkeeping (common.projection.Tracker.apply), in-process.

Every live batch of every projection runs the tracker's statements: the lease checked
(FOR UPDATE on PostgreSQL), the position read, then both written. This applies many
small batches of no-op items through a Tracker on SQLite (or DATABASE_URL) and prints
the process CPU per batch, so the bookkeeping's cost is seen apart from any handler.

    .venv/bin/python -m bench.bench_tracker [--batches 3000] [--size 5] [--module FILE]

``--module`` loads another copy of common/projection.py (e.g. an older one from git) to
compare: run old and new in turns, the machine is shared.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from types import ModuleType

from sqlalchemy import MetaData

from common.database import sync_engine


def _load(path: str | None) -> ModuleType:
    if path is None:
        import common.projection as module

        return module
    spec = importlib.util.spec_from_file_location("projection_under_test", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=3000)
    parser.add_argument("--size", type=int, default=5)
    parser.add_argument("--module", default=None)
    args = parser.parse_args()
    module = _load(args.module)
    with tempfile.TemporaryDirectory() as directory:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{directory}/bench.db"
        engine = sync_engine(url)
        projection = module.Projection(f"bench_tracker_{os.getpid()}", MetaData())
        tracker = module.Tracker(engine, projection, "bench-owner")
        tracker.create_tables(["S"])
        if not tracker.acquire_lease():
            raise SystemExit("the lease is held by another owner")
        sequence = 0
        for _ in range(200):  # warm up: pool, compiled caches
            tracker.apply("S", [module.Item(sequence := sequence + 1, None)])
        started = time.process_time()
        for _ in range(args.batches):
            items = [module.Item(sequence + i + 1, None) for i in range(args.size)]
            sequence += args.size
            tracker.apply("S", items, True)
        spent = time.process_time() - started
        if tracker.position("S") != sequence:
            raise SystemExit(f"position {tracker.position('S')}, expected {sequence}")
        with engine.begin() as conn:  # a shared DATABASE_URL keeps no trace of the run
            for table in (module.projection_positions, module.projection_leases):
                conn.execute(table.delete().where(table.c.projection == projection.key))
        engine.dispose()
    print(
        f"{args.module or 'common.projection'}: {args.batches} batches of {args.size}:"
        f" {spent / args.batches * 1e6:.0f} us CPU a batch"
    )


if __name__ == "__main__":
    main()
