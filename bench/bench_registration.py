"""Registration: how many reported leads the ledger numbers per second, sustained.

N LeadReported events are appended to INTAKE as intake appends them (intake's own NATS
user, ``Nats-Msg-Id``, acknowledged), faster than the target, while the whole stack runs as
processes (``bench.stack``). Two figures, each the rate at which LeadRegistered events land
on LEDGER between the first and the last one: live (the registrar numbers while the reports
come in, so it cannot beat their rate), and catching up on a backlog (N more reports
appended while the ledger is down, then the ledger started: the registrar's own capacity).
Then every registration is read back and the numbers must be exactly 1..2N (no gap, no
repeat), each lead registered once.

    python -m bench.bench_registration          # 5,000 leads
    BENCH_REGISTRATION_LEADS=20000 python -m bench.bench_registration

The registrar appends each batch of registrations as one atomic batch where the LEDGER
stream allows it (``allow_atomic``), and one by one otherwise; the line says which.
``BENCH_LEDGER_ATOMIC=1`` has the administrator allow it on the bench's stack first,
``BENCH_LEDGER_ATOMIC=0`` forbids it (to compare the two in one minute).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from typing import Final

import nats
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from bench.stack import Stack, database_kind, running_stack
from common.events import Actor, Role, decode, event_type_of
from common.events.catalogue import LeadRegistered, LeadReported, ReporterRef
from common.eventstore import EventStore, read_messages
from common.subjects import Service, Stream, inbox_prefix
from common.vocabulary import Category, Channel, Flag

TARGET: Final = 500.0
ATOMIC: Final = os.environ.get("BENCH_LEDGER_ATOMIC")
LEADS: Final = int(os.environ.get("BENCH_REGISTRATION_LEADS", "5000"))
# Appends in flight at once: intake under load has about this many requests at once.
IN_FLIGHT: Final = 64
# One report in ten is flagged for the committee: the registrar then also transfers it.
FLAGGED_SHARE: Final = 0.1
DEADLINE: Final = 300.0

CLERK: Final = Actor(role=Role.CLERK, unit="shd-office", user="clerk")
VILLAGES: Final = tuple(f"shd-v{n:02d}" for n in range(1, 18))


def report(n: int, rng: random.Random) -> LeadReported:
    flagged = rng.random() < FLAGGED_SHARE
    return LeadReported(
        lead_id=f"bench{n:07d}{rng.getrandbits(32):08x}",
        channel=Channel.HOTLINE,
        category=rng.choice((Category.VILLAGE_TYRANT, Category.CULT_VICE, Category.OTHER)),
        summary=f"第{n}号线索：村口赌场夜间营业",
        village=rng.choice(VILLAGES),
        flags=(Flag.INVOLVES_OFFICIAL,) if flagged else (),
        reporter=ReporterRef(kind="anonymous"),
        actor=CLERK,
    )


async def publish_all(js: JetStreamContext, reports: list[LeadReported]) -> float:
    """Appends every report (IN_FLIGHT at a time); the seconds it took."""
    store = EventStore(js, Stream.INTAKE, "intake")
    queue = iter(reports)
    started = time.perf_counter()

    async def worker() -> None:
        for event in queue:
            await store.append(event)

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return time.perf_counter() - started


async def chained_append_limit(js: JetStreamContext, count: int = 500) -> float:
    """Acknowledged appends per second, one after the other, each expecting the sequence of
    the one before on a subject filter (what numbering one lead after another must do), to a
    scratch stream of the same server: the limit of a registrar that appends one by one."""
    await js.add_stream(
        StreamConfig(name="BENCH_CHAIN", subjects=["benchchain.>"], storage=StorageType.FILE)
    )
    try:
        last = 0
        started = time.perf_counter()
        for n in range(count):
            ack = await js.publish(
                f"benchchain.lead.{n}.LeadRegistered",
                b"{}",
                stream="BENCH_CHAIN",
                headers={
                    "Nats-Msg-Id": f"chain-{n}",
                    "Nats-Expected-Last-Subject-Sequence": str(last),
                    "Nats-Expected-Last-Subject-Sequence-Subject": "benchchain.lead.*.LeadRegistered",
                },
            )
            last = ack.seq
        return count / (time.perf_counter() - started)
    finally:
        await js.delete_stream("BENCH_CHAIN")


async def registrations(js: JetStreamContext) -> list[tuple[int, int, LeadRegistered]]:
    """Every LeadRegistered on LEDGER: (stream sequence, stored at ns, event)."""
    found: list[tuple[int, int, LeadRegistered]] = []
    async for msg in read_messages(js, Stream.LEDGER.value, "ledger.lead.*.LeadRegistered"):
        event = decode(msg.data or b"", event_type_of(msg.subject or ""))
        if not isinstance(event, LeadRegistered):
            raise TypeError(f"{msg.subject} holds a {event.event_type}")
        stamp = int(msg.time.timestamp() * 1e9) if msg.time else 0
        found.append((msg.seq or 0, stamp, event))
    return found


async def registered_count(js: JetStreamContext) -> int:
    info = await js.stream_info(Stream.LEDGER.value, subjects_filter="ledger.lead.*.LeadRegistered")
    return sum((info.state.subjects or {}).values())


def check_numbers(found: list[tuple[int, int, LeadRegistered]], leads: set[str]) -> str | None:
    numbers = [int(event.ledger_number.rsplit("-", 1)[1]) for _, _, event in found]
    if sorted(numbers) != list(range(1, len(leads) + 1)):
        missing = sorted(set(range(1, len(leads) + 1)) - set(numbers))[:5]
        repeated = len(numbers) - len(set(numbers))
        return f"numbers are not 1..{len(leads)}: missing {missing}…, {repeated} repeated"
    if numbers != sorted(numbers):
        return "numbers do not rise with the stream's order"
    if {event.lead_id for _, _, event in found} != leads:
        return "the registered leads are not the reported ones"
    return None


async def allow_atomic_batches(stack: Stack) -> bool:
    """Whether LEDGER allows atomic batches, after BENCH_LEDGER_ATOMIC had its say (as the
    administrator, on the bench's own stack)."""
    nc = await nats.connect(stack.nats_url, user="admin", password=stack.admin_password)
    try:
        js = nc.jetstream()
        config = (await js.stream_info(Stream.LEDGER.value)).config
        if ATOMIC is not None and bool(config.allow_atomic) != (ATOMIC == "1"):
            config.allow_atomic = ATOMIC == "1"
            await js.update_stream(config)
        return bool(config.allow_atomic)
    finally:
        await nc.close()


async def wait_registered(js: JetStreamContext, count: int) -> bool:
    deadline = time.monotonic() + DEADLINE
    while await registered_count(js) < count:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def live_then_backlog(
    stack: Stack,
    intake: JetStreamContext,
    js: JetStreamContext,
    live: list[LeadReported],
    backlog: list[LeadReported],
) -> float | None:
    """Appends ``live`` while the registrar numbers them, then ``backlog`` while the ledger
    is down, and starts it to catch up; the seconds ``live`` took to append, or None (said)
    when either is not numbered within DEADLINE."""
    published = await publish_all(intake, live)
    if not await wait_registered(js, len(live)):
        print(f"registration: {len(live)} leads not numbered in {DEADLINE:.0f} s")
        return None
    stack.suite.kill_service("ledger")
    await publish_all(intake, backlog)
    stack.suite.start_service("ledger")
    if not await wait_registered(js, len(live) + len(backlog)):
        print(f"registration: a backlog of {len(backlog)} not numbered in {DEADLINE:.0f} s")
        return None
    return published


def rate_of(found: list[tuple[int, int, LeadRegistered]]) -> float:
    """Registrations per second between the first and the last one stored."""
    stamps = sorted(stamp for _, stamp, _ in found)
    seconds = (stamps[-1] - stamps[0]) / 1e9
    return (len(found) - 1) / seconds if seconds > 0 else float("inf")


async def main() -> int:
    rng = random.Random(15)
    live = [report(n, rng) for n in range(LEADS)]
    backlog = [report(n, rng) for n in range(LEADS, 2 * LEADS)]
    async with running_stack() as stack:
        nc = await nats.connect(
            stack.nats_url,
            user="intake",
            password=stack.secrets["NATS_INTAKE_PASSWORD"],
            inbox_prefix=inbox_prefix(Service.INTAKE).encode(),
        )
        reader = await nats.connect(stack.nats_url, user="admin", password=stack.admin_password)
        try:
            js = reader.jetstream()
            atomic = await allow_atomic_batches(stack)
            published = await live_then_backlog(stack, nc.jetstream(), js, live, backlog)
            if published is None:
                return 1
            found = await registrations(js)
            limit = await chained_append_limit(js)
        finally:
            await nc.close()
            await reader.close()
    fault = check_numbers(found, {r.lead_id for r in live + backlog})
    mode = "atomic batches" if atomic else "one by one"
    print(
        f"registration ({database_kind()}, {mode}): {rate_of(found[:LEADS]):.0f} leads/s"
        f" numbered while {LEADS} reports came in at {LEADS / published:.0f}/s,"
        f" {rate_of(found[LEADS:]):.0f} leads/s catching up on a backlog of {LEADS}"
        f" (target ≥ {TARGET:.0f}/s; limit: {limit:.0f} acknowledged appends/s one after"
        f" the other to the same server); numbers 1..{2 * LEADS} gap-free:"
        f" {'yes' if fault is None else 'NO: ' + fault}"
    )
    return 0 if fault is None else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
