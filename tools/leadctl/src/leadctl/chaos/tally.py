"""Counting after the storm, as the admin reads the log: which accepted reports reached
INTAKE and the ledger, which did so twice, whether the ledger numbers run without a gap,
what was parked, and whether each service's live projection equals a fresh replay
(``leadctl verify --projection``, run as an operator runs it)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from common.database import sync_engine
from common.events import EventDecodeError, decode
from common.events.catalogue import LeadRegistered, LeadReported
from common.eventstore import read_messages
from common.subjects import Service, Stream
from leadctl import operations
from leadctl.chaos.load import LoadResult, PlannedReport, marker
from leadctl.chaos.suite import SERVICES, Suite
from leadctl.cli import subscriptions_of
from leadctl.fingerprint import positions

_NUMBER: Final = re.compile(r"^(?P<series>[A-Z]{2,6}-\d{4})-(?P<n>\d{6,})$")


# --- waiting for the suite to catch up ----------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    """What is not yet done: consumers with messages waiting or unacknowledged, and
    projections whose stored position is behind their stream."""

    consumers: dict[str, tuple[int, int]]  # durable -> (pending, unacknowledged)
    projections: dict[str, tuple[int, int]]  # "service/STREAM" -> (applied, last sequence)
    last_sequences: dict[str, int]

    @property
    def empty(self) -> bool:
        return not self.consumers and not self.projections

    def describe(self) -> str:
        parts = [f"{d} pending {p}, unacked {u}" for d, (p, u) in self.consumers.items()]
        parts += [f"{name} at {a} of {last}" for name, (a, last) in self.projections.items()]
        return "; ".join(parts) or "nothing"


def applied_positions(suite: Suite) -> dict[str, dict[str, int]]:
    """Each service's projection position per stream, read from its live database."""
    found = {}
    for service in SERVICES:
        engine = sync_engine(suite.database_url(service))
        try:
            found[service] = positions(engine, subscriptions_of(service)[0].projection.key)
        finally:
            engine.dispose()
    return found


async def backlog(js: JetStreamContext, suite: Suite) -> Backlog:
    consumers, last = {}, {}
    for stream in Stream:
        try:
            info = await js.stream_info(stream.value)
        except NotFoundError:
            continue
        last[stream.value] = info.state.last_seq
        for consumer in await js.consumers_info(stream.value):
            pending, unacked = consumer.num_pending or 0, consumer.num_ack_pending or 0
            if pending or unacked:
                consumers[consumer.name] = (pending, unacked)
    applied = await asyncio.to_thread(applied_positions, suite)
    behind = {}
    for service in SERVICES:
        for subscription in subscriptions_of(service):
            name = subscription.stream.value
            at = applied[service].get(name, 0)
            if at < last.get(name, 0):
                behind[f"{service}/{name}"] = (at, last[name])
    return Backlog(consumers, behind, last)


async def settle(js: JetStreamContext, suite: Suite, timeout: float) -> tuple[float, Backlog]:
    """Until nothing is waiting anywhere, twice in a row with no new message in between
    (a reactor's answer may start new work); returns the seconds taken and what was still
    waiting when it gave up (empty when it settled)."""
    started = time.monotonic()
    previous: Backlog | None = None
    while True:
        now = await backlog(js, suite)
        if (
            now.empty
            and previous is not None
            and previous.empty
            and now.last_sequences == previous.last_sequences
        ):
            return time.monotonic() - started, now
        if time.monotonic() - started > timeout:
            return time.monotonic() - started, now
        previous = now
        # The poll interval: what is awaited is the backlog above.
        await asyncio.sleep(1.0)


# --- the log -------------------------------------------------------------------------------


@dataclass
class LogCount:
    reported: Counter[str] = field(default_factory=Counter)  # lead id -> LeadReported
    registered: Counter[str] = field(default_factory=Counter)  # lead id -> LeadRegistered
    leads_of_report: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    numbers: list[str] = field(default_factory=list)
    unreadable: int = 0


