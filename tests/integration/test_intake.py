"""Intake against a real JetStream server and real databases: who may enter which leads,
refusals a clerk can act on, idempotent retries, the reporter's protection, receipts, the
import of a village's screening ledger, and the linking of reports of the same matter."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from openpyxl import Workbook
from sqlalchemy import MetaData, create_engine, select, text, update
from sqlalchemy.engine import make_url

from common.database import Database, sync_url
from common.events import Actor, Event, Role, utc_now
from common.events.catalogue import (
    DuplicateSuspected,
    FeedbackGiven,
    LeadArchived,
    LeadRegistered,
    LeadReported,
    ReporterKind,
)
from common.eventstore import EventStore
from common.projection import Tracker
from common.pull import Puller
from common.replay import replay
from common.streams import declare_streams
from common.subjects import Stream
from common.vocabulary import Category, Channel, Flag
from intake.bootstrap import create_app
from intake.handlers import public_claim
from intake.idempotency import Claims, claims
from intake.projection import SUBSCRIPTIONS
from intake.projection.tables import reports
from intake.receipts import new_receipt
from intake.schemas import PublicReport
from intake.settings import IntakeSettings
from intake.vault import identity_keys
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import random_key, serving, token, write_staff

pytestmark = pytest.mark.integration

OWN_VILLAGE = "shd-v01"  # screener.v01's village, 沙河店村
OTHER_VILLAGE = "shd-v02"  # 前营村
WORK_BITS = 6
STOP_WITHIN = 2.0  # seconds; a stop takes milliseconds
LEAD_REPORTED = "intake.lead.*.LeadReported"
OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")


# --- the service under test ---------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    identity: str
    receipt: str


def intake_settings(
    nats_target: NatsTarget, database_url: str, tmp_path: Path, keys: Keys
) -> IntakeSettings:
    return IntakeSettings(
        nats_url=nats_target.url,
        database_url=database_url,
        users_file=write_staff(tmp_path / "users.toml"),
        identity_key=keys.identity,
        receipt_key=keys.receipt,
        # A few bits: the work is real, and cheap enough for hundreds of requests.
        work_bits_report=WORK_BITS,
        work_bits_receipt=WORK_BITS,
    )


def cancel_swallowed_cancellations() -> int:
    """Cancel again every projection runner that was cancelled but kept running."""
    stuck = [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith("projection:") and task.cancelling()
    ]
    for task in stuck:
        task.cancel()
    return len(stuck)


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app served in-process, and stopped within ``STOP_WITHIN`` seconds.

    A safety net: should a consumer ever ignore its cancellation again (see
    ``test_intake_stops_even_when_a_delivery_arrives_as_it_stops``), it is cancelled once
    more, with a warning, instead of hanging the test session."""
    service = serving(app)
    client = await service.__aenter__()
    try:
        yield client
    finally:
        # Stopped as a server stops it, even when the test failed: an exception thrown into
        # the lifespan would skip the shutdown hooks and leave its consumers running.
        stopping = asyncio.ensure_future(service.__aexit__(None, None, None))
        stopped, _ = await asyncio.wait({stopping}, timeout=STOP_WITHIN)
        if not stopped and cancel_swallowed_cancellations():
            warnings.warn(
                "intake did not stop: a projection runner ignored its cancellation",
                stacklevel=1,
            )
        await stopping


@pytest.fixture
def keys() -> Keys:
    return Keys(identity=random_key(), receipt=random_key())


@pytest.fixture
async def streams(js: JetStreamContext) -> JetStreamContext:
    """Every stream declared up front, as the administrator does: intake's read model also
    follows LEDGER."""
    await declare_streams(js, list(Stream))
    return js


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'intake.db'}"


@pytest.fixture
async def intake(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))
    async with running(app) as client:
        yield client


# --- what the test reads back -------------------------------------------------------------


async def stored_in_intake(js: JetStreamContext) -> int:
    return (await js.stream_info(Stream.INTAKE)).state.messages


