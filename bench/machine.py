"""One line saying what the figures were measured on: cores, CPU model, memory, and whether
the disk really syncs (the median time of a small write plus fsync in the directory the
stack runs in: a disk cache that lies, or a tmpfs, answers in microseconds, and then
``sync_interval: always`` costs nothing and the figures flatter the stack).

``python -m bench.machine`` prints it; ``make bench`` prints it once before the figures."""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

# Below this an fsync did not reach a platter or flash cell: a volatile cache or a tmpfs.
REAL_SYNC_MS = 0.05


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def fsync_ms(directory: str, rounds: int = 50) -> float:
    """Median milliseconds of a 4 KiB append plus fsync."""
    times = []
    with tempfile.NamedTemporaryFile(dir=directory, prefix="fsync-") as handle:
        block = os.urandom(4096)
        for _ in range(rounds):
            started = time.perf_counter()
            handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def machine_line() -> str:
    directory = tempfile.gettempdir()
    sync = fsync_ms(directory)
    verdict = "real" if sync >= REAL_SYNC_MS else "NOT real (cached or tmpfs)"
    memory = memory_gib()
    parts = [
        f"{os.cpu_count()} cores",
        cpu_model(),
        f"{memory:.1f} GiB" if memory is not None else "memory unknown",
        f"fsync {sync:.2f} ms median in {directory}: disk sync {verdict}",
        f"Python {platform.python_version()}",
    ]
    return "machine: " + "; ".join(parts)


if __name__ == "__main__":
    print(machine_line(), flush=True)
