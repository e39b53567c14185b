"""What a public request costs its sender: the proof of work intake asks (common.work), solved
the way our own clients solve it (Python's hashlib on one core), against the bare SHA-256
rate of the same core measured in the same run, and what checking a proof costs the server.

Each purpose is solved ``BENCH_WORK_RUNS`` times (30 unless told) at intake's default bits;
the time to solve one is geometric (each nonce is a fresh try), so the median and the 90th
percentile are printed. Prints four lines."""

from __future__ import annotations

import hashlib
import os
import statistics
import time

from common.work import Purpose, WorkIssuer, solve
from intake.settings import IntakeSettings

RUNS = int(os.environ.get("BENCH_WORK_RUNS", "30"))


def hash_rate(seconds: float = 1.0) -> float:
    """Bare SHA-256 over a challenge-sized input, the solver's inner loop without the rest."""
    prefix = hashlib.sha256(b"x" * 60 + b":")
    count = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for nonce in range(10_000):
            attempt = prefix.copy()
            attempt.update(str(nonce).encode())
            attempt.digest()
        count += 10_000
    return count / (time.perf_counter() - started)


def solving(issuer: WorkIssuer, purpose: Purpose, bits: int) -> list[float]:
    times = []
    for _ in range(RUNS):
        challenge = issuer.issue(purpose, bits)
        started = time.perf_counter()
        solve(challenge.token, bits)
        times.append(time.perf_counter() - started)
    return sorted(times)


def main() -> None:
    defaults = IntakeSettings.model_fields
    report_bits = int(defaults["work_bits_report"].default)
    receipt_bits = int(defaults["work_bits_receipt"].default)
    issuer = WorkIssuer(os.urandom(32))
    rate = hash_rate()
    for purpose, bits in ((Purpose.REPORT, report_bits), (Purpose.RECEIPT, receipt_bits)):
        times = solving(issuer, purpose, bits)
        p90 = times[int(len(times) * 0.9) - 1]
        print(
            f"work {purpose} ({bits} bits): median {statistics.median(times):.2f} s,"
            f" p90 {p90:.2f} s per request on one core (expected {2**bits / rate:.2f} s"
            f" at the bare rate; {RUNS} runs)"
        )
    print(f"work bare sha256 rate, one core: {rate / 1e6:.2f} M hashes/s")
    challenge = issuer.issue(Purpose.REPORT, 8)
    proof = solve(challenge.token, 8)
    checks = 20_000
    started = time.perf_counter()
    for _ in range(checks):
        issuer.check(proof, Purpose.REPORT, min_bits=8)
    per_check = (time.perf_counter() - started) / checks
    print(f"work check on the server: {per_check * 1e6:.1f} us per proof")


if __name__ == "__main__":
    main()
