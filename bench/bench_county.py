"""A county of 20 towns on one machine: the figures deploy/runbook/province.md builds on.

The whole stack runs as processes (``bench.stack``) with a generated organisation of 20
towns (the first is the demo's 沙河店镇, so the demo people are its people; the others
T02..T20, each with its office, police station, judicial office, committee and ten
villages). ``BENCH_COUNTY_LEADS`` reports (4,000 unless told), spread evenly over the
towns' villages, are appended to INTAKE 64 at a time, as intake appends them. Then:

- registration: the rate at which the registrar numbers them as they come in, and, for
  its own capacity, catching up on as many again appended while the ledger was down (a
  ledger started afresh, whose registrar first reads every town's last number back from
  the stream); every registration still expects the county's last one, so a county's
  towns share one sequence of appends; and whether every town's numbers are exactly 1..k
  (no gap, no repeat);
- reads: a town clerk's and the county auditor's list page and statistics, sequential
  requests, median and p99 (a town's statistics are counted over its leads, the county's
  read from the counts the projection keeps);
- the log: LEDGER's and INTAKE's bytes and distinct subjects per lead, from the streams'
  own state (what a province's streams would hold per township and year).

    python -m bench.bench_county
    BENCH_COUNTY_LEADS=20000 BENCH_COUNTY_TOWNS=20 python -m bench.bench_county
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Final

import httpx
import nats
from nats.js import JetStreamContext

from bench.bench_registration import live_then_backlog, rate_of, registrations
from bench.stack import database_kind, running_stack
from common.events import Actor, Role
from common.events.catalogue import LeadRegistered, LeadReported, ReporterRef
from common.subjects import Service, Stream, inbox_prefix
from common.vocabulary import Category, Channel, Flag

LEADS: Final = int(os.environ.get("BENCH_COUNTY_LEADS", "4000"))
TOWNS: Final = int(os.environ.get("BENCH_COUNTY_TOWNS", "20"))
VILLAGES: Final = 10
READS: Final = int(os.environ.get("BENCH_COUNTY_READS", "200"))
FLAGGED_SHARE: Final = 0.1


def town_code(n: int) -> str:
    return "shd" if n == 1 else f"t{n:02d}"


def prefix(n: int) -> str:
    return "SHD" if n == 1 else "T" + chr(ord("A") + (n - 2) // 26) + chr(ord("A") + (n - 2) % 26)


def organisation(towns: int) -> str:
    """The county's organisation file: the county office, then each town and its units."""
    text = (
        '[county]\ncode = "bench"\nname = "某县"\nname_en = "Bench County"\n\n'
        '[[units]]\ncode = "county"\nkind = "county"\nname = "县扫黑办"\n'
        'name_en = "County office"\n'
    )
    for n in range(1, towns + 1):
        code = town_code(n)
        text += (
            f'\n[[towns]]\ncode = "{code}"\nname = "第{n}镇"\nname_en = "Town {n}"\n'
            f'ledger_prefix = "{prefix(n)}"\n'
        )
        units = [(f"{code}-{kind}", kind) for kind in ("office", "police", "judicial")]
        units += [(f"{code}-discipline", "discipline")]
        units += [(f"{code}-v{v:02d}", "village") for v in range(1, VILLAGES + 1)]
        for unit, kind in units:
            text += (
                f'\n[[towns.units]]\ncode = "{unit}"\nkind = "{kind}"\nname = "单位{unit}"\n'
                f'name_en = "Unit {unit}"\n'
            )
    return text


def report(n: int, rng: random.Random) -> LeadReported:
    town = n % TOWNS + 1
    return LeadReported(
        lead_id=f"county{n:07d}{rng.getrandbits(32):08x}",
        channel=Channel.HOTLINE,
        category=rng.choice((Category.VILLAGE_TYRANT, Category.CULT_VICE, Category.OTHER)),
        summary=f"第{n}号线索：村口赌场夜间营业",
        village=f"{town_code(town)}-v{rng.randint(1, VILLAGES):02d}",
        flags=(Flag.INVOLVES_OFFICIAL,) if rng.random() < FLAGGED_SHARE else (),
        reporter=ReporterRef(kind="anonymous"),
        actor=Actor(role=Role.CLERK, unit=f"{town_code(town)}-office", user="clerk"),
    )


