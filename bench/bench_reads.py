"""The ledger's reads, 16 concurrent, each still recorded where it is recorded (one lead
read in full is a LeadViewed on AUDIT, stored before it is answered): the list (a page of
20), one lead, a search and the statistics; target ≥ 1,000/s with p99 ≤ 50 ms each, on a
ledger of leads reported through intake and filed by the ledger (``BENCH_READS_LEADS``, 200
unless told; the county-sized ledger is bench.bench_reads_scale's). On PostgreSQL when
``BENCH_DATABASE_URL`` is set.

The ledger serves HTTP from ``LEDGER_HTTP_WORKERS`` processes (2 unless told; each a
replica of its own). Every line says, besides the figure and the target: the limit of the
same stack in the same run (the same generator, with the same settings, against the same
ledger's /healthz), the CPU the ledger's processes spent a read, and the CPU the generator
spent a request, which shows the load generator is not what limits the figure.

The load comes from wrk over kept-alive HTTP/1.1 connections, as browsers and the desks
keep theirs (bench.wrk); without wrk, from ab, whose HTTP/1.0 uvicorn never keeps alive, so
each request is a connection of its own (figure and limit alike). Each line names which.

Each figure is the median of ``BENCH_ROUNDS`` rounds (3 unless told), each of
``BENCH_READS_SECONDS`` seconds (2.5 unless told; wrk takes whole seconds), ab's also ending
at ``BENCH_READS_REQUESTS`` requests (2,000 unless told): on a shared machine the rate
swings with the neighbours, the CPU a read costs much less.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import wrk
from bench.ab import AbResult, run_ab
from bench.stack import Stack, database_kind, running_stack

CONCURRENCY = 16
REQUESTS = int(os.environ.get("BENCH_READS_REQUESTS", "2000"))
SECONDS = float(os.environ.get("BENCH_READS_SECONDS", "2.5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
LEADS = int(os.environ.get("BENCH_READS_LEADS", "200"))
WORKERS = os.environ.get("LEDGER_HTTP_WORKERS", "2")
TARGET_PER_SECOND = 1000
TARGET_P99_MS = 50
# Three characters or more, found in some leads' text (the seeded ones say it too).
SEARCH = "高利贷"


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and of the processes it started (a service's
    HTTP workers), all their threads (Linux /proc)."""
    ticks = 0
    for one in (pid, *children(pid)):
        try:
            fields = _stat(one)
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int(_stat(int(entry.name))[1]) == pid:
                found.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


@dataclass(frozen=True)
class Figure:
    name: str
    result: AbResult
    cpu_ms: float
    spread: list[float]

    def line(self, where: str, limit: Figure | None = None) -> str:
        met = self.result.per_second >= TARGET_PER_SECOND and self.result.p99_ms <= TARGET_P99_MS
        beside = (
            f"; limit /healthz {limit.result.per_second:.0f}/s p99 {limit.result.p99_ms:.0f} ms"
            if limit is not None
            else ""
        )
        return (
            f"ledger {self.name} ({where}), {CONCURRENCY} concurrent: {self.result.line()},"
            f" {self.cpu_ms:.2f} ms CPU a read ({GENERATOR} {self.result.ab_cpu_ms:.3f} ms);"
            f" target ≥ {TARGET_PER_SECOND}/s with p99 ≤ {TARGET_P99_MS} ms"
            f" ({'meets' if met else 'BELOW'}){beside}; median of {ROUNDS} rounds"
            f" ({'/'.join(f'{s:.0f}' for s in self.spread)}/s); {HOW}"
        )


# ``BENCH_READS_GENERATOR=ab`` measures as before wrk was used (a connection per request).
GENERATOR = os.environ.get("BENCH_READS_GENERATOR", "wrk" if wrk.wrk_binary() else "ab")
HOW = wrk.HOW if GENERATOR == "wrk" else "ab, HTTP/1.0, a connection per request"