async def read_log(js: JetStreamContext, seed: int, count: int) -> LogCount:
    found = LogCount()
    markers = {marker(seed, number): number for number in range(count)}
    async for msg in read_messages(js, Stream.INTAKE.value, "intake.lead.*.LeadReported"):
        try:
            event = decode(msg.data or b"", "LeadReported")
        except EventDecodeError:
            found.unreadable += 1
            continue
        if isinstance(event, LeadReported):
            found.reported[event.lead_id] += 1
            if event.details in markers:
                found.leads_of_report[markers[event.details]].add(event.lead_id)
    async for msg in read_messages(js, Stream.LEDGER.value, "ledger.lead.*.LeadRegistered"):
        try:
            event = decode(msg.data or b"", "LeadRegistered")
        except EventDecodeError:
            found.unreadable += 1
            continue
        if isinstance(event, LeadRegistered):
            found.registered[event.lead_id] += 1
            found.numbers.append(event.ledger_number)
    return found


def number_problems(numbers: Sequence[str]) -> list[str]:
    """Repeated numbers, malformed ones, and holes in each series (town and year), which
    must run 1, 2, 3, ... without a gap."""
    problems = [f"{n} given {c} times" for n, c in Counter(numbers).items() if c > 1]
    series: dict[str, set[int]] = defaultdict(set)
    for number in numbers:
        match = _NUMBER.match(number)
        if match is None:
            problems.append(f"{number!r} is not a ledger number")
            continue
        series[match["series"]].add(int(match["n"]))
    for name, taken in sorted(series.items()):
        holes = sorted(set(range(1, max(taken) + 1)) - taken)
        if holes:
            shown = ", ".join(str(n) for n in holes[:10])
            problems.append(f"{name}: {len(holes)} numbers never given ({shown}…)")
    return problems


async def parked_counts(js: JetStreamContext) -> dict[str, int]:
    return {
        service.value: sum(1 for p in await operations.parked(js, service) if not p.resolved)
        for service in (Service.INTAKE, Service.LEDGER, Service.OVERSIGHT)
    }


# --- projections against a fresh replay ------------------------------------------------------


@dataclass(frozen=True)
class ProjectionCheck:
    service: str
    equal: bool
    detail: str


