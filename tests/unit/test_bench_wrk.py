"""The reads' load generator: wrk's report read into the same figures as ab's, and a run
with failed requests refused rather than counted."""

from __future__ import annotations

import pytest

from bench.ab import AbFailed
from bench.wrk import parse

REPORT = """Running 3s test @ http://127.0.0.1:8102/healthz
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.49ms    2.10ms   1.06s    74.87%
    Req/Sec     1.60k   123.81     1.80k    73.33%
  Latency Distribution
     50%  850.00us
     75%    5.77ms
     90%    8.90ms
     99%   41.09ms
  9604 requests in 3.00s, 1.03MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:   3201.33
Transfer/sec:    351.23KB
"""


def test_a_wrk_report_gives_the_rate_the_percentiles_in_milliseconds_and_the_failures() -> None:
    found = parse(REPORT)
    assert found.requests == 9604
    assert found.per_second == pytest.approx(3201.33)
    assert found.p50_ms == pytest.approx(0.85)
    assert found.p90_ms == pytest.approx(8.9)
    assert found.p99_ms == pytest.approx(41.09)
    assert found.max_ms == pytest.approx(1060.0)
    assert found.failed == 3
    assert found.non_2xx == 5


def test_a_clean_run_has_no_failures() -> None:
    clean = REPORT.replace("  Socket errors: connect 0, read 2, write 0, timeout 1\n", "")
    clean = clean.replace("  Non-2xx or 3xx responses: 5\n", "")
    found = parse(clean)
    assert (found.failed, found.non_2xx) == (0, 0)


def test_a_report_without_its_percentiles_is_refused() -> None:
    with pytest.raises(AbFailed, match="99"):
        parse(REPORT.replace("     99%   41.09ms\n", ""))
