"""``make bench``: the machine's line, then every ``bench/bench_*.py`` in turn, each in a
process of its own (as ``python -m bench.<name>``), its output passed through as it comes and
its wall time printed after it; at the end the total against the ten-minute target.

A script that fails (non-zero exit) is named, the remaining ones still run (so one broken
figure does not hide the others), and the run exits non-zero. Arguments name the scripts to
run (``bench_reads bench_work``) instead of all of them; ``--list`` only prints their names."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from bench.machine import machine_line

BENCH: Final = Path(__file__).resolve().parent
TARGET_SECONDS: Final = 600.0
# Each script's share of the target on a quiet machine: a script over its budget is
# flagged in its time line, so a slow one is seen before the total runs over.
BUDGETS: Final = {
    "bench_capacity": 30.0,
    "bench_duplicates": 60.0,
    "bench_end_to_end": 70.0,
    "bench_failover": 30.0,
    "bench_intake": 45.0,
    "bench_live": 30.0,
    "bench_reads": 60.0,
    "bench_reads_scale": 120.0,
    "bench_rebuild": 90.0,
    "bench_registration": 45.0,
    "bench_tracker": 15.0,
    "bench_work": 30.0,
}


def scripts() -> list[str]:
    return sorted(path.stem for path in BENCH.glob("bench_*.py"))


def command(name: str) -> list[str]:
    return [sys.executable, "-m", f"bench.{name}"]


def run(name: str) -> tuple[int, float]:
    """Runs one script to its end; its exit status and wall seconds."""
    started = time.perf_counter()
    done = subprocess.run(command(name), check=False)  # noqa: S603
    return done.returncode, time.perf_counter() - started


def budget_note(name: str, seconds: float) -> str:
    budget = BUDGETS.get(name)
    if budget is None:
        return "no budget set"
    return f"budget {budget:.0f} s" + (", OVER" if seconds > budget else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__)
    parser.add_argument("names", nargs="*", help="scripts to run (default: every bench_*.py)")
    parser.add_argument("--list", action="store_true", help="print the scripts' names and stop")
    options = parser.parse_args(argv)
    known = scripts()
    names = options.names or known
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (known: {', '.join(known)})")
    if options.list:
        print("\n".join(names))
        return 0
    print(machine_line(), flush=True)
    started = time.perf_counter()
    times: list[tuple[str, float]] = []
    failed: list[str] = []
    for name in names:
        status, seconds = run(name)
        times.append((name, seconds))
        verdict = "ok" if status == 0 else f"FAILED (exit {status})"
        # The load says whether the time is the script's own or shared with other work.
        load = os.getloadavg()[0]
        print(
            f"time {name}: {seconds:.0f} s wall, {verdict} ({budget_note(name, seconds)};"
            f" load {load:.1f} on {os.cpu_count()} cores)"
        )
        sys.stdout.flush()
        if status != 0:
            failed.append(name)
    total = time.perf_counter() - started
    slowest = ", ".join(f"{n} {s:.0f} s" for n, s in sorted(times, key=lambda t: -t[1])[:3])
    print(
        f"time make bench: {total:.0f} s wall for {len(names)} scripts"
        f" (target {TARGET_SECONDS:.0f} s{', OVER' if total > TARGET_SECONDS else ''};"
        f" slowest: {slowest})"
    )
    if failed:
        print(f"benchmarks FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