def load(url: str, headers: dict[str, str], requests: int, seconds: float) -> AbResult:
    """One round against ``url`` from the generator every figure of the run uses (wrk runs
    for ``seconds``; ab stops at ``requests`` or ``seconds``, whichever comes first)."""
    if GENERATOR == "wrk":
        return wrk.run_wrk(url, concurrency=CONCURRENCY, seconds=seconds, headers=headers)
    return run_ab(url, requests=requests, concurrency=CONCURRENCY, headers=headers, seconds=seconds)


def measure(name: str, url: str, token: str, pid: int) -> Figure:
    """The generator against ``url``: the median round, with the CPU the process ``pid``
    (and the workers it started) spent a request in each round."""
    headers = {"Authorization": f"Bearer {token}"}
    load(url, headers, min(REQUESTS, 300), 1)
    results: list[AbResult] = []
    cpus: list[float] = []
    for _ in range(ROUNDS):
        before = cpu_seconds(pid)
        done = load(url, headers, REQUESTS, SECONDS)
        cpus.append((cpu_seconds(pid) - before) * 1000 / done.requests)
        results.append(done)
    median = sorted(results, key=lambda r: r.per_second)[len(results) // 2]
    return Figure(name, median, statistics.median(cpus), [r.per_second for r in results])


LEAD_BODY = {
    "channel": "hotline",
    "category": "village_tyrant",
    "summary": "村口小卖部有人放高利贷，逼债上门，村民不敢报警",
    "details": "来电人称已有三户被逼债，对方扬言报复。",
    "village": "shd-v05",
}


async def report_leads(stack: Stack, count: int) -> str:
    """``count`` leads through intake's staff API, waited for until the ledger filed them
    all; returns one of their ids."""
    intake, ledger = stack.url("intake"), stack.url("ledger")
    clerk = {"Authorization": f"Bearer {stack.tokens['clerk']}"}
    office = {"Authorization": f"Bearer {stack.tokens['office']}"}
    async with httpx.AsyncClient(timeout=30) as http:
        ids: list[str] = []
        for start in range(0, count, 16):
            answers = await asyncio.gather(
                *(
                    http.post(f"{intake}/v1/leads", json=LEAD_BODY, headers=clerk)
                    for _ in range(min(16, count - start))
                )
            )
            for answer in answers:
                answer.raise_for_status()
                ids.append(answer.json()["lead_id"])
        deadline = time.monotonic() + 120
        while True:
            page = await http.get(f"{ledger}/v1/ledger/leads?page_size=1", headers=office)
            if page.status_code == 200 and page.json()["total"] >= count:
                return ids[-1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"the ledger did not file {count} leads in 120 s")
            await asyncio.sleep(0.5)


def reads(stack: Stack, lead_id: str) -> dict[str, str]:
    base = stack.url("ledger") + "/v1/ledger"
    words = urllib.parse.quote(SEARCH)
    return {
        "list (page of 20)": f"{base}/leads?page_size=20",
        "one lead in full (recorded)": f"{base}/leads/{lead_id}?purpose=bench",
        f"search q={SEARCH} (page of 20)": f"{base}/leads?page_size=20&q={words}",
        "stats": f"{base}/stats",
    }


def measure_all(stack: Stack, lead_id: str, where: str) -> None:
    token, pid = stack.tokens["office"], stack.pid("ledger")
    limit = measure("GET /healthz (the limit)", stack.url("ledger") + "/healthz", token, pid)
    for name, url in reads(stack, lead_id).items():
        print(measure(name, url, token, pid).line(where, limit), flush=True)
    print(limit.line(where), flush=True)


async def main() -> None:
    started = time.monotonic()
    async with running_stack({"LEDGER_HTTP_WORKERS": WORKERS}) as stack:
        lead_id = await report_leads(stack, LEADS)
        measure_all(stack, lead_id, f"{database_kind()}, {LEADS} leads, {WORKERS} HTTP workers")
    print(f"# bench_reads took {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
