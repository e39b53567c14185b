"""ApacheBench (``ab``, Debian's apache2-utils) run from a benchmark, its report parsed.

A Python load generator saturates near 120 requests/s on these machines and would measure
itself; ab is C and keeps up with what the services can do. ``tools/install-bench-tools.sh``
installs it.
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path


class AbMissing(RuntimeError):
    """ab is not installed."""


class AbFailed(RuntimeError):
    """ab stopped, or requests failed or answered other than expected."""


@dataclass(frozen=True)
class AbResult:
    requests: int
    failed: int
    non_2xx: int
    per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    #: CPU time ab itself spent a request, in ms: how far the load generator is from
    #: being what limits the figure (it has a core to itself at 1 / this ms a second)
    ab_cpu_ms: float = 0.0

    def line(self) -> str:
        return (
            f"{self.per_second:.0f}/s, p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms"
            f" ({self.requests} requests)"
        )


def ab_binary() -> str:
    found = shutil.which("ab")
    if found is None:
        raise AbMissing("ab not found: run tools/install-bench-tools.sh (Debian's apache2-utils)")
    return found


def parse(report: str) -> AbResult:
    def number(pattern: str, default: float | None = None) -> float:
        match = re.search(pattern, report, re.MULTILINE)
        if match is None:
            if default is not None:
                return default
            raise AbFailed(f"ab's report lacks {pattern!r}:\n{report}")
        return float(match.group(1))

    return AbResult(
        requests=int(number(r"^Complete requests:\s+(\d+)")),
        failed=int(number(r"^Failed requests:\s+(\d+)")),
        non_2xx=int(number(r"^Non-2xx responses:\s+(\d+)", 0.0)),
        per_second=number(r"^Requests per second:\s+([\d.]+)"),
        p50_ms=number(r"^\s+50%\s+(\d+)"),
        p90_ms=number(r"^\s+90%\s+(\d+)"),
        p99_ms=number(r"^\s+99%\s+(\d+)"),
        max_ms=number(r"^\s+100%\s+(\d+)"),
    )


def run_ab(
    url: str,
    *,
    requests: int,
    concurrency: int,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
    timeout: float = 300.0,
    allow_non_2xx: bool = False,
    seconds: float | None = None,
) -> AbResult:
    """``requests`` requests at ``concurrency`` in flight, keep-alive; a POST when ``body``
    is given (the same body each time); stopped after ``seconds`` when given, however many
    were made by then. Raises unless every request answered 2xx.

    ab speaks HTTP/1.0, and uvicorn closes an HTTP/1.0 connection after its answer: each
    request is a connection of its own (``/healthz``, the limit, pays the same).

    ab counts a response whose length differs from the first as "failed" (length): bodies
    that carry an id or a time differ, so only connection, receive and exception failures
    count here."""
    args = [ab_binary(), "-q", "-k"]
    if seconds is not None:
        # Before -n: ab's -t sets the request count to its own maximum.
        args += ["-t", str(max(1, round(seconds)))]
    args += ["-n", str(requests), "-c", str(concurrency)]
    args += ["-s", str(int(timeout))]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory(prefix="ab-") as scratch:
        if body is not None:
            body_file = Path(scratch) / "body"
            body_file.write_bytes(body)
            args += ["-p", str(body_file), "-T", content_type]
        args.append(url)
        before = _children_cpu()
        done = subprocess.run(  # noqa: S603 - ab with our own arguments
            args, capture_output=True, text=True, timeout=timeout + 30, check=False
        )
        ab_cpu = _children_cpu() - before
    if done.returncode != 0:
        raise AbFailed(f"ab exited {done.returncode}: {done.stderr.strip() or done.stdout}")
    result = parse(done.stdout)
    result = replace(result, ab_cpu_ms=ab_cpu * 1000 / max(result.requests, 1))
    hard = re.search(
        r"\(Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)\)", done.stdout
    )
    hard_failures = sum(int(n) for n in hard.groups()) if hard else 0
    if hard_failures or (result.non_2xx and not allow_non_2xx):
        raise AbFailed(
            f"{url}: {hard_failures} failed and {result.non_2xx} non-2xx of {result.requests}"
        )
    return result


def _children_cpu() -> float:
    """User and system CPU of this process's children that have ended (ab, once run)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
