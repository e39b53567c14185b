"""End to end at a steady rate: intake's 201 → the lead in the ledger's read model, and a
flagged lead → its case in oversight's read model.

Sender processes (``SENDERS``, each holding its share of the rate on its own event loop, the
requests sent on schedule whatever the answers take: an open loop) post hotline leads to
intake as a clerk; one in ten is flagged for the committee. The texts are those of the
duplicate detector's corpus (``bench.duplicate_corpus``: unrelated reports sharing phrases,
one in ten a retelling of an earlier one), not one text numbered: copies of one text are
each other's duplicates, and the check would link nearly every report (98 % did) at a cost
no real stream of reports makes. Each sender keeps at most ``IN_FLIGHT`` requests open, so
a late intake shows as late answers and failures, counted in the line, not as the sender's
own connection pool spinning on the same cores. Visibility is watched in the
read models themselves, not through ``GET /v1/ledger/leads/{id}``: at 200 leads/s the
polling reads would load the ledger (each read is recorded in the audit stream) and the
generator with them. A thread reads the new rows of the ledger's leads table and of
oversight's cases table every ``POLL_MS`` (by rowid, on SQLite), so a figure is late by at
most that. Latency is from the moment the sender has the 201 to the moment the row was seen.
The first ``BENCH_E2E_WARMUP`` seconds of load (5) are sent and not counted: a service's
first batches compile its statements and fill its caches. Then each hop is shown from the
streams' own timestamps (the broker's clock, the machine's), and the CPU each service spent
per lead.

    python -m bench.bench_end_to_end                    # 200 leads/s for 5 + 25 s
    BENCH_E2E_RATE=100 BENCH_E2E_SECONDS=60 python -m bench.bench_end_to_end
    BENCH_E2E_VIA=stream python -m bench.bench_end_to_end   # from intake's append, no HTTP

A 201 comes back only after JetStream acknowledged the report, and the pipeline may show
the lead before the client has read its answer: a negative latency is that, not an error.
``BENCH_LEDGER_ATOMIC`` is as for bench.bench_registration.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import re
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import httpx
import nats
from sqlalchemy import make_url

from bench.bench_registration import allow_atomic_batches, report
from bench.duplicate_corpus import corpus
from bench.stack import database_kind, running_stack
from common.eventstore import EventStore, read_messages
from common.subjects import Service, Stream, inbox_prefix
from common.vocabulary import Flag

RATE: Final = float(os.environ.get("BENCH_E2E_RATE", "200"))
SECONDS: Final = float(os.environ.get("BENCH_E2E_SECONDS", "25"))
WARMUP: Final = float(os.environ.get("BENCH_E2E_WARMUP", "5"))
SENDERS: Final = int(os.environ.get("BENCH_E2E_SENDERS", "4"))
# "http": POST /v1/leads to intake, from its 201; "stream": LeadReported appended to INTAKE
# as intake appends it, from the acknowledgement (intake's HTTP capacity left out).
VIA: Final = os.environ.get("BENCH_E2E_VIA", "http")
FLAGGED_EVERY: Final = 10
IN_FLIGHT: Final = int(os.environ.get("BENCH_E2E_IN_FLIGHT", "64"))
VILLAGES: Final = 17
# Seconds the stack is watched idle before the load, for the CPU it spends doing nothing
# (waiting on pulls, renewing leases); 0 skips it.
IDLE: Final = float(os.environ.get("BENCH_E2E_IDLE", "0"))
SERVICES: Final = ("intake", "ledger", "oversight")
POLL_MS: Final = 5.0
LEDGER_TARGET_MS: Final = 100.0
OVERSIGHT_TARGET_MS: Final = 200.0
# The events each hop stores, by the subjects they are read back by.
HOPS: Final = {
    "reported": (Stream.INTAKE, "intake.lead.*.LeadReported"),
    "registered": (Stream.LEDGER, "ledger.lead.*.LeadRegistered"),
    "opened": (Stream.OVERSIGHT, "oversight.lead.*.CaseOpened"),
}
# After the last 201, how long stragglers are waited for.
SETTLE: Final = 30.0

Sent = tuple[str, float, bool]  # lead id, wall-clock time of the 201, flagged


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def body(text: str, village: int, flagged: bool) -> dict[str, object]:
    return {
        "channel": "hotline",
        "category": "village_tyrant" if flagged else "cult_vice",
        "summary": text[:60],
        "details": text,
        "village": f"shd-v{1 + village % VILLAGES:02d}",
        "flags": ["involves_official"] if flagged else [],
    }


async def append(
    nats_url: str, password: str, sender: int, rate: float, seconds: float
) -> list[Sent]:
    """As intake appends a report once the request is valid: the moment of the
    acknowledgement is the moment intake would answer 201."""
    nc = await nats.connect(
        nats_url,
        user="intake",
        password=password,
        inbox_prefix=inbox_prefix(Service.INTAKE).encode(),
    )
    store = EventStore(nc.jetstream(), Stream.INTAKE, "intake")
    rng = random.Random(sender)
    sent: list[Sent] = []

    async def one(n: int) -> None:
        flagged = n % FLAGGED_EVERY == 0
        event = report(sender * 1_000_000 + n, rng)
        event = event.model_copy(update={"flags": (Flag.INVOLVES_OFFICIAL,) if flagged else ()})
        await store.append(event)
        sent.append((event.lead_id, time.time(), flagged))

    try:
        await on_schedule(one, rate, seconds)
    finally:
        await nc.close()
    return sent


async def on_schedule(one: Callable[[int], Awaitable[None]], rate: float, seconds: float) -> None:
    """``one(n)`` started at ``n / rate`` seconds, whatever the earlier ones take."""
    started = time.perf_counter()
    tasks = []
    for n in range(int(rate * seconds)):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)


async def send(
    url: str, token: str, sender: int, rate: float, seconds: float
) -> tuple[list[Sent], int]:
    sent: list[Sent] = []
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    reports = corpus(sender, VILLAGES)
    open_requests = asyncio.Semaphore(IN_FLIGHT)
    async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits) as client:

        async def one(n: int) -> None:
            flagged = n % FLAGGED_EVERY == 0
            told = next(reports)
            village = int(told.village[1:]) if told.village else n
            try:
                async with open_requests:
                    response = await client.post(
                        "/v1/leads", json=body(told.text, village, flagged), headers=headers
                    )
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
                return
            done = time.time()
            if response.status_code != 201:
                failures.append(f"{response.status_code} {response.text[:200]}")
                return
            sent.append((response.json()["lead_id"], done, flagged))

        await on_schedule(one, rate, seconds)
    if failures:
        print(f"# sender {sender}: {len(failures)} failed, first: {failures[0]}", flush=True)
    return sent, len(failures)


def sender_process(
    target: tuple[str, str], sender: int, rate: float, seconds: float, out: object
) -> None:
    where, secret = target
    sent: list[Sent] = []
    failed = 0
    try:
        if VIA == "stream":
            sent = asyncio.run(append(where, secret, sender, rate, seconds))
        else:
            sent, failed = asyncio.run(send(where, secret, sender, rate, seconds))
    finally:
        out.put((sent, failed))  # type: ignore[attr-defined]


class Watcher(threading.Thread):
    """Notes when each lead id first appears in a table of a SQLite read model."""

    def __init__(self, database: Path, pattern: str) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.pattern = re.compile(pattern)
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()

    def _table(self, conn: sqlite3.Connection) -> str | None:
        names = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        matching = sorted(n for n in names if self.pattern.fullmatch(n))
        return matching[-1] if matching else None

    def run(self) -> None:
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5.0)
        table = None
        last = 0
        while not self.stop.is_set():
            if table is None:
                table = self._table(conn)
            if table is not None:
                try:
                    rows = conn.execute(
                        f"SELECT rowid, lead_id FROM {table} WHERE rowid > ?",  # noqa: S608 - our table
                        (last,),
                    ).fetchall()
                except sqlite3.OperationalError:
                    rows = []  # locked for a moment by the writer
                now = time.time()
                for rowid, lead_id in rows:
                    self.seen.setdefault(lead_id, now)
                    last = max(last, rowid)
            self.stop.wait(POLL_MS / 1000)
        conn.close()


def settle(sent: list[Sent], ledger: Watcher, flagged: list[Sent], cases: Watcher) -> None:
    """Until every lead was seen where it should be, or SETTLE seconds."""
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        if all(lead[0] in ledger.seen for lead in sent) and all(
            lead[0] in cases.seen for lead in flagged
        ):
            return
        time.sleep(0.2)


async def stored_at(nats_url: str, password: str) -> dict[str, dict[str, float]]:
    """When each hop's event was stored (the broker's clock, the machine's): for every
    subject of HOPS, lead id → wall-clock seconds."""
    nc = await nats.connect(nats_url, user="admin", password=password)
    try:
        js = nc.jetstream()
        found: dict[str, dict[str, float]] = {}
        for name, (stream, wanted) in HOPS.items():
            stamps = found.setdefault(name, {})
            async for msg in read_messages(js, stream.value, wanted):
                lead_id = (msg.subject or "").split(".")[2]
                if msg.time is not None:
                    stamps.setdefault(lead_id, msg.time.timestamp())
        return found
    finally:
        await nc.close()


def hop_line(label: str, pairs: list[tuple[float, float]]) -> str:
    if len(pairs) < 2:
        return f"{label}: –"
    p50, p99, top = percentiles([(b - a) * 1000 for a, b in pairs])
    return f"{label} p50 {p50:.0f} / p99 {p99:.0f} / max {top:.0f} ms"


def hops(
    sent: list[Sent], stored: dict[str, dict[str, float]], ledger: Watcher, cases: Watcher
) -> list[str]:
    """Where the time goes, hop by hop, from the stores' own timestamps."""
    reported, registered, opened = (stored[k] for k in ("reported", "registered", "opened"))

    def pairs(
        first: dict[str, float], then: dict[str, float], only: bool
    ) -> list[tuple[float, float]]:
        return [
            (first[i], then[i])
            for i, _, flagged in sent
            if (flagged or not only) and i in first and i in then
        ]

    answered = {i: t for i, t, _ in sent}
    return [
        hop_line("report stored → 201", pairs(reported, answered, False)),
        hop_line(
            "report stored → registration stored (registrar)", pairs(reported, registered, False)
        ),
        hop_line(
            "registration stored → ledger row (projection)", pairs(registered, ledger.seen, False)
        ),
        hop_line("report stored → case stored (case reactor)", pairs(reported, opened, True)),
        hop_line("case stored → case row (projection)", pairs(opened, cases.seen, True)),
    ]


def percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return ordered[len(ordered) // 2], cut[98], ordered[-1]


async def main() -> int:
    async with running_stack() as stack:
        for service in ("ledger", "oversight"):
            if not stack.database_url(service).startswith("sqlite"):
                print(f"end to end: watches SQLite read models only ({database_kind()} given)")
                return 1
        ledger = Watcher(
            Path(make_url(stack.database_url("ledger")).database or ""), r"ledger_leads(_v\d+)?"
        )
        cases = Watcher(
            Path(make_url(stack.database_url("oversight")).database or ""),
            r"oversight_cases(_v\d+)?",
        )
        ledger.start()
        cases.start()
        atomic = await allow_atomic_batches(stack)
        target = (
            (stack.nats_url, stack.secrets["NATS_INTAKE_PASSWORD"])
            if VIA == "stream"
            else (stack.url("intake"), stack.tokens["clerk"])
        )
        pids = {name: stack.pid(name) for name in SERVICES}
        if IDLE > 0:
            before = cpu_of(pids)
            await asyncio.sleep(IDLE)
            idle = {k: (v - before[k]) / IDLE * 100 for k, v in cpu_of(pids).items()}
            print(
                f"# idle for {IDLE:.0f} s, CPU: "
                + ", ".join(f"{k} {v:.1f} %" for k, v in idle.items()),
                flush=True,
            )
        before = cpu_of(pids)
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        senders = [
            context.Process(
                target=sender_process,
                args=(target, n, RATE / SENDERS, WARMUP + SECONDS, out),
            )
            for n in range(SENDERS)
        ]
        started = time.perf_counter()
        for process in senders:
            process.start()
        sent: list[Sent] = []
        failed = 0
        for _ in senders:
            theirs, their_failures = await asyncio.to_thread(out.get)
            sent.extend(theirs)
            failed += their_failures
        for process in senders:
            process.join()
        took = time.perf_counter() - started
        await asyncio.to_thread(settle, sent, ledger, [lead for lead in sent if lead[2]], cases)
        spent = {k: (v - before[k]) * 1000 / max(len(sent), 1) for k, v in cpu_of(pids).items()}
        if sent:
            counted_from = min(t for _, t, _ in sent) + WARMUP
            sent = [lead for lead in sent if lead[1] >= counted_from]
        flagged = [lead for lead in sent if lead[2]]
        ledger.stop.set()
        cases.stop.set()
        stored = await stored_at(stack.nats_url, stack.admin_password)
    to_ledger = [(ledger.seen[i] - t) * 1000 for i, t, _ in sent if i in ledger.seen]
    to_case = [(cases.seen[i] - t) * 1000 for i, t, _ in flagged if i in cases.seen]
    if not to_ledger or not to_case:
        print("end to end: nothing became visible")
        return 1
    mode = f"via {VIA}, {'atomic batches' if atomic else 'one by one'}"
    ledger_p = percentiles(to_ledger)
    case_p = percentiles(to_case)
    print(
        f"end to end ({database_kind()}, {mode}) at {RATE:.0f} leads/s asked"
        f" ({len(sent)} {'201s' if VIA == 'http' else 'acks'} counted, {failed} failed,"
        f" after {WARMUP:.0f} s of"
        f" warm-up; {took:.1f} s in all by {SENDERS} sender processes):"
        f" 201 → ledger read model p50 {ledger_p[0]:.0f} ms, p99 {ledger_p[1]:.0f} ms,"
        f" max {ledger_p[2]:.0f} ms (target p99 ≤ {LEDGER_TARGET_MS:.0f} ms;"
        f" {len(sent) - len(to_ledger)} not seen);"
        f" flagged → oversight case p50 {case_p[0]:.0f} ms, p99 {case_p[1]:.0f} ms,"
        f" max {case_p[2]:.0f} ms (target p99 ≤ {OVERSIGHT_TARGET_MS:.0f} ms;"
        f" {len(flagged) - len(to_case)} not seen); read models polled every {POLL_MS:.0f} ms"
    )
    for line in hops(sent, stored, ledger, cases):
        print(f"#   {line}")
    print("#   CPU per lead: " + ", ".join(f"{k} {v:.2f} ms" for k, v in spent.items()))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
