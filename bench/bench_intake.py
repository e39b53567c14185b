"""Intake ``POST /v1/leads``, 32 concurrent, against its limit measured in the same run: a
bare FastAPI route (bench.intake_limit) validating the same body with the same schema and
awaiting an acknowledged publish to the same nats-server (target: ≥ 0.6 × the limit).

The staff path, as the issue's figure was taken: a clerk's demo token, a hotline lead. A
public report (``POST /v1/reports``) needs a solved proof-of-work challenge per request,
which ApacheBench cannot make. ab sends the same headers every time, so the requests carry
no Idempotency-Key (one key would return the same lead every time).

The two are measured in turns, ``BENCH_ROUNDS`` times (3 unless told): the median of each
is printed with its percentiles, and the median of the rounds' ratios; then ab against
intake's ``/healthz`` on the same server, to show the load generator is not what limits the
figure. Intake and the bare route are each one process. The rest of the stack runs
meanwhile, as under ``make run``: the ledger registers every lead intake accepts and
oversight reads it, on the same two cores, so the CPU each process spends per lead during
intake's rounds is printed too (what bounds the rate when the machine is saturated).

Intake's CPU per lead counts its own consumers of the lead (projection, duplicate check)
only as far as they kept up during the round: how many leads each still had to take when
the round ended is printed beside it; what is left runs on during the next round of the
limit, on the same cores. ab sends one body, so every lead is a duplicate of every earlier
one, the duplicate check's worst case (each check reads every earlier report).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nats
import orjson

from bench.ab import AbResult, run_ab
from bench.stack import Stack, database_kind, running_stack
from common.consumers import projection_durable
from common.natsserver import free_port
from common.subjects import Service, Stream, durable_name

CONCURRENCY = 32
REQUESTS = int(os.environ.get("BENCH_INTAKE_REQUESTS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TARGET = 0.6

BODY = orjson.dumps(
    {
        "channel": "hotline",
        "category": "cult_vice",
        "summary": "东庄村村口废弃厂房夜间聚众赌博，有人放高利贷，来电人称已持续三个月",
        "details": "来电人称每晚十点后有二三十人聚集，外地车辆较多。",
        "village": "shd-v04",
    }
)


def start_limit(stack: Stack) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "BENCH_NATS_PASSWORD": stack.admin_password}
    log = stack.root / "log" / "intake-limit.log"
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.intake_limit", str(port), stack.nats_url],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the limit route exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the limit route did not start; see {log}")
        time.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stack_pids(stack: Stack) -> dict[str, int]:
    pids = {name: stack.pid(name) for name in ("intake", "ledger", "oversight")}
    server = getattr(stack.suite.server, "_process", None)
    if server is not None:
        pids["nats"] = server.pid
    return pids


# Intake's own consumers of each lead, by what they do.
AFTER_WORK: dict[str, str] = {
    "projection": projection_durable(Service.INTAKE, "intake", Stream.INTAKE),
    "duplicate check": durable_name(Service.INTAKE, "duplicates"),
}


async def behind(stack: Stack) -> dict[str, int]:
    """How many messages each of intake's consumers of INTAKE has still to take or finish."""
    client = await nats.connect(stack.nats_url, user="admin", password=stack.admin_password)
    try:
        js = client.jetstream()
        found = {}
        for what, durable in AFTER_WORK.items():
            info = await js.consumer_info(Stream.INTAKE.value, durable)
            found[what] = info.num_pending + info.num_ack_pending
        return found
    finally:
        await client.close()


def post(url: str, token: str | None, requests: int) -> AbResult:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return run_ab(
        f"{url}/v1/leads", requests=requests, concurrency=CONCURRENCY, body=BODY, headers=headers
    )


def measured(url: str, token: str | None, pid: int) -> tuple[AbResult, float]:
    """A round, and the CPU milliseconds the serving process spent per request (on a busy
    machine the rate swings with the neighbours; the CPU a request costs does not)."""
    before = cpu_seconds(pid)
    result = post(url, token, REQUESTS)
    return result, (cpu_seconds(pid) - before) * 1000 / REQUESTS


def median_result(results: list[AbResult]) -> AbResult:
    return sorted(results, key=lambda r: r.per_second)[len(results) // 2]


async def main() -> None:
    async with running_stack() as stack:
        limit, limit_url = start_limit(stack)
        try:
            token = stack.tokens["clerk"]
            intake_url = stack.url("intake")
            # Warm-up: connections, JIT-less caches, the first stream blocks.
            post(limit_url, None, 300)
            post(intake_url, token, 300)
            ours: list[AbResult] = []
            bare: list[AbResult] = []
            cpu_ours: list[float] = []
            cpu_bare: list[float] = []
            pids = stack_pids(stack)
            spent = dict.fromkeys(pids, 0.0)
            lags: list[dict[str, int]] = []
            for _ in range(ROUNDS):
                result, cpu = measured(limit_url, None, limit.pid)
                bare.append(result)
                cpu_bare.append(cpu)
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                result, cpu = measured(intake_url, token, stack.pid("intake"))
                for name, pid in pids.items():
                    spent[name] += cpu_seconds(pid) - before[name]
                lags.append(await behind(stack))
                ours.append(result)
                cpu_ours.append(cpu)
            health = run_ab(f"{intake_url}/healthz", requests=5000, concurrency=CONCURRENCY)
        finally:
            limit.terminate()
            limit.wait(timeout=15)
    got, lim = median_result(ours), median_result(bare)
    # Each round's pair ran in the same minute: the median of their ratios is steadier, on
    # a shared machine, than the ratio of two medians.
    ratio = statistics.median(o.per_second / b.per_second for o, b in zip(ours, bare, strict=True))
    spread = [f"{r.per_second:.0f}" for r in ours]
    spread_limit = [f"{r.per_second:.0f}" for r in bare]
    verdict = "meets" if ratio >= TARGET else "BELOW"
    print(
        f"intake POST /v1/leads (staff, {database_kind()}), {CONCURRENCY} concurrent:"
        f" {got.line()}; limit (bare route, same body and schema, acked publish):"
        f" {lim.line()}; ratio {ratio:.2f}, target ≥ {TARGET} ({verdict});"
        f" medians of {ROUNDS} rounds, intake {'/'.join(spread)}, limit {'/'.join(spread_limit)}",
        flush=True,
    )
    lag = ", ".join(
        f"{what} {'/'.join(str(round_lag[what]) for round_lag in lags)}" for what in AFTER_WORK
    )
    print(
        f"intake CPU per lead {statistics.median(cpu_ours):.2f} ms (its own consumers of the"
        f" lead included as far as they kept up; leads still to take at the end of each round:"
        f" {lag}), limit {statistics.median(cpu_bare):.2f} ms",
        flush=True,
    )
    leads = ROUNDS * REQUESTS
    by_process = ", ".join(
        f"{name} {seconds * 1000 / leads:.2f}" for name, seconds in spent.items()
    )
    print(
        f"CPU ms per lead during intake's rounds, by process: {by_process}"
        f" (the machine has {os.cpu_count()} cores)",
        flush=True,
    )
    print(
        f"intake GET /healthz, {CONCURRENCY} concurrent: {health.line()}"
        " (ab is not the bottleneck of the figures above)",
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
