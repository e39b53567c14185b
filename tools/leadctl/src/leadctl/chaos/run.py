"""One chaos run from start to verdict: start the suite, send the load while the faults are
dealt, wait for every consumer and projection to catch up, count, judge."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats

from leadctl.chaos.faults import Dealt, Fault, FaultPlan, deal
from leadctl.chaos.load import LoadResult, plan_reports, send_reports
from leadctl.chaos.suite import SERVICES, Exit, NotReady, Suite
from leadctl.chaos.tally import (
    Backlog,
    Figures,
    figures,
    parked_counts,
    read_log,
    settle,
    verify_projection,
)

Say = Callable[[str], None]


@dataclass(frozen=True)
class ChaosOptions:
    leads: int = 3000
    rate: float = 50.0
    seed: int | None = None
    faults: FaultPlan = field(default_factory=FaultPlan)
    nats_config: Path = Path("deploy/nats/embedded.conf")
    #: where the suite keeps its data; a fresh temporary directory when None
    root: Path | None = None
    keep: bool = False
    ready_timeout: float = 90.0
    settle_timeout: float = 180.0
    #: how long reports are retried, from the start of the load; by default three times
    #: the load's own length and two minutes more
    load_deadline: float | None = None


@dataclass
class ChaosReport:
    seed: int
    root: Path
    seconds: float = 0.0
    began: float = 0.0  # time.monotonic() when the load began
    failures: list[str] = field(default_factory=list)
    dealt: list[Dealt] = field(default_factory=list)
    exits: list[Exit] = field(default_factory=list)
    load: LoadResult | None = None
    settled: Backlog | None = None
    figures: Figures | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and self.figures is not None


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run(options: ChaosOptions, say: Say = _say) -> ChaosReport:
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    root = options.root or Path(tempfile.mkdtemp(prefix="leads-chaos-"))
    report = ChaosReport(seed, root)
    started = time.monotonic()
    suite = Suite(root, options.nats_config.resolve())
    try:
        asyncio.run(_run(options, suite, report, say))
    except NotReady as exc:
        report.failures.append(f"the suite did not start: {exc}")
    except KeyboardInterrupt:
        report.failures.append("interrupted")
    finally:
        suite.stop()
        report.seconds = time.monotonic() - started
    for failure in report.failures:
        say(f"FAILED: {failure}")
    say(f"{'verdict':<22}{'PASS' if report.passed else 'FAIL'} ({report.seconds:.0f}s)")
    if options.keep or not report.passed:
        say(f"the suite's data and logs: {root}")
    elif options.root is None:
        shutil.rmtree(root, ignore_errors=True)
    return report


async def _run(options: ChaosOptions, suite: Suite, report: ChaosReport, say: Say) -> None:
    window = options.leads / options.rate
    schedule = options.faults.schedule(report.seed, window)
    say(
        f"chaos run: seed {report.seed}, {options.leads} reports at {options.rate:g}/s"
        f" ({window:.0f}s), {len(schedule)} faults; rerun with --seed {report.seed}"
    )
    for fault in schedule:
        say(f"  planned at t+{fault.at:5.1f}s: {fault.describe()}")
    await suite.start(options.ready_timeout)
    say(f"suite ready: NATS {suite.nats_url}, " + ", ".join(suite.url(s) for s in SERVICES))

    supervisor = asyncio.create_task(suite.supervise())
    try:
        await _storm_and_count(options, suite, report, schedule, say)
    finally:
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
    report.exits = suite.exits
    exits = [f"{e.service} (code {e.code}, t+{e.at - report.began:.1f}s)" for e in suite.exits]
    say(f"{'exited by itself':<22}{len(exits)}" + (f"   {', '.join(exits)}" if exits else ""))
    if exits:
        report.failures.append(
            f"a service exited by itself (started again, as a process manager would):"
            f" {', '.join(exits)}; see {suite.layout.logs}"
        )


async def _storm_and_count(
    options: ChaosOptions, suite: Suite, report: ChaosReport, schedule: list[Fault], say: Say
) -> None:
    window = options.leads / options.rate
    reports = plan_reports(report.seed, options.leads)
    loop = asyncio.get_running_loop()
    began = report.began = loop.time()
    deadline = began + (options.load_deadline or 3 * window + 120)
    load, report.dealt = await asyncio.gather(
        send_reports(suite.url("intake"), reports, options.rate, deadline),
        deal(suite, schedule, began, options.ready_timeout, say),
    )
    report.load = load
    answers = ", ".join(f"{k} ×{v}" for k, v in load.answers.most_common())
    say(
        f"load done in {load.seconds:.1f}s ({len(load.accepted) / load.seconds:.1f} accepted/s);"
        f" answers: {answers}"
    )
    report.failures += [f"{d.fault.describe()}: {d.failure}" for d in report.dealt if d.failure]

    nc = await nats.connect(suite.nats_url, user="admin", password=suite.admin_password)
    try:
        js = nc.jetstream()
        took, report.settled = await settle(js, suite, options.settle_timeout)
        if report.settled.empty:
            say(f"caught up {took:.1f}s after the load")
        else:
            report.failures.append(f"not caught up after {took:.0f}s: {report.settled.describe()}")
        log = await read_log(js, report.seed, options.leads)
        parked = await parked_counts(js)
    finally:
        await nc.close()
    checks = [await asyncio.to_thread(verify_projection, suite, s) for s in SERVICES]
    report.figures = figures(reports, load, log, parked, checks)
    for line in report.figures.lines():
        say(line)
    report.failures += report.figures.failures()
