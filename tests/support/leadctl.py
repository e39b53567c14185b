"""`leadctl` as an operator types it, what it printed, and the histories its tests script
for it: a ledger walked through its own API, a log to seal, events a small service parks.

leadctl runs its own event loop, as it does for an operator. So a use case is scripted by
an async fixture (services running, events appended), and the commands run in a plain
test. Where a service must keep running while leadctl works (retrying a parked event), the
command runs in a worker thread (``leadctl_beside``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
from click.testing import Result
from fastapi import FastAPI
from nats.js import JetStreamContext
from sqlalchemy import create_engine
from typer.testing import CliRunner

from common.events import Actor, Role
from common.events.catalogue import (
    LeadReported,
    LeadTransferred,
    ReporterRef,
    SupervisionListed,
    SupervisionOpened,
)
from common.eventstore import EventStore
from common.http_errors import install_error_handlers
from common.projection import Subscription
from common.service import ServiceRuntime
from common.settings import ServiceSettings
from common.streams import declare_streams
from common.subjects import Service, Stream
from common.vocabulary import Category, Channel, Flag
from leadctl.fingerprint import positions
from ledger.bootstrap import create_app as create_ledger
from ledger.projection import PROJECTION as LEDGER_PROJECTION
from ledger.settings import LedgerSettings
from tests.conftest import NatsTarget, wait_until
from tests.support import projections
from tests.support.apps import serving, token, write_staff
from tests.support.factories import new_lead_id, registered, reported

T = TypeVar("T")

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
DISCIPLINE_COMMITTEE = Actor(role=Role.DISCIPLINE, unit="shd-discipline", user="discipline")
RECORDING_CONSUMER = "intake-recording-INTAKE"
LEDGER_MESSAGES = 6


# --- running leadctl ----------------------------------------------------------------------


def leadctl(*args: object) -> Result:
    """One leadctl command, as an operator types it (it runs its own event loop)."""
    # Imported here, not with this module: the integration conftest imports this module, and
    # a test that runs no command should not need the whole command line to import.
    from leadctl.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


async def leadctl_beside(*args: object) -> Result:
    """leadctl from an async test, in a worker thread: the services under test keep
    running on this loop while it works."""
    return await asyncio.to_thread(leadctl, *args)


def on(nats_target: NatsTarget) -> list[str]:
    """How leadctl reaches the test server, given before the command: the server has no
    accounts, so leadctl connects without a user."""
    return ["--nats-url", nats_target.url, "--user", ""]


def printed(result: Result) -> Any:
    """The JSON a command printed: its last line that is JSON (a service logging in the
    background while a command runs may add lines of its own)."""
    for line in reversed(result.stdout.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise AssertionError(f"no JSON in the output:\n{result.output}")


def succeeded(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def against_the_server(
    nats_target: NatsTarget, work: Callable[[JetStreamContext], Awaitable[T]]
) -> T:
    """Look at (or change) the server from a plain test, on a connection of its own."""

    async def main() -> T:
        nc = await nats.connect(nats_target.url)
        try:
            return await work(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(main())


# --- a ledger scripted through its own API ------------------------------------------------


@dataclass(frozen=True)
class ScriptedLedger:
    walked: str  # handed to the police, 王警官 responsible, then 李警官, now being verified
    walked_number: str
    waiting: str  # filed, nothing done yet
    moment: datetime  # after 王警官 was made responsible, before 李警官 was
    live_db: Path
    users: Path


async def report(js: JetStreamContext, summary: str, flags: tuple[Flag, ...] = ()) -> str:
    """A lead reported on the hotline, as intake records it; returns its id."""
    lead_id = new_lead_id()
    await EventStore(js, Stream.INTAKE, "intake").append(
        LeadReported(
            lead_id=lead_id,
            channel=Channel.HOTLINE,
            category=Category.VILLAGE_TYRANT,
            summary=summary,
            village="shd-v01",
            reporter=ReporterRef(kind="anonymous"),
            flags=flags,
            actor=Actor(role=Role.CLERK, unit="shd-office", user="clerk"),
        )
    )
    return lead_id


async def viewed_once_filed(http: httpx.AsyncClient, lead_id: str) -> dict[str, Any]:
    """The lead as the office reads it once the ledger lists it (only that one successful
    read is recorded)."""
    found: dict[str, Any] = {}

    async def listed() -> bool:
        response = await http.get(
            f"/v1/ledger/leads/{lead_id}", params={"purpose": "登记核对"}, headers=token("office")
        )
        if response.status_code == 404:
            return False
        assert response.status_code == 200, response.text
        found.update(response.json())
        return True

    await wait_until(listed)
    return found


async def act(http: httpx.AsyncClient, lead_id: str, command: str, user: str, **body: Any) -> None:
    response = await http.post(
        f"/v1/ledger/leads/{lead_id}/{command}", json=body, headers=token(user)
    )
    assert response.status_code == 200, response.text


async def projection_caught_up(js: JetStreamContext, db: Path) -> bool:
    engine = create_engine(f"sqlite:///{db}")
    try:
        applied = positions(engine, LEDGER_PROJECTION.key)
    finally:
        engine.dispose()
    for stream in (Stream.INTAKE, Stream.LEDGER, Stream.DIRECTIVES):
        info = await js.stream_info(stream.value)
        if applied.get(stream.value, 0) < info.state.last_seq:
            return False
    return True


def ledger_service(nats_target: NatsTarget, live_db: Path, users: Path) -> FastAPI:
    return create_ledger(
        LedgerSettings(
            nats_url=nats_target.url, database_url=f"sqlite:///{live_db}", users_file=users
        )
    )


async def supervised(js: JetStreamContext, lead_id: str) -> None:
    """Oversight presses the police on the lead and lists it for supervision (挂牌督办),
    appended as the oversight service appends them."""
    await EventStore(js, Stream.OVERSIGHT, "oversight").append(
        SupervisionOpened(lead_id=lead_id, reason="群众反映强烈", actor=DISCIPLINE_COMMITTEE)
    )
    await EventStore(js, Stream.DIRECTIVES, "directive").append(
        SupervisionListed(
            lead_id=lead_id,
            unit="shd-police",
            deadline=datetime.now(UTC) + timedelta(days=10),
            actor=DISCIPLINE_COMMITTEE,
        )
    )


async def script_ledger(
    js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> ScriptedLedger:
    """The ledger service run as in production, two leads through it, then oversight's
    supervision of one. Stopped once its projection caught up.

    The directives come after the ledger applied every ledger event: the live projection
    then applied them in the order a replay does (for the other order, see, in
    test_leadctl_verify.py,
    test_a_replay_applies_oversights_directives_where_they_happened_among_the_ledgers_events).
    """
    await declare_streams(js, list(Stream))
    live_db, users = tmp_path / "ledger.db", write_staff(tmp_path / "users.toml")
    async with serving(ledger_service(nats_target, live_db, users)) as http:
        walked = await report(js, "村霸强占集体土地，威胁村民")
        waiting = await report(js, "夜间聚众赌博")
        walked_number = (await viewed_once_filed(http, walked))["ledger_number"]
        await act(http, walked, "transfer", "office", to_unit="shd-police", reason="涉嫌违法犯罪")
        await act(http, walked, "accept", "police")
        await act(http, walked, "assign", "police", assignee="wang.police", assignee_name="王警官")
        moment = datetime.now(UTC)
        await wait_until(lambda: datetime.now(UTC) > moment)
        await act(
            http,
            walked,
            "assign",
            "police",
            assignee="li.police",
            assignee_name="李警官",
            reason="王警官调岗",
        )
        await act(http, walked, "verification", "police", note="走访群众五人")
        await wait_until(lambda: projection_caught_up(js, live_db))
        await supervised(js, walked)
        await wait_until(lambda: projection_caught_up(js, live_db))
    return ScriptedLedger(walked, walked_number, waiting, moment, live_db, users)


# --- a log to seal and verify -------------------------------------------------------------


async def fill(js: JetStreamContext) -> None:
    """Three leads reported and filed, each then handed to the police: six LEDGER events."""
    intake, ledger = (
        EventStore(js, Stream.INTAKE, "intake"),
        EventStore(js, Stream.LEDGER, "ledger"),
    )
    for number in range(1, LEDGER_MESSAGES // 2 + 1):
        lead = new_lead_id()
        await intake.append(reported(lead))
        await ledger.append(registered(lead, number))
        await ledger.append(
            LeadTransferred(
                lead_id=lead,
                from_unit="shd-office",
                to_unit="shd-police",
                reason="涉嫌犯罪",
                actor=OFFICE,
            )
        )


@dataclass(frozen=True)
class SealKeys:
    private: Path
    public: Path


def keygen(folder: Path) -> SealKeys:
    folder.mkdir()
    keys = SealKeys(folder / "seal.pem", folder / "seal.pub.pem")
    made = succeeded(leadctl("keygen", "--private", keys.private, "--public", keys.public))
    assert made.stdout.startswith("key ")
    return keys


def problems(result: Result) -> dict[str, list[tuple[int, str]]]:
    """Each stream verify found wrong, with the (sequence, kind) of each problem."""
    return {
        v["stream"]: [(p["sequence"], p["kind"]) for p in v["problems"]]
        for v in printed(result)
        if not v["ok"]
    }


# --- events a small service parks ---------------------------------------------------------


def recording_service(nats_target: NatsTarget, db: Path, users: Path) -> FastAPI:
    """A small service whose projection records every LeadReported on INTAKE and refuses
    the one whose summary is ``projections.FAIL_ON_SUMMARY``."""
    runtime = ServiceRuntime(
        ServiceSettings(
            service=Service.INTAKE,
            http_port=1,
            nats_url=nats_target.url,
            database_url=f"sqlite:///{db}",
            users_file=users,
        ),
        title="recording",
    )
    runtime.project(Subscription(projections.recording_projection(), Stream.INTAKE))
    install_error_handlers(runtime.app, {})  # as every service's bootstrap does
    return runtime.app


def applied_up_to(db: Path) -> int:
    engine = create_engine(f"sqlite:///{db}")
    try:
        return positions(engine, "recording").get("INTAKE", 0)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Trouble:
    good: LeadReported
    poison: LeadReported  # its handler refuses it
    poison_sequence: int
    malformed_sequence: int  # not JSON at all
    later: LeadReported


async def make_trouble(js: JetStreamContext, db: Path) -> Trouble:
    """A good event, one its handler refuses, one that is not JSON, another good one; wait
    until the service parked the two and applied the rest."""
    intake = EventStore(js, Stream.INTAKE, "intake")
    good, poison, later = reported(), reported(summary=projections.FAIL_ON_SUMMARY), reported()
    await intake.append(good)
    poison_sequence = (await intake.append(poison)).sequence
    malformed = await js.publish(
        f"intake.lead.{new_lead_id()}.LeadReported", b"{not json", stream="INTAKE"
    )
    await intake.append(later)

    async def both_parked() -> bool:
        info = await js.stream_info(Stream.DLQ_INTAKE.value)
        return info.state.messages == 2 and applied_up_to(db) == 4

    await wait_until(both_parked)
    return Trouble(good, poison, poison_sequence, malformed.seq, later)