def gap_free_per_town(found: list[tuple[int, int, LeadRegistered]]) -> str | None:
    by_prefix: dict[str, list[int]] = defaultdict(list)
    for _, _, event in found:
        head, _, n = event.ledger_number.rpartition("-")
        by_prefix[head.split("-")[0]].append(int(n))
    if len(by_prefix) != TOWNS:
        return f"{len(by_prefix)} towns numbered, not {TOWNS}"
    for town, numbers in by_prefix.items():
        if numbers != list(range(1, len(numbers) + 1)):
            return f"{town}'s numbers are not 1..{len(numbers)} in the stream's order"
    return None


async def timed(http: httpx.AsyncClient, path: str, token: str) -> tuple[float, float]:
    """Median and p99 milliseconds of READS sequential GETs of ``path``."""
    headers = {"Authorization": f"Bearer {token}"}
    spent: list[float] = []
    for _ in range(READS):
        started = time.perf_counter()
        answer = await http.get(path, headers=headers)
        spent.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    spent.sort()
    return statistics.median(spent), spent[int(len(spent) * 0.99) - 1]


async def per_lead(js: JetStreamContext, stream: Stream, leads: int) -> str:
    info = await js.stream_info(stream.value, subjects_filter=">")
    state = info.state
    subjects = len(state.subjects or {})
    return (
        f"{stream.value} {state.bytes / leads / 1024:.1f} KiB and {subjects / leads:.1f}"
        f" subjects a lead ({state.messages / leads:.1f} messages)"
    )


async def main() -> int:
    rng = random.Random(20)
    reports = [report(n, rng) for n in range(LEADS)]
    backlog = [report(n, rng) for n in range(LEADS, 2 * LEADS)]
    with tempfile.TemporaryDirectory(prefix="bench-county-") as directory:
        org_file = Path(directory) / "county.toml"
        org_file.write_text(organisation(TOWNS), "utf-8")
        settings = {
            f"{s.upper()}_ORG_FILE": str(org_file) for s in ("intake", "ledger", "oversight")
        }
        async with running_stack(settings) as stack:
            intake = await nats.connect(
                stack.nats_url,
                user="intake",
                password=stack.secrets["NATS_INTAKE_PASSWORD"],
                inbox_prefix=inbox_prefix(Service.INTAKE).encode(),
            )
            admin = await nats.connect(stack.nats_url, user="admin", password=stack.admin_password)
            try:
                js = admin.jetstream()
                published = await live_then_backlog(stack, intake.jetstream(), js, reports, backlog)
                if published is None:
                    return 1
                found = await registrations(js)
                fault = gap_free_per_town(found)
                tokens = stack.tokens
                async with httpx.AsyncClient(base_url=stack.url("ledger"), timeout=30) as http:
                    # The read model caught up: the county sees every lead.
                    deadline = time.monotonic() + 120
                    while True:
                        page = await http.get(
                            "/v1/ledger/leads",
                            params={"page_size": 1},
                            headers={"Authorization": f"Bearer {tokens['auditor']}"},
                        )
                        if page.json()["total"] >= 2 * LEADS or time.monotonic() > deadline:
                            break
                        await asyncio.sleep(0.5)
                    reads = {
                        (who, what): await timed(http, path, tokens[who])
                        for who in ("clerk", "auditor")
                        for what, path in (
                            ("list", "/v1/ledger/leads?page_size=20"),
                            ("stats", "/v1/ledger/stats"),
                        )
                    }
                log = [await per_lead(js, s, 2 * LEADS) for s in (Stream.LEDGER, Stream.INTAKE)]
            finally:
                await intake.close()
                await admin.close()
    per_town = 2 * LEADS // TOWNS
    print(
        f"county of {TOWNS} towns ({database_kind()}): {rate_of(found[:LEADS]):.0f} leads/s"
        f" numbered while {LEADS} reports came in at {LEADS / published:.0f}/s,"
        f" {rate_of(found[LEADS:]):.0f} leads/s catching up on a backlog of {LEADS} (a ledger"
        f" started afresh); every town's numbers 1..k gap-free:"
        f" {'yes' if fault is None else 'NO: ' + fault}"
    )
    for (who, what), (median, p99) in reads.items():
        scope = f"a town's {per_town} leads" if who == "clerk" else f"the county's {2 * LEADS}"
        print(f"county reads: {what} as {who} ({scope}): median {median:.1f} ms, p99 {p99:.1f} ms")
    print("county log: " + "; ".join(log))
    return 0 if fault is None else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
