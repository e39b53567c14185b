"""`leadctl`, the operator's and auditor's command line, against a real JetStream server:
the live ledger equals a fresh replay of the log (and a tampered row is caught), the ledger
as it stood at a moment, a lead's chain of custody, sealing and verifying the log (online
and as an exported file), parked events, and the operator's status view.

leadctl runs its own event loop, as it does for an operator. So a use case is scripted by
an async fixture (services running, events appended), and the commands run in a plain
test. Where a service must keep running while leadctl works (retrying a parked event), the
command runs in a worker thread and the service behind a real HTTP port."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import orjson
import pytest
import uvicorn
from click.testing import Result
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.errors import APIError
from openpyxl import load_workbook
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from common.events import Actor, Role
from common.events.catalogue import (
    DisciplineOutcome,
    LeadReported,
    LeadTransferred,
    LeadViewed,
    ReporterRef,
    SupervisionListed,
    SupervisionOpened,
)
from common.eventstore import EventStore
from common.http_errors import install_error_handlers
from common.projection import Subscription
from common.service import ServiceRuntime
from common.settings import ServiceSettings
from common.streams import declare_streams, stream_config
from common.subjects import Service, Stream
from common.vocabulary import Category, Channel, Conclusion, Flag
from leadctl.cli import app
from leadctl.fingerprint import positions
from ledger.bootstrap import create_app as create_ledger
from ledger.projection.tables import leads
from ledger.settings import LedgerSettings
from tests.conftest import NatsTarget, wait_until
from tests.support import projections
from tests.support.apps import serving, token, write_staff
from tests.support.factories import new_lead_id, registered, reported
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

T = TypeVar("T")

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
DISCIPLINE_COMMITTEE = Actor(role=Role.DISCIPLINE, unit="shd-discipline", user="discipline")
RECORDING_CONSUMER = "intake-recording-INTAKE"


# --- running leadctl ----------------------------------------------------------------------


def leadctl(*args: object) -> Result:
    """One leadctl command, as an operator types it (it runs its own event loop)."""
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
        applied = positions(engine, "ledger")
    finally:
        engine.dispose()
    for stream in (Stream.LEDGER, Stream.DIRECTIVES):
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


@pytest.fixture
async def scripted_ledger(
    js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> ScriptedLedger:
    """The ledger service run as in production, two leads through it, then oversight's
    supervision of one. Stopped once its projection caught up.

    The directives come after the ledger applied every ledger event: the live projection
    then applied them in the order a replay does (for the other order, see
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


# --- 1. the live projection against a fresh replay ----------------------------------------


def test_the_live_ledger_equals_a_fresh_replay_of_the_log_until_one_of_its_rows_is_changed(
    scripted_ledger: ScriptedLedger, nats_target: NatsTarget
) -> None:
    live = scripted_ledger.live_db
    verify = [
        *on(nats_target),
        "verify",
        "--projection",
        "ledger",
        "--live-db",
        f"sqlite:///{live}",
        "--json",
    ]

    untouched = succeeded(leadctl(*verify))
    [report] = printed(untouched)
    assert report["projection"] == "ledger"
    assert report["equal"] is True
    assert set(report["live"]) == {"ledger_leads", "ledger_lead_units"}
    assert "missing" not in report["live"].values()
    assert report["live"] == report["replay"]
    # walked: registered, transferred, accepted, assigned twice, verified; waiting: registered
    assert report["positions"] == {"LEDGER": 7, "DIRECTIVES": 1}

    engine = create_engine(f"sqlite:///{live}")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE ledger_leads SET status = 'archived' WHERE lead_id = :lead"),
            {"lead": scripted_ledger.waiting},
        )
    engine.dispose()
    tampered = leadctl(*verify)

    assert tampered.exit_code == 1, tampered.output
    [report] = printed(tampered)
    assert report["equal"] is False
    differing = {t for t, digest in report["live"].items() if report["replay"][t] != digest}
    assert differing == {"ledger_leads"}


@dataclass(frozen=True)
class ConcludedByDiscipline:
    lead: str
    live_db: Path