async def reports_stored(js: JetStreamContext, lead_id: str = "*") -> int:
    subject = LEAD_REPORTED.replace("*", lead_id)
    info = await js.stream_info(Stream.INTAKE, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def intake_events(js: JetStreamContext, lead_id: str) -> list[Event]:
    history = await EventStore(js, Stream.INTAKE, "intake").read_lead(lead_id)
    return [stored.event for stored in history.events]


async def report_of(js: JetStreamContext, lead_id: str) -> LeadReported:
    first = (await intake_events(js, lead_id))[0]
    assert isinstance(first, LeadReported)
    return first


async def event_types(js: JetStreamContext, lead_id: str) -> list[str]:
    return [event.event_type for event in await intake_events(js, lead_id)]


async def wait_until_projected(database_url: str, lead_id: str, timeout: float = 10.0) -> None:
    """Wait for the read model to hold the lead (polling the receipt would cost a proof of
    work a poll)."""
    engine = create_engine(sync_url(database_url))

    def lead_is_in_the_read_model() -> bool:
        with engine.connect() as conn:
            found = conn.execute(select(reports.c.lead_id).where(reports.c.lead_id == lead_id))
            return found.first() is not None

    try:
        await wait_until(lead_is_in_the_read_model, timeout=timeout)
    finally:
        engine.dispose()


def lead(summary: str, village: str | None = OWN_VILLAGE, **fields: Any) -> dict[str, Any]:
    """A request body: a village-tyrant lead unless ``fields`` say otherwise."""
    body = {"category": Category.VILLAGE_TYRANT.value, "summary": summary, "village": village}
    return body | fields


def unique(summary: str) -> str:
    return f"{summary}（{uuid.uuid4().hex[:8]}）"


# --- 1. who may enter which leads ------------------------------------------------------------


async def test_a_screener_enters_leads_of_their_own_village_through_village_screening_only(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    screener = token("screener.v01")
    screening = Channel.VILLAGE_SCREENING.value

    other_village = await intake.post(
        "/v1/leads",
        json=lead(unique("邻村有人强揽工程"), OTHER_VILLAGE, channel=screening),
        headers=screener,
    )
    assert other_village.status_code == 403, other_village.text
    assert await stored_in_intake(streams) == 0

    hotline = await intake.post(
        "/v1/leads",
        json=lead(unique("电话里听说有人放高利贷"), channel=Channel.HOTLINE.value),
        headers=screener,
    )
    assert hotline.status_code == 403, hotline.text
    assert await stored_in_intake(streams) == 0

    own = await intake.post(
        "/v1/leads", json=lead(unique("本村有人强占集体鱼塘"), channel=screening), headers=screener
    )
    assert own.status_code == 201, own.text
    assert await event_types(streams, own.json()["lead_id"]) == ["LeadReported"]


async def test_police_enter_leads_from_their_incident_system_but_not_from_the_hotline(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    police = token("police")

    hotline = await intake.post(
        "/v1/leads",
        json=lead(unique("有人在电话里举报赌博"), channel=Channel.HOTLINE.value),
        headers=police,
    )
    assert hotline.status_code == 403, hotline.text
    assert await stored_in_intake(streams) == 0

    incident = await intake.post(
        "/v1/leads",
        json=lead(unique("警情：村口聚众斗殴"), channel=Channel.POLICE_INCIDENT.value),
        headers=police,
    )
    assert incident.status_code == 201, incident.text
    assert await event_types(streams, incident.json()["lead_id"]) == ["LeadReported"]


async def test_the_public_reports_without_an_account_but_staff_entry_needs_a_token(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    no_token = await intake.post(
        "/v1/leads", json=lead(unique("没有登录的录入"), channel=Channel.HOTLINE.value)
    )
    assert no_token.status_code == 401, no_token.text
    not_staff = await intake.post(
        "/v1/leads",
        json=lead(unique("审计员不录入线索"), channel=Channel.HOTLINE.value),
        headers=token("auditor"),
    )
    assert not_staff.status_code == 403, not_staff.text
    assert await stored_in_intake(streams) == 0

    public = await intake.post("/v1/reports", json=lead(unique("匿名举报村霸欺压村民")))
    assert public.status_code == 201, public.text
    assert public.json()["receipt"]
    assert await event_types(streams, public.json()["lead_id"]) == ["LeadReported"]


# --- 2. refusals a clerk can act on ----------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    body: dict[str, Any]
    field: str
    label: str
    message: str


REFUSALS = {
    "missing summary": Refusal(
        {"category": "village_tyrant", "village": OWN_VILLAGE}, "summary", "简要内容", "必须填写"
    ),
    "unknown category": Refusal(
        lead("村里有人开设赌场", category="不存在"),
        "category",
        "线索类别",
        "不是可选的值",
    ),
    "bad attachment sha256": Refusal(
        lead(
            "村里有人开设赌场",
            attachments=[{"name": "照片.jpg", "size": 1024, "sha256": "not-a-digest"}],
        ),
        "attachments.0.sha256",
        "附件校验值",
        "格式不正确",
    ),
    "malformed identity phone": Refusal(
        lead("村里有人开设赌场", identity={"name": "王五", "phone": "call me maybe"}),
        "identity.phone",
        "联系电话",
        "格式不正确",
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
async def test_a_refused_report_names_the_field_in_the_clerks_words_and_publishes_nothing(
    intake: httpx.AsyncClient, streams: JetStreamContext, refusal: Refusal
) -> None:
    accepted = await intake.post("/v1/reports", json=lead(unique("一条正常的举报线索")))
    assert accepted.status_code == 201, accepted.text
    before = await stored_in_intake(streams)

    for path, headers, body in (
        ("/v1/reports", {}, refusal.body),
        ("/v1/leads", token("clerk"), refusal.body | {"channel": Channel.HOTLINE.value}),
    ):
        refused = await intake.post(path, json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        [problem] = refused.json()["detail"]
        assert problem["field"] == refusal.field
        assert problem["label"] == refusal.label
        assert problem["message"] == refusal.label + refusal.message
        assert await stored_in_intake(streams) == before


async def test_an_unknown_village_is_refused_with_the_villages_one_may_choose(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    for path, headers, body in (
        ("/v1/reports", {}, lead(unique("村霸强占土地"), "shd-v99")),
        ("/v1/leads", token("clerk"), lead(unique("村霸强占土地"), "shd-v99", channel="hotline")),
    ):
        refused = await intake.post(path, json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        [problem] = refused.json()["detail"]
        assert problem["field"] == "village"
        assert problem["label"] == "所属村"
        assert "shd-v99" in problem["message_en"]
        assert "沙河店村" in problem["message_en"]
        assert "吴店村" in problem["message_en"]
        # The clerk reads the Chinese message: it must say which villages there are.
        assert problem["message"].startswith("所属村")
        assert "沙河店村" in problem["message"], problem
        assert "吴店村" in problem["message"], problem
        assert await stored_in_intake(streams) == 0


# --- 3. idempotent retries ---------------------------------------------------------------


async def test_a_public_report_retried_with_the_same_key_gives_the_same_lead_and_receipt(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = lead(unique("村霸垄断沙石生意"), identity={"name": "赵六", "phone": "13900000000"})

    first = await intake.post("/v1/reports", json=body, headers=key)
    assert first.status_code == 201, first.text
    lead_id = first.json()["lead_id"]
    # A 201 means JetStream holds the event already: no waiting.
    stored = await streams.get_last_msg(Stream.INTAKE, f"intake.lead.{lead_id}.LeadReported")
    assert json.loads(stored.data or b"")["lead_id"] == lead_id

    again = await intake.post("/v1/reports", json=body, headers=key)
    assert again.status_code == 201, again.text
    assert again.json()["lead_id"] == lead_id
    assert again.json()["receipt"] == first.json()["receipt"]
    assert await reports_stored(streams, lead_id) == 1

    other = await intake.post(
        "/v1/reports", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert other.status_code == 201, other.text
    assert other.json()["lead_id"] != lead_id
    assert other.json()["receipt"] != first.json()["receipt"]
    assert await reports_stored(streams) == 2


async def test_a_staff_entry_retried_with_the_same_key_gives_the_same_lead(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = lead(unique("来电反映村干部索要好处费"), channel=Channel.HOTLINE.value)
    clerk = token("clerk")

    first = await intake.post("/v1/leads", json=body, headers=clerk | key)
    assert first.status_code == 201, first.text
    lead_id = first.json()["lead_id"]
    stored = await streams.get_last_msg(Stream.INTAKE, f"intake.lead.{lead_id}.LeadReported")
    assert json.loads(stored.data or b"")["lead_id"] == lead_id

    again = await intake.post("/v1/leads", json=body, headers=clerk | key)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()

    other = await intake.post(
        "/v1/leads", json=body, headers=clerk | {"Idempotency-Key": uuid.uuid4().hex}
    )
    assert other.status_code == 201, other.text
    assert other.json()["lead_id"] != lead_id
    assert await reports_stored(streams, lead_id) == 1
    assert await reports_stored(streams) == 2


@pytest.mark.parametrize("entry", ["public report", "staff entry"])
async def test_two_concurrent_requests_with_the_same_key_make_one_lead_and_one_answer(
    intake: httpx.AsyncClient, streams: JetStreamContext, entry: str
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    if entry == "public report":
        path, headers = "/v1/reports", key
        body = lead(unique("有人威胁举报人"), identity={"name": "钱七", "phone": "13700000000"})
    else:
        path, headers = "/v1/leads", token("clerk") | key
        body = lead(unique("来访反映有人威胁村民"), channel=Channel.WALK_IN.value)

    first, second = await asyncio.gather(
        intake.post(path, json=body, headers=headers),
        intake.post(path, json=body, headers=headers),
    )

    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert first.json() == second.json()
    assert await reports_stored(streams) == 1
    assert await reports_stored(streams, first.json()["lead_id"]) == 1


async def test_a_retry_after_a_crash_between_claiming_the_key_and_publishing_reports_the_lead(
    intake: httpx.AsyncClient, streams: JetStreamContext, sqlite_url: str
) -> None:
    key = uuid.uuid4().hex
    body = lead(unique("村霸强迫村民低价转让承包地"))
    claim = public_claim(PublicReport.model_validate(body), key)
    # What a process that died after claiming the key, before publishing, leaves behind.
    database = Database(sqlite_url)
    try:
        await Claims(database.async_engine).take(
            claim, {"lead_id": claim.lead_id, "receipt": new_receipt()}
        )
        async with database.async_engine.begin() as conn:
            await conn.execute(
                update(claims)
                .where(claims.c.key_hash == claim.key_hash)
                .values(created_at=utc_now() - timedelta(minutes=2))
            )
    finally:
        await database.dispose()
    assert await reports_stored(streams) == 0

    # The client retries two minutes later with the same key.
    retried = await intake.post("/v1/reports", json=body, headers={"Idempotency-Key": key})

    assert retried.status_code == 201, retried.text
    assert retried.json()["lead_id"] == claim.lead_id
    assert await reports_stored(streams, claim.lead_id) == 1
    # The receipt given is the one the stored report answers to.
    await wait_until_projected(sqlite_url, claim.lead_id)
    followed = await intake.get(f"/v1/reports/{retried.json()['receipt']}")
    assert followed.status_code == 200, followed.text


# --- 4. the reporter's protection --------------------------------------------------------


@dataclass(frozen=True)
class PlantedIdentity:
    """An identity no other text contains, to be looked for everywhere afterwards."""

    name: str
    phone: str
    id_number: str
    address: str

    @classmethod
    def new(cls) -> PlantedIdentity:
        marker = uuid.uuid4()
        digits = f"{marker.int % 10**17:017d}"
        return cls(
            name=f"测试举报人-{marker.hex}",
            phone=f"1{digits[:10]}",
            id_number=f"9{digits}",
            address=f"测试住址{marker.hex[::-1]}号",
        )

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "phone": self.phone,
            "id_number": self.id_number,
            "address": self.address,
        }

    def found_in(self, blob: bytes) -> list[str]:
        """The planted values present in ``blob``, as UTF-8 or as JSON \\u-escapes."""
        found = []
        for value in self.as_json().values():
            forms = {
                value.encode(),
                json.dumps(value).strip('"').encode(),
            }
            if any(form in blob for form in forms):
                found.append(value)
        return found


async def everything_in_jetstream(js: JetStreamContext) -> list[tuple[str, int, bytes]]:
    """Every message of every stream on the server: its data, then its headers."""
    messages = []
    for info in await js.streams_info():
        name = info.config.name
        if not info.state.messages:
            continue
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await js.get_msg(name, sequence)
            except NotFoundError:
                continue
            headers = "".join(f"{k}: {v}\n" for k, v in (msg.headers or {}).items())
            messages.append((name, sequence, (msg.data or b"") + b"\n" + headers.encode()))
    return messages


def everything_in_the_database(database_url: str) -> bytes:
    """SQLite: the bytes of the database file and its journals. PostgreSQL: every value of
    every row of every table."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        files = [f for f in path.parent.iterdir() if f.name.startswith(path.name)]
        assert path in files
        return b"".join(f.read_bytes() for f in files)
    engine = create_engine(sync_url(database_url))
    tables = MetaData()
    try:
        tables.reflect(engine)
        with engine.connect() as conn:
            values = [
                value if isinstance(value, bytes) else str(value).encode()
                for table in tables.sorted_tables
                for row in conn.execute(select(table))
                for value in row
            ]
    finally:
        engine.dispose()
    assert values
    return b"\n".join(values)


@contextlib.contextmanager
def another_empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the same kind, for a service rebuilt from the log."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'rebuilt.db'}"
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sync_url(database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def rebuild_from_the_log(js: JetStreamContext, database_url: str) -> None:
    """Intake's read model rebuilt into ``database_url`` as `leadctl replay intake` does."""
    engine = create_engine(sync_url(database_url))
    trackers: dict[str, Tracker] = {}
    try:
        for subscription in SUBSCRIPTIONS:
            projection = subscription.projection
            tracker = trackers.setdefault(
                projection.name, Tracker(engine, projection, owner="leadctl-replay")
            )
            await replay(
                js, tracker, subscription.stream, filter_subject=subscription.filter_subject
            )
    finally:
        engine.dispose()


def wrapped_key_of(database_url: str, lead_id: str) -> tuple[bytes | None, datetime | None]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(identity_keys.c.wrapped_key, identity_keys.c.shredded_at).where(
                    identity_keys.c.lead_id == lead_id
                )
            ).one()
    finally:
        engine.dispose()
    return row.wrapped_key, row.shredded_at


async def test_a_named_reporters_identity_is_never_in_the_clear_and_once_shredded_is_gone(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    database_url: str,
    tmp_path: Path,
    keys: Keys,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    planted = PlantedIdentity.new()
    reason = {"reason": "依法核查需要联系举报人"}
    settings = intake_settings(nats_target, database_url, tmp_path, keys)

    async with running(create_app(settings)) as intake:
        reported = await intake.post(
            "/v1/reports",
            json=lead(unique("举报村霸暴力拆迁"), identity=planted.as_json()),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert reported.status_code == 201, reported.text
        lead_id, receipt = reported.json()["lead_id"], reported.json()["receipt"]
        await wait_until_projected(database_url, lead_id)

        status = await intake.get(f"/v1/reports/{receipt}")
        assert status.status_code == 200, status.text
        assert status.json()["status"] == "received"
        supplement = await intake.post(
            f"/v1/reports/{receipt}/messages", json={"text": "补充：拆迁时有人持械"}
        )
        assert supplement.status_code == 201, supplement.text

        by_clerk = await intake.post(
            f"/v1/leads/{lead_id}/identity/disclose", json=reason, headers=token("clerk")
        )
        assert by_clerk.status_code == 403, by_clerk.text
        disclosed = await intake.post(
            f"/v1/leads/{lead_id}/identity/disclose", json=reason, headers=token("custodian")
        )
        assert disclosed.status_code == 200, disclosed.text
        assert disclosed.json() == planted.as_json()
        assert planted.found_in(disclosed.content) == list(planted.as_json().values())
        assert (await event_types(streams, lead_id))[-1] == "IdentityDisclosed"

        shredded = await intake.post(
            f"/v1/leads/{lead_id}/identity/shred",
            json={"reason": "举报人要求销毁身份信息"},
            headers=token("custodian"),
        )
        assert shredded.status_code == 200, shredded.text
        assert (await event_types(streams, lead_id))[-1] == "IdentityShredded"

        after_shredding = await intake.post(
            f"/v1/leads/{lead_id}/identity/disclose", json=reason, headers=token("custodian")
        )
        assert after_shredding.status_code == 410, after_shredding.text
        shredded_twice = await intake.post(
            f"/v1/leads/{lead_id}/identity/shred",
            json={"reason": "再次销毁身份信息"},
            headers=token("admin"),
        )
        assert shredded_twice.status_code == 410, shredded_twice.text

    wrapped_key, shredded_at = wrapped_key_of(database_url, lead_id)
    assert wrapped_key is None
    assert shredded_at is not None

    # A replay: the same keys, the same log, a new empty database rebuilt from the log.
    with another_empty_database(database_url, tmp_path) as rebuilt_url:
        await rebuild_from_the_log(streams, rebuilt_url)
        rebuilt = intake_settings(nats_target, rebuilt_url, tmp_path, keys)
        async with running(create_app(rebuilt)) as intake:
            still_there = await intake.get(f"/v1/reports/{receipt}")
            assert still_there.status_code == 200, still_there.text
            replayed = await intake.post(
                f"/v1/leads/{lead_id}/identity/disclose", json=reason, headers=token("custodian")
            )
            assert replayed.status_code == 410, replayed.text
        rebuilt_database = everything_in_the_database(rebuilt_url)

    stored = await everything_in_jetstream(streams)
    assert any(lead_id.encode() in blob for _, _, blob in stored)
    for stream, sequence, blob in stored:
        assert not planted.found_in(blob), f"identity in the clear in {stream} #{sequence}"
        assert receipt.encode() not in blob, f"the receipt in the clear in {stream} #{sequence}"
    for database in (everything_in_the_database(database_url), rebuilt_database):
        assert not planted.found_in(database)
        assert receipt.encode() not in database
    logs = capfd.readouterr()
    output = logs.out + logs.err + caplog.text
    assert lead_id in output, "the service's log was not captured"
    assert not planted.found_in(output.encode())


async def test_an_intake_started_on_an_empty_database_rebuilds_its_read_model_from_the_log(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> None:
    settings = intake_settings(nats_target, sqlite_url, tmp_path, keys)
    async with running(create_app(settings)) as intake:
        reported = await intake.post("/v1/reports", json=lead(unique("村霸阻挠发放征地补偿")))
        assert reported.status_code == 201, reported.text
        lead_id = reported.json()["lead_id"]
        await wait_until_projected(sqlite_url, lead_id)

    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    async with running(create_app(intake_settings(nats_target, fresh_url, tmp_path, keys))):
        # The durable consumers acknowledged every event for the old database; the new one
        # (at position 0) gets them only if its runner starts from its own stored position.
        await wait_until_projected(fresh_url, lead_id, timeout=5.0)


# --- 5. receipts -------------------------------------------------------------------------


async def test_the_receipt_holder_follows_the_report_to_its_answer_and_adds_to_it(
    intake: httpx.AsyncClient, streams: JetStreamContext, sqlite_url: str
) -> None:
    reported = await intake.post("/v1/reports", json=lead(unique("村霸强收保护费")))
    assert reported.status_code == 201, reported.text
    lead_id, receipt = reported.json()["lead_id"], reported.json()["receipt"]
    await wait_until_projected(sqlite_url, lead_id)

    received = await intake.get(f"/v1/reports/{receipt}")
    assert received.status_code == 200, received.text
    assert received.json()["status"] == "received"
    assert received.json()["status_label"] == "已受理"
    assert received.json()["feedback"] == []

    written_down = receipt.replace("-", "").lower()
    assert (await intake.get(f"/v1/reports/{written_down}")).json() == received.json()

    added = await intake.post(
        f"/v1/reports/{receipt}/messages",
        json={"text": "补充：收费的人开一辆黑色面包车"},
    )
    assert added.status_code == 201, added.text
    [supplemented] = [
        e for e in await intake_events(streams, lead_id) if e.event_type != "LeadReported"
    ]
    assert supplemented.event_type == "LeadSupplemented"
    assert supplemented.event_id == added.json()["event_id"]
    assert supplemented.actor == Actor(role=Role.REPORTER)

    ledger = EventStore(streams, Stream.LEDGER, "ledger")
    await ledger.append(
        LeadRegistered(
            lead_id=lead_id,
            ledger_number="SHD-2026-000001",
            unit="shd-office",
            reported_at=utc_now(),
            channel=Channel.WEB,
            category=Category.VILLAGE_TYRANT,
            summary="村霸强收保护费",
            village=OWN_VILLAGE,
            actor=OFFICE,
        )
    )
    await ledger.append(FeedbackGiven(lead_id=lead_id, text="已查实并处理", actor=OFFICE))

    async def answered() -> bool:
        view = (await intake.get(f"/v1/reports/{receipt}")).json()
        return view["status"] == "answered" and [f["text"] for f in view["feedback"]] == [
            "已查实并处理"
        ]

    await wait_until(answered)
    assert (await intake.get(f"/v1/reports/{receipt}")).json()["status_label"] == "已反馈"


# --- 6. importing a village's screening ledger --------------------------------------------

HEADERS = ["线索类别", "简要内容", "详细情况", "所属村", "涉嫌村霸", "举报人姓名", "联系电话"]


def ledger_rows(tag: str) -> list[list[str]]:
    """Three good rows, then two bad ones (no 简要内容; a 线索类别 that does not exist)."""
    return [
        [
            "村霸",
            f"王某霸占村集体鱼塘{tag}",
            "多次威胁村民",
            "沙河店村",
            "是",
            "李四",
            "13800000001",
        ],
        ["治安", f"村口小卖部夜间聚众赌博{tag}", "", OWN_VILLAGE, "否", "", ""],
        ["其他", f"有人冒充村干部收取费用{tag}", "", "", "", "", ""],
        ["村霸", "", "简要内容没有填写", "沙河店村", "否", "", ""],
        ["不存在", f"类别填错的一条线索{tag}", "", "沙河店村", "否", "", ""],
    ]


def as_csv(rows: list[list[str]], encoding: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADERS, *rows])
    return buffer.getvalue().encode(encoding)


def as_xlsx(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [HEADERS, *rows]:
        sheet.append([cell or None for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


Encoder = Callable[[list[list[str]]], bytes]
LEDGER_FILES: dict[str, tuple[str, Encoder]] = {
    "utf-8 csv": ("摸排台账.csv", lambda rows: as_csv(rows, "utf-8")),
    "gb18030 csv": ("摸排台账.csv", lambda rows: as_csv(rows, "gb18030")),
    "xlsx": ("摸排台账.xlsx", as_xlsx),
}


async def import_ledger(
    intake: httpx.AsyncClient, filename: str, content: bytes, user: str = "screener.v01"
) -> httpx.Response:
    return await intake.post(
        "/v1/leads/import", files={"file": (filename, content)}, headers=token(user)
    )


@pytest.mark.parametrize("ledger_file", LEDGER_FILES.values(), ids=LEDGER_FILES.keys())
async def test_a_screening_ledger_is_imported_row_by_row_and_only_once(
    intake: httpx.AsyncClient, streams: JetStreamContext, ledger_file: tuple[str, Encoder]
) -> None:
    filename, encode = ledger_file
    content = encode(ledger_rows(uuid.uuid4().hex[:8]))

    imported = await import_ledger(intake, filename, content)

    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["accepted"], result["rejected"], result["already_imported"]) == (3, 2, 0)
    rows = {row["row"]: row for row in result["rows"]}
    assert sorted(rows) == [2, 3, 4, 5, 6]
    for number in (2, 3, 4):
        assert rows[number]["accepted"], rows[number]
        assert await event_types(streams, rows[number]["lead_id"]) == ["LeadReported"]
    for number, field, label in ((5, "summary", "简要内容"), (6, "category", "线索类别")):
        assert not rows[number]["accepted"]
        [error] = rows[number]["errors"]
        assert (error["field"], error["label"]) == (field, label), error
        assert error["message"].startswith(label)
    named_row = await report_of(streams, rows[2]["lead_id"])
    assert named_row.channel is Channel.VILLAGE_SCREENING
    assert named_row.village == OWN_VILLAGE
    assert named_row.reporter.kind is ReporterKind.NAMED
    assert named_row.flags == (Flag.VILLAGE_TYRANT,)
    # A row without 所属村 is of the screener's own village.
    assert (await report_of(streams, rows[4]["lead_id"])).village == OWN_VILLAGE
    assert await reports_stored(streams) == 3

    again = await import_ledger(intake, filename, content)

    assert again.status_code == 200, again.text
    result = again.json()
    assert (result["accepted"], result["rejected"], result["already_imported"]) == (0, 2, 3)
    assert [r["lead_id"] for r in result["rows"] if r["already_imported"]] == [
        rows[n]["lead_id"] for n in (2, 3, 4)
    ]
    assert await reports_stored(streams) == 3


async def test_a_ledger_with_an_unknown_column_is_refused_as_a_whole(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    buffer = io.StringIO()
    good_row = ledger_rows(uuid.uuid4().hex[:8])[0]
    csv.writer(buffer).writerows([[*HEADERS, "备注"], [*good_row, "无"]])

    refused = await import_ledger(intake, "摸排台账.csv", buffer.getvalue().encode())

    assert refused.status_code == 422, refused.text
    assert "备注" in str(refused.json()["detail"])
    assert await stored_in_intake(streams) == 0


async def test_a_screeners_rows_for_another_village_are_refused_row_by_row(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    tag = uuid.uuid4().hex[:8]
    content = as_csv(
        [
            ["村霸", f"邻村有人强揽工程{tag}", "", "前营村", "否", "", ""],
            ["村霸", f"本村有人强揽工程{tag}", "", "沙河店村", "否", "", ""],
        ],
        "utf-8",
    )

    imported = await import_ledger(intake, "摸排台账.csv", content)

    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["accepted"], result["rejected"]) == (1, 1)
    other, own = result["rows"]
    assert not other["accepted"]
    assert [e["field"] for e in other["errors"]] == ["village"]
    assert own["accepted"]
    assert await reports_stored(streams) == 1


# --- 7. reports of the same matter -------------------------------------------------------


async def test_reports_of_the_same_matter_through_different_channels_are_linked(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    village = "shd-v03"
    first = await intake.post(
        "/v1/reports", json=lead("村霸张某强占村集体鱼塘，还殴打前去理论的村民", village)
    )
    unrelated = await intake.post(
        "/v1/reports", json=lead("村东头小卖部老板长期放高利贷，逼债上门", village)
    )
    second = await intake.post(
        "/v1/leads",
        json=lead(
            "村霸张某强占了村集体鱼塘，殴打前去理论的村民。",
            village,
            channel=Channel.HOTLINE.value,
        ),
        headers=token("clerk"),
    )
    for response in (first, unrelated, second):
        assert response.status_code == 201, response.text
    first_id, unrelated_id, second_id = (r.json()["lead_id"] for r in (first, unrelated, second))

    async def linked() -> bool:
        return "DuplicateSuspected" in await event_types(streams, second_id)

    await wait_until(linked)
    [link] = [
        e for e in await intake_events(streams, second_id) if isinstance(e, DuplicateSuspected)
    ]
    assert link.duplicate_of == first_id
    # The detector takes reports in stream order, so the unrelated one (between the two)
    # has been compared already: it stays unlinked, and so does the first.
    assert await event_types(streams, unrelated_id) == ["LeadReported"]
    assert await event_types(streams, first_id) == ["LeadReported"]


# --- 8. stopping -------------------------------------------------------------------------


async def test_intake_stops_even_when_a_delivery_arrives_as_it_stops(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    sqlite_url: str,
    tmp_path: Path,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pullers: list[Puller] = []
    start_puller = Puller.start

    async def recorded(puller: Puller) -> None:
        pullers.append(puller)
        await start_puller(puller)

    monkeypatch.setattr(Puller, "start", recorded)
    app = create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))
    async with running(app) as intake:
        reported = await intake.post("/v1/reports", json=lead(unique("村霸强行摊派费用")))
        assert reported.status_code == 201, reported.text
        [runner] = [r for r in app.state.runtime.runners if r.stream is Stream.INTAKE]
        await wait_until(runner.caught_up.is_set)
        [puller] = [p for p in pullers if p._subject.endswith(f".{runner.durable}")]

        # A delivery (or the server's "request expired" status) wakes the idle runner in
        # the same turn of the event loop as the service's shutdown cancels it.
        puller._arrived.set()
        stopping = asyncio.ensure_future(runner.stop())
        stopped, _ = await asyncio.wait({stopping}, timeout=2.0)
        if not stopped:
            cancel_swallowed_cancellations()
        await stopping

    assert stopped, (
        "the projection runner ignored its cancellation (as Python 3.11's asyncio.wait_for "
        "does when the wait it cancels is woken in the same turn)"
    )


# --- retention -------------------------------------------------------------------------------


async def test_an_identity_is_shredded_by_itself_once_its_lead_has_been_archived_long_enough(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> None:
    app = create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))
    async with running(app) as intake:
        old, recent = [
            (
                await intake.post(
                    "/v1/reports", json=lead(unique(summary), identity={"name": "保留期测试"})
                )
            ).json()["lead_id"]
            for summary in ("村霸多年前强占耕地", "村霸近来强收保护费")
        ]
        ledger = EventStore(streams, Stream.LEDGER, "ledger")
        office = Actor(role=Role.OFFICE, unit="shd-office", user="office")
        long_ago = utc_now() - timedelta(days=6 * 365)
        await ledger.append(LeadArchived(lead_id=old, occurred_at=long_ago, actor=office))
        await ledger.append(LeadArchived(lead_id=recent, actor=office))
        engine = create_engine(sync_url(sqlite_url))

        def both_archived() -> bool:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(reports.c.lead_id).where(reports.c.archived_at.is_not(None))
                )
                return {r.lead_id for r in rows} == {old, recent}

        await wait_until(both_archived)
        engine.dispose()

        await app.state.intake.apply_retention()
        await app.state.intake.apply_retention()  # once is enough; twice changes nothing

        assert (await event_types(streams, old)).count("IdentityShredded") == 1
        assert "IdentityShredded" not in await event_types(streams, recent)
        assert wrapped_key_of(sqlite_url, old)[0] is None
        assert wrapped_key_of(sqlite_url, recent)[0] is not None
        refused = await intake.post(
            f"/v1/leads/{old}/identity/disclose",
            json={"reason": "核实举报人身份"},
            headers=token("custodian"),
        )
        assert refused.status_code == 410
