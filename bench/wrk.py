"""wrk (Debian's ``wrk``) run from a benchmark, its report parsed into the same result as
ab's.

Why a second generator: ab speaks HTTP/1.0, and uvicorn never keeps an HTTP/1.0
connection alive (``httptools_impl``: ``keep_alive=http_version != "1.0" and ...``), so
under ab every request pays a TCP connection and its teardown, about a tenth of a cheap
read's CPU. Browsers and the desks keep their connections; wrk speaks HTTP/1.1 and keeps
each of its connections for the whole run. It is C, event-driven, and spends a few
microseconds a request. ``tools/install-bench-tools.sh`` installs it.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from typing import Final

from bench.ab import AbFailed, AbResult

#: what the figures printed with a wrk result say about how they were made
HOW: Final = "wrk, HTTP/1.1 keep-alive"

_UNITS: Final = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


class WrkMissing(RuntimeError):
    """wrk is not installed."""


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def _ms(number: str, unit: str) -> float:
    return float(number) * _UNITS[unit]


def parse(report: str) -> AbResult:
    """wrk's ``--latency`` report: requests, rate and the latency percentiles (wrk prints
    50/75/90/99; its maximum stands for ab's 100 %)."""

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, report, re.MULTILINE)
        if match is None:
            raise AbFailed(f"wrk's report lacks {pattern!r}:\n{report}")
        return match

    def percentile(p: int) -> float:
        match = find(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$")
        return _ms(match.group(1), match.group(2))

    latency = find(r"^\s+Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)")
    non_2xx = re.search(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", report, re.MULTILINE)
    return AbResult(
        requests=int(find(r"^\s+(\d+) requests in")[1]),
        failed=_socket_errors(report),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        per_second=float(find(r"^Requests/sec:\s+([\d.]+)")[1]),
        p50_ms=percentile(50),
        p90_ms=percentile(90),
        p99_ms=percentile(99),
        max_ms=_ms(latency.group(1), latency.group(2)),
    )


def _socket_errors(report: str) -> int:
    match = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    return sum(int(n) for n in match.groups()) if match else 0


def run_wrk(
    url: str,
    *,
    concurrency: int,
    seconds: float,
    headers: Mapping[str, str] | None = None,
    threads: int = 2,
    timeout: float = 30.0,
) -> AbResult:
    """GETs of ``url`` for ``seconds`` from ``concurrency`` kept-alive connections. Raises
    unless every request answered 2xx over a connection that stayed whole."""
    found = wrk_binary()
    if found is None:
        raise WrkMissing("wrk not found: run tools/install-bench-tools.sh (Debian's wrk)")
    args = [found, "--latency", "-t", str(min(threads, concurrency)), "-c", str(concurrency)]
    args += ["-d", f"{max(1, round(seconds))}s", "--timeout", f"{int(timeout)}s"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    args.append(url)
    before = _children_cpu()
    done = subprocess.run(  # noqa: S603 - wrk with our own arguments
        args, capture_output=True, text=True, timeout=seconds + timeout + 30, check=False
    )
    wrk_cpu = _children_cpu() - before
    if done.returncode != 0:
        raise AbFailed(f"wrk exited {done.returncode}: {done.stderr.strip() or done.stdout}")
    result = parse(done.stdout)
    if result.failed or result.non_2xx:
        raise AbFailed(
            f"{url}: {result.failed} socket errors and {result.non_2xx} non-2xx"
            f" of {result.requests}"
        )
    return replace(result, ab_cpu_ms=wrk_cpu * 1000 / max(result.requests, 1))


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
