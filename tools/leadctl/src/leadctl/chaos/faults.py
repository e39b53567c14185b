"""The faults of a chaos run: which, when (seeded random moments within the load), and
dealing them.

Blows to processes (SIGKILL to a service, nats-server killed) are dealt one at a time, each
once the suite has come back from the one before, so that every recovery is timed on its
own and "did not come back" names one culprit. The database lock is of another kind (the
process lives, its writes wait) and runs alongside them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from leadctl.chaos.suite import SERVICES, NotReady, Suite, hold_write_lock


class Blow(StrEnum):
    KILL = "kill -9"
    NATS = "kill -9 nats-server"
    LOCK = "write lock"


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the load began
    blow: Blow
    target: str  # a service, or the database's owner for a lock
    hold: float  # how long the target stays down, or the lock is held

    def describe(self) -> str:
        if self.blow is Blow.KILL:
            return f"kill -9 {self.target}, down {self.hold:.1f}s"
        if self.blow is Blow.NATS:
            return f"kill -9 nats-server, down {self.hold:.1f}s"
        return f"write lock on the {self.target} database for {self.hold:.0f}s"


@dataclass(frozen=True)
class FaultPlan:
    ledger_kills: int = 2
    oversight_kills: int = 1
    intake_kills: int = 1
    nats_kills: int = 1
    lock_seconds: float = 15.0

    def schedule(self, seed: int, window: float) -> list[Fault]:
        """The faults at random moments in the middle of the load (10-85 % of it)."""
        chooser = random.Random(seed)  # noqa: S311 - a fault schedule, not secrets
        kills = {"ledger": self.ledger_kills, "oversight": self.oversight_kills}
        kills["intake"] = self.intake_kills
        faults = []

        def moment() -> float:
            return round(chooser.uniform(0.10, 0.85) * window, 1)

        for service in SERVICES:
            for _ in range(kills[service]):
                faults.append(
                    Fault(moment(), Blow.KILL, service, round(chooser.uniform(0.2, 3), 1))
                )
        for _ in range(self.nats_kills):
            faults.append(
                Fault(moment(), Blow.NATS, "nats-server", round(chooser.uniform(1, 4), 1))
            )
        if self.lock_seconds > 0:
            faults.append(Fault(moment(), Blow.LOCK, "ledger", self.lock_seconds))
        return sorted(faults, key=lambda f: f.at)


@dataclass(frozen=True)
class Dealt:
    fault: Fault
    began: float  # seconds after the load began
    recovered_after: float | None  # until every service was ready again
    note: str = ""
    failure: str = ""  # what did not come back


async def deal(
    suite: Suite,
    faults: list[Fault],
    began: float,
    ready_timeout: float,
    say: Callable[[str], None],
) -> list[Dealt]:
    """Deal every fault at its moment (process faults one after another); returns what
    happened to each. A service that does not come back ends the dealing."""
    loop = asyncio.get_running_loop()
    locks = [
        asyncio.create_task(_lock(suite, f, began, say)) for f in faults if f.blow is Blow.LOCK
    ]
    dealt: list[Dealt] = []
    for fault in (f for f in faults if f.blow is not Blow.LOCK):
        # The fault's moment (or at once, if the one before took longer to recover).
        await asyncio.sleep(max(0.0, began + fault.at - loop.time()))
        at = loop.time() - began
        say(f"t+{at:6.1f}s  {fault.describe()}")
        try:
            down = await _blow(suite, fault)
            back = await suite.wait_ready(SERVICES, ready_timeout)
        except NotReady as exc:
            dealt.append(Dealt(fault, at, None, failure=str(exc)))
            say(f"t+{loop.time() - began:6.1f}s    did not come back: {exc}")
            break
        dealt.append(Dealt(fault, at, down + back))
        say(
            f"t+{loop.time() - began:6.1f}s    every service ready again,"
            f" {down + back:.1f}s after the {fault.blow}"
        )
    dealt.extend(await asyncio.gather(*locks))
    return sorted(dealt, key=lambda d: d.began)


async def _blow(suite: Suite, fault: Fault) -> float:
    """Down, wait, up again; returns how long it stayed down."""
    loop = asyncio.get_running_loop()
    struck = loop.time()
    if fault.blow is Blow.KILL:
        suite.kill_service(fault.target)
        await asyncio.sleep(fault.hold)
        suite.start_service(fault.target)
    else:
        suite.kill_nats()
        await asyncio.sleep(fault.hold)
        suite.start_nats()
    return loop.time() - struck


async def _lock(suite: Suite, fault: Fault, began: float, say: Callable[[str], None]) -> Dealt:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, began + fault.at - loop.time()))
    at = loop.time() - began
    say(f"t+{at:6.1f}s  {fault.describe()}")
    waited = await hold_write_lock(suite.layout.database(fault.target), fault.hold)
    note = f"taken {waited:.1f}s after it was asked for"
    say(f"t+{loop.time() - began:6.1f}s    write lock released ({note})")
    return Dealt(fault, at, None, note)