def verify_projection(suite: Suite, service: str) -> ProjectionCheck:
    """``leadctl verify --projection`` against the live database, as an operator runs it:
    a fresh replay up to the live positions, compared table by table."""
    command = [
        sys.executable,
        "-m",
        "leadctl.cli",
        "--nats-url",
        suite.nats_url,
        "--user",
        "admin",
        "verify",
        "--projection",
        service,
        "--live-db",
        suite.database_url(service),
        "--json",
    ]
    # The password in the environment, not on a command line other users can read.
    env = {**os.environ, "LEADS_NATS_PASSWORD": suite.admin_password}
    done = subprocess.run(  # noqa: S603 - our own interpreter and CLI
        command, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    try:
        results = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return ProjectionCheck(service, False, f"verify failed: {done.stderr.strip()[-500:]}")
    differing = sorted(t for r in results for t in r["tables_differing"])
    at = ", ".join(f"{s}#{n}" for r in results for s, n in sorted(r["positions"].items()))
    if done.returncode == 0 and all(r["equal"] for r in results):
        return ProjectionCheck(service, True, f"equal to a fresh replay (at {at})")
    return ProjectionCheck(
        service, False, f"differs from a fresh replay in {', '.join(differing)} (at {at})"
    )


# --- the figures ---------------------------------------------------------------------------


@dataclass
class Figures:
    accepted: int
    registered: int
    not_in_intake: list[str]
    never_registered: list[str]
    reported_twice: list[str]
    registered_twice: list[str]
    reports_with_two_leads: list[int]
    keys_answered_twice: list[str]
    registered_unreported: list[str]
    numbers: int
    number_problems: list[str]
    stored_unanswered: int
    parked: dict[str, int]
    projections: list[ProjectionCheck]
    unfinished: list[str]
    refused: dict[str, str]

    @property
    def missing(self) -> int:
        return len(set(self.not_in_intake) | set(self.never_registered))

    @property
    def duplicated(self) -> int:
        return (
            len(self.reported_twice)
            + len(self.registered_twice)
            + len(self.reports_with_two_leads)
            + len(self.keys_answered_twice)
        )

    @property
    def projections_equal(self) -> bool:
        return bool(self.projections) and all(p.equal for p in self.projections)

    def failures(self) -> list[str]:
        found = []
        if self.missing:
            found.append(f"{self.missing} accepted leads missing")
        if self.duplicated:
            found.append(f"{self.duplicated} duplicates")
        if self.registered_unreported:
            found.append(f"{len(self.registered_unreported)} leads registered but never reported")
        if self.number_problems:
            found.append("ledger numbers not gap-free and unique")
        if not self.projections_equal:
            found.append("a projection differs from its replay")
        if self.unfinished:
            found.append(f"{len(self.unfinished)} reports never accepted before the deadline")
        if self.refused:
            found.append(f"{len(self.refused)} reports refused as malformed")
        return found

    def lines(self) -> list[str]:
        def sample(items: Sequence[object]) -> str:
            return f"  e.g. {', '.join(str(i) for i in items[:3])}" if items else ""

        out = [
            _line("accepted", self.accepted),
            _line("registered", self.registered),
            _line(
                "missing",
                f"{self.missing}   (not in INTAKE {len(self.not_in_intake)},"
                f" never registered {len(self.never_registered)})"
                + sample(self.not_in_intake + self.never_registered),
            ),
            _line(
                "duplicated",
                f"{self.duplicated}   (reported twice {len(self.reported_twice)},"
                f" registered twice {len(self.registered_twice)},"
                f" reports with two leads {len(self.reports_with_two_leads)},"
                f" keys answered with two leads {len(self.keys_answered_twice)})"
                + sample(self.reported_twice + self.registered_twice),
            ),
            _line(
                "registered unreported",
                f"{len(self.registered_unreported)}" + sample(self.registered_unreported),
            ),
            _line(
                "ledger numbers",
                f"{self.numbers}, "
                + (
                    "gap-free and unique"
                    if not self.number_problems
                    else "; ".join(self.number_problems)
                ),
            ),
            _line(
                "stored, unanswered",
                f"{self.stored_unanswered}   (stored, but the client gave up first)",
            ),
            _line("parked", ", ".join(f"{s} {n}" for s, n in self.parked.items())),
        ]
        out += [_line(f"projection {p.service}", p.detail) for p in self.projections]
        if self.unfinished:
            out.append(_line("never accepted", f"{len(self.unfinished)}" + sample(self.unfinished)))
        if self.refused:
            out.append(
                _line("refused", f"{len(self.refused)}" + sample(list(self.refused.values())))
            )
        return out


def _line(label: str, value: object) -> str:
    return f"{label:<22}{value}"


def figures(
    reports: Sequence[PlannedReport],
    load: LoadResult,
    log: LogCount,
    parked: dict[str, int],
    projections: list[ProjectionCheck],
) -> Figures:
    accepted = set(load.accepted.values())
    answered = {r.number for r in reports if r.key in load.accepted}
    return Figures(
        accepted=len(load.accepted),
        registered=sum(1 for lead in accepted if log.registered[lead]),
        not_in_intake=sorted(lead for lead in accepted if not log.reported[lead]),
        never_registered=sorted(lead for lead in accepted if not log.registered[lead]),
        reported_twice=sorted(lead for lead, n in log.reported.items() if n > 1),
        registered_twice=sorted(lead for lead, n in log.registered.items() if n > 1),
        reports_with_two_leads=sorted(
            n for n, leads in log.leads_of_report.items() if len(leads) > 1
        ),
        keys_answered_twice=sorted(load.conflicting),
        registered_unreported=sorted(lead for lead in log.registered if not log.reported[lead]),
        numbers=len(log.numbers),
        number_problems=number_problems(log.numbers),
        stored_unanswered=sum(1 for n in log.leads_of_report if n not in answered),
        parked=parked,
        projections=projections,
        unfinished=load.unfinished(list(reports)),
        refused=load.refused,
    )