@pytest.fixture
async def concluded_by_discipline(
    js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> ConcludedByDiscipline:
    """A lead flagged as involving an official, routed to the discipline committee, which
    accepts it; the committee's outcome arrives as a directive; then the committee answers
    the reporter and the office archives the file. Each step is applied by the live
    projection before the next is taken."""
    await declare_streams(js, list(Stream))
    live_db, users = tmp_path / "ledger.db", write_staff(tmp_path / "users.toml")
    async with serving(ledger_service(nats_target, live_db, users)) as http:
        lead = await report(js, "村支书充当黑恶势力保护伞", flags=(Flag.INVOLVES_OFFICIAL,))

        async def routed() -> bool:
            history = await EventStore(js, Stream.LEDGER, "ledger").read_lead(lead)
            return "LeadTransferred" in {s.event.event_type for s in history.events}

        await wait_until(routed)
        await act(http, lead, "accept", "discipline")
        await wait_until(lambda: projection_caught_up(js, live_db))
        await EventStore(js, Stream.DIRECTIVES, "directive").append(
            DisciplineOutcome(
                lead_id=lead, result=Conclusion.SUBSTANTIATED, actor=DISCIPLINE_COMMITTEE
            )
        )
        await wait_until(lambda: projection_caught_up(js, live_db))
        await act(http, lead, "feedback", "discipline", text="经查属实，已严肃处理")
        await act(http, lead, "archive", "office")
        await wait_until(lambda: projection_caught_up(js, live_db))
    return ConcludedByDiscipline(lead, live_db)


def status_in(db: Path, lead_id: str) -> str:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(select(leads.c.status).where(leads.c.lead_id == lead_id)).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_replay_applies_oversights_directives_where_they_happened_among_the_ledgers_events(
    concluded_by_discipline: ConcludedByDiscipline, nats_target: NatsTarget, tmp_path: Path
) -> None:
    live, replayed = concluded_by_discipline.live_db, tmp_path / "replayed.db"
    lead = concluded_by_discipline.lead

    succeeded(leadctl(*on(nats_target), "replay", "ledger", "--db", f"sqlite:///{replayed}"))
    verified = leadctl(
        *on(nats_target),
        "verify",
        "--projection",
        "ledger",
        "--live-db",
        f"sqlite:///{live}",
        "--json",
    )

    assert status_in(live, lead) == "archived"
    assert status_in(replayed, lead) == "archived", (
        "the replayed ledger reads the lead's history out of order"
    )
    assert verified.exit_code == 0, verified.output


# --- 2. the ledger as it stood at a moment ------------------------------------------------


def exported(path: Path) -> dict[str, dict[str, str]]:
    """The exported ledger sheet: each row by its ledger number, by its Chinese header."""
    sheet = load_workbook(path).active
    assert sheet is not None
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    headers = rows[0]
    return {row[0]: dict(zip(headers, row, strict=True)) for row in rows[1:]}


def test_replay_until_a_moment_exports_the_ledger_with_the_statuses_and_assignees_it_had_then(
    scripted_ledger: ScriptedLedger, nats_target: NatsTarget, tmp_path: Path
) -> None:
    then_db, now_db = tmp_path / "then.db", tmp_path / "now.db"
    then_xlsx, now_xlsx = tmp_path / "then.xlsx", tmp_path / "now.xlsx"

    then = succeeded(
        leadctl(
            *on(nats_target),
            "replay",
            "ledger",
            "--db",
            f"sqlite:///{then_db}",
            "--until",
            scripted_ledger.moment.isoformat(),
            "--json",
        )
    )
    succeeded(leadctl(*on(nats_target), "replay", "ledger", "--db", f"sqlite:///{now_db}"))
    exporting_then = succeeded(
        leadctl("export", "ledger", "--db", f"sqlite:///{then_db}", "--xlsx", then_xlsx)
    )
    succeeded(leadctl("export", "ledger", "--db", f"sqlite:///{now_db}", "--xlsx", now_xlsx))

    assert printed(then)["until"] == scripted_ledger.moment.isoformat()
    assert "2 leads exported" in exporting_then.stdout
    number = scripted_ledger.walked_number
    as_it_stood, as_it_stands = exported(then_xlsx)[number], exported(now_xlsx)[number]
    assert (as_it_stood["责任人"], as_it_stood["办理状态"]) == ("王警官", "已责任到人")
    assert (as_it_stands["责任人"], as_it_stands["办理状态"]) == ("李警官", "核查中")
    assert as_it_stood["移交单位"] == as_it_stands["移交单位"] == "沙河店派出所"
    assert [row["办理状态"] for row in exported(then_xlsx).values() if row["编号"] != number] == [
        "已登记"
    ]


# --- 3. a lead's chain of custody ---------------------------------------------------------


def test_history_gives_an_auditor_the_whole_chain_of_custody_of_a_lead_and_records_the_look(
    scripted_ledger: ScriptedLedger, nats_target: NatsTarget
) -> None:
    lead = scripted_ledger.walked
    as_auditor = ["--token", "token-auditor", "--users-file", scripted_ledger.users]
    as_office = ["--token", "token-office", "--users-file", scripted_ledger.users]

    looked = succeeded(leadctl(*on(nats_target), "history", lead, "--json", *as_auditor))
    refused = leadctl(*on(nats_target), "history", lead, "--json", *as_office)

    entries = printed(looked)
    assert [(e["stream"], e["event_type"]) for e in entries] == [
        ("INTAKE", "LeadReported"),
        ("LEDGER", "LeadRegistered"),
        ("AUDIT", "LeadViewed"),
        ("LEDGER", "LeadTransferred"),
        ("LEDGER", "TransferAccepted"),
        ("LEDGER", "ResponsibilityAssigned"),
        ("LEDGER", "ResponsibilityAssigned"),
        ("LEDGER", "VerificationRecorded"),
        ("OVERSIGHT", "SupervisionOpened"),
        ("DIRECTIVES", "SupervisionListed"),
    ]
    times = [datetime.fromisoformat(e["occurred_at"]) for e in entries]
    assert times == sorted(times)
    assert {e["lead_id"] for e in entries} == {lead}
    assert [e["assignee_name"] for e in entries if e["event_type"] == "ResponsibilityAssigned"] == [
        "王警官",
        "李警官",
    ]
    assert refused.exit_code != 0
    assert "history is for auditors" in refused.output

    looks = against_the_server(
        nats_target,
        lambda js: events_on(js, Stream.AUDIT, f"audit.leadctl.lead.{lead}.LeadViewed"),
    )
    assert [
        (e.actor.role, e.actor.user, e.service, e.purpose)
        for e in looks
        if isinstance(e, LeadViewed)
    ] == [(Role.AUDITOR, "auditor", "leadctl", "audit")]


# --- 4. sealing the log and verifying it --------------------------------------------------


LEDGER_MESSAGES = 6


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


@pytest.fixture
async def log(js: JetStreamContext) -> None:
    """Every stream declared append-only, as the administrator does, with events in it."""
    await declare_streams(js, list(Stream))
    await fill(js)


@pytest.fixture
async def deletable_log(js: JetStreamContext) -> None:
    """As ``log``, but LEDGER created (by an administrator) without the deny-delete guard."""
    await js.add_stream(stream_config(Stream.LEDGER, deny_delete=False))
    assert await declare_streams(js, list(Stream)) == [Stream.LEDGER]
    await fill(js)


@dataclass(frozen=True)
class Keys:
    private: Path
    public: Path


def keygen(folder: Path) -> Keys:
    folder.mkdir()
    keys = Keys(folder / "seal.pem", folder / "seal.pub.pem")
    made = succeeded(leadctl("keygen", "--private", keys.private, "--public", keys.public))
    assert made.stdout.startswith("key ")
    return keys


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return keygen(tmp_path / "keys")


def problems(result: Result) -> dict[str, list[tuple[int, str]]]:
    """Each stream verify found wrong, with the (sequence, kind) of each problem."""
    return {
        v["stream"]: [(p["sequence"], p["kind"]) for p in v["problems"]]
        for v in printed(result)
        if not v["ok"]
    }


def test_a_sealed_log_verifies_on_the_server_and_as_an_exported_file(
    log: None, keys: Keys, nats_target: NatsTarget, tmp_path: Path
) -> None:
    witness, exported_log = tmp_path / "witness", tmp_path / "LEDGER.jsonl"

    sealed = succeeded(
        leadctl(*on(nats_target), "seal", "--key", keys.private, "--out", witness, "--json")
    )
    verified = succeeded(leadctl(*on(nats_target), "verify", "--public-key", keys.public, "--json"))
    succeeded(leadctl(*on(nats_target), "export-log", "LEDGER", exported_log))
    offline = succeeded(
        leadctl(
            "verify",
            "--file",
            exported_log,
            "--checkpoint",
            witness / f"LEDGER-{LEDGER_MESSAGES}.json",
            "--public-key",
            keys.public,
            "--json",
        )
    )

    assert {c["stream"]: c["count"] for c in printed(sealed)}["LEDGER"] == LEDGER_MESSAGES
    assert {p.name for p in witness.iterdir()} >= {"LEDGER-6.json", "INTAKE-3.json"}
    assert problems(verified) == {}
    assert {v["stream"]: v["checkpoints"] for v in printed(verified)}["LEDGER"] == 1
    [verdict] = printed(offline)
    assert (verdict["stream"], verdict["ok"], verdict["messages"]) == ("LEDGER", True, 6)


def with_ledger_number_changed(line: bytes) -> bytes:
    """The message's data with one byte changed: its ledger number's last digit."""
    entry = orjson.loads(line)
    data = base64.b64decode(entry["data"])
    changed = data.replace(b"SHD-2026-000002", b"SHD-2026-000009")
    assert len(changed) == len(data)
    assert changed != data
    entry["data"] = base64.b64encode(changed).decode()
    return orjson.dumps(entry)


@dataclass(frozen=True)
class TamperedCopies:
    """Copies of an exported LEDGER log, checked against its sealed checkpoint."""

    checkpoint: Path
    public_key: Path
    altered: Path  # sequence 3 (the second lead's LeadRegistered) has one byte changed
    shortened: Path  # the line of sequence 4 is gone


@pytest.fixture
def tampered_copies(
    log: None, keys: Keys, nats_target: NatsTarget, tmp_path: Path
) -> TamperedCopies:
    witness, original = tmp_path / "witness", tmp_path / "LEDGER.jsonl"
    succeeded(leadctl(*on(nats_target), "seal", "--key", keys.private, "--out", witness))
    succeeded(leadctl(*on(nats_target), "export-log", "LEDGER", original))
    lines = original.read_bytes().splitlines()  # a header, then sequences 1..6
    copies = TamperedCopies(
        witness / f"LEDGER-{LEDGER_MESSAGES}.json",
        keys.public,
        tmp_path / "altered.jsonl",
        tmp_path / "shortened.jsonl",
    )
    copies.altered.write_bytes(
        b"\n".join([*lines[:3], with_ledger_number_changed(lines[3]), *lines[4:]]) + b"\n"
    )
    copies.shortened.write_bytes(b"\n".join([*lines[:4], *lines[5:]]) + b"\n")
    return copies


def verify_copy(copies: TamperedCopies, path: Path) -> Result:
    return leadctl(
        "verify",
        "--file",
        path,
        "--checkpoint",
        copies.checkpoint,
        "--public-key",
        copies.public_key,
        "--json",
    )


def test_an_exported_log_with_one_byte_changed_or_one_message_removed_names_that_sequence(
    tampered_copies: TamperedCopies,
) -> None:
    one_byte = verify_copy(tampered_copies, tampered_copies.altered)
    one_line = verify_copy(tampered_copies, tampered_copies.shortened)

    assert one_byte.exit_code == 1, one_byte.output
    assert (3, "altered") in problems(one_byte)["LEDGER"]
    assert one_line.exit_code == 1, one_line.output
    assert [seq for seq, kind in problems(one_line)["LEDGER"] if kind == "missing"] == [4]


def test_verifying_an_exported_log_blames_no_intact_message_after_a_changed_or_removed_one(
    tampered_copies: TamperedCopies,
) -> None:
    one_byte = verify_copy(tampered_copies, tampered_copies.altered)
    one_line = verify_copy(tampered_copies, tampered_copies.shortened)

    # Sequence 4 follows the changed message and sequence 5 the removed one; both are
    # exactly as exported, with the digest and link the export wrote for them.
    assert (4, "altered") not in problems(one_byte)["LEDGER"], one_byte.stdout
    assert (5, "altered") not in problems(one_line)["LEDGER"], one_line.stdout


def test_a_checkpoint_signed_with_another_key_is_refused(
    log: None, keys: Keys, nats_target: NatsTarget, tmp_path: Path
) -> None:
    stranger = keygen(tmp_path / "stranger")
    forged, exported_log = tmp_path / "forged", tmp_path / "LEDGER.jsonl"
    succeeded(leadctl(*on(nats_target), "seal", "--key", stranger.private, "--out", forged))
    succeeded(leadctl(*on(nats_target), "export-log", "LEDGER", exported_log))

    offline = leadctl(
        "verify",
        "--file",
        exported_log,
        "--checkpoint",
        forged / f"LEDGER-{LEDGER_MESSAGES}.json",
        "--public-key",
        keys.public,
        "--json",
    )
    online = leadctl(*on(nats_target), "verify", "--public-key", keys.public, "--json")

    assert offline.exit_code == 1, offline.output
    assert "signature does not hold" in offline.output
    assert online.exit_code == 1, online.output
    assert problems(online)["LEDGER"] == [(LEDGER_MESSAGES, "checkpoint")]


def test_a_message_deleted_from_a_stream_is_named_as_missing_the_last_one_too(
    deletable_log: None, keys: Keys, nats_target: NatsTarget, tmp_path: Path
) -> None:
    verify = [*on(nats_target), "verify", "--public-key", keys.public, "--json"]
    succeeded(leadctl(*on(nats_target), "seal", "--key", keys.private))
    succeeded(leadctl(*verify))

    against_the_server(nats_target, lambda js: js.delete_msg("LEDGER", 3))
    middle_gone = leadctl(*verify)
    against_the_server(nats_target, lambda js: js.delete_msg("LEDGER", LEDGER_MESSAGES))
    last_gone = leadctl(*verify)

    assert middle_gone.exit_code == 1, middle_gone.output
    assert (3, "missing") in problems(middle_gone)["LEDGER"]
    assert set(problems(middle_gone)) == {"LEDGER"}
    assert last_gone.exit_code == 1, last_gone.output
    missing = [seq for seq, kind in problems(last_gone)["LEDGER"] if kind == "missing"]
    assert sorted(set(missing)) == [3, LEDGER_MESSAGES]


async def test_the_append_only_streams_refuse_to_delete_a_message(js: JetStreamContext) -> None:
    await declare_streams(js, list(Stream))
    await fill(js)

    with pytest.raises(APIError) as refused:
        await js.delete_msg("LEDGER", 3)

    assert "delete not permitted" in str(refused.value.description)

    assert (await js.stream_info("LEDGER")).state.messages == LEDGER_MESSAGES


# --- 5. parked events ---------------------------------------------------------------------


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


@asynccontextmanager
async def over_http(app: FastAPI) -> AsyncIterator[str]:
    """The app served by uvicorn on a free local port; yields its base URL."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    serving_task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        await wait_until(lambda: server.started or serving_task.done())
        assert server.started, "the service did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving_task
        listening.close()


def recorded(db: Path) -> list[str]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return [event_id for event_id, _ in projections.applied(conn)]
    finally:
        engine.dispose()


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


def parked_by_origin(listed: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {p["origin_sequence"]: p for p in listed}


async def test_parked_events_are_listed_shown_and_retried_once_their_cause_is_fixed(
    js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await declare_streams(js, list(Stream))
    db = tmp_path / "recording.db"
    service = recording_service(nats_target, db, write_staff(tmp_path / "users.toml"))
    nats_args = on(nats_target)

    async with over_http(service) as url, httpx.AsyncClient(base_url=url) as http:
        trouble = await make_trouble(js, db)
        listed = printed(await leadctl_beside(*nats_args, "dlq", "list", "intake", "--json"))
        by_origin = parked_by_origin(listed)
        poison, malformed = (
            by_origin[trouble.poison_sequence],
            by_origin[trouble.malformed_sequence],
        )
        shown_poison = json.loads(
            succeeded(
                await leadctl_beside(*nats_args, "dlq", "show", "intake", poison["sequence"])
            ).stdout
        )
        shown_malformed = json.loads(
            succeeded(
                await leadctl_beside(*nats_args, "dlq", "show", "intake", malformed["sequence"])
            ).stdout
        )

        monkeypatch.setattr(projections, "FAIL_ON_SUMMARY", "the handler refuses nothing now")
        by_office = await http.post(
            f"/v1/admin/dead-letters/{poison['sequence']}/retry", headers=token("office")
        )
        retried = await leadctl_beside(
            "dlq", "retry", "intake", poison["sequence"], "--token", "token-admin", "--url", url
        )
        again = await http.post(
            f"/v1/admin/dead-letters/{poison['sequence']}/retry", headers=token("admin")
        )
        unreadable = await http.post(
            f"/v1/admin/dead-letters/{malformed['sequence']}/retry", headers=token("admin")
        )
        after = printed(await leadctl_beside(*nats_args, "dlq", "list", "intake", "--json"))
        everything = printed(
            await leadctl_beside(*nats_args, "dlq", "list", "intake", "--all", "--json")
        )
        status = printed(await leadctl_beside(*nats_args, "status", "--json"))

    # Both parked, each with its reason, where it came from and which consumer stopped.
    assert len(listed) == 2
    assert poison["reason"].startswith("handler failed 3 times")
    assert "handler refuses this event" in poison["reason"]
    assert malformed["reason"].startswith("malformed event")
    assert {p["consumer"] for p in listed} == {RECORDING_CONSUMER}
    assert {p["origin_stream"] for p in listed} == {"INTAKE"}
    assert not any(p["resolved"] for p in listed)
    assert shown_poison["reason"] == poison["reason"]
    assert shown_poison["event"]["event_id"] == trouble.poison.event_id
    assert shown_poison["event"]["summary"] == trouble.poison.summary
    assert shown_malformed["reason"] == malformed["reason"]
    assert shown_malformed["event"].startswith("(cannot be read")

    # Only an administrator retries; the retried event is applied, and only once.
    assert by_office.status_code == 403, by_office.text
    assert retried.exit_code == 0, retried.output
    assert printed(retried)["event_id"] == trouble.poison.event_id
    assert recorded(db) == [trouble.good.event_id, trouble.later.event_id, trouble.poison.event_id]
    assert again.status_code == 422, again.text
    assert "retried already" in again.json()["detail"][0]["message_en"]
    assert unreadable.status_code == 422, unreadable.text
    assert "still cannot be read" in unreadable.json()["detail"][0]["message_en"]

    # The retried one leaves the list (but not the record); the unreadable one stays.
    assert [p["origin_sequence"] for p in after] == [trouble.malformed_sequence]
    assert {p["origin_sequence"]: p["resolved"] for p in everything} == {
        trouble.poison_sequence: True,
        trouble.malformed_sequence: False,
    }
    assert status["parked"] == {"intake": 1, "ledger": 0, "oversight": 0}


# --- 6. the operator's view ---------------------------------------------------------------


@pytest.fixture
async def backlog(js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path) -> Trouble:
    """Two events parked by the recording service; then, with it stopped, two more
    appended that its consumer has not read."""
    await declare_streams(js, list(Stream))
    db = tmp_path / "recording.db"
    service = recording_service(nats_target, db, write_staff(tmp_path / "users.toml"))
    async with serving(service):
        trouble = await make_trouble(js, db)
    intake = EventStore(js, Stream.INTAKE, "intake")
    await intake.append(reported())
    await intake.append(reported())
    return trouble


def test_status_reports_each_streams_messages_each_consumers_lag_and_the_parked_events(
    backlog: Trouble, nats_target: NatsTarget
) -> None:
    result = succeeded(leadctl(*on(nats_target), "status", "--json"))

    found = printed(result)
    streams = {s["stream"]: s for s in found["streams"]}
    assert set(streams) == {s.value for s in Stream}
    assert all(s["exists"] for s in streams.values())
    intake = streams["INTAKE"]
    assert (intake["messages"], intake["first_sequence"], intake["last_sequence"]) == (6, 1, 6)
    assert [(c["name"], c["lag"]) for c in intake["consumers"]] == [(RECORDING_CONSUMER, 2)]
    assert streams["DLQ_INTAKE"]["messages"] == 2
    assert streams["LEDGER"]["messages"] == 0
    assert found["parked"] == {"intake": 2, "ledger": 0, "oversight": 0}
