"""Intake against a real JetStream server and real databases: who may enter which leads,
refusals a clerk can act on, idempotent retries, the reporter's protection, receipts, the
import of a village's screening ledger, and the linking of reports of the same matter."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from openpyxl import Workbook
from sqlalchemy import create_engine, select, update

from common.database import Database, sync_url
from common.events import Actor, Role, utc_now
from common.events.catalogue import (
    DuplicateSuspected,
    FeedbackGiven,
    LeadArchived,
    LeadRegistered,
    ReporterKind,
)
from common.eventstore import EventStore
from common.pull import Puller
from common.subjects import Stream
from common.vocabulary import Category, Channel, Flag
from intake.application import public_claim
from intake.bootstrap import create_app
from intake.idempotency import Claims, claims
from intake.projection.tables import reports
from intake.receipts import new_receipt
from intake.schemas import PublicReport
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import token
from tests.support.intake import (
    OTHER_VILLAGE,
    OWN_VILLAGE,
    Keys,
    PlantedIdentity,
    another_empty_database,
    cancel_swallowed_cancellations,
    event_types,
    everything_in_jetstream,
    everything_in_the_database,
    intake_events,
    intake_settings,
    lead,
    rebuild_from_the_log,
    report_of,
    reports_stored,
    running,
    stored_in_intake,
    unique,
    wait_until_projected,
    wrapped_key_of,
)

pytestmark = pytest.mark.integration

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")


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
    claim = public_claim(PublicReport.model_validate(body).content(), key)
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
            for_committee=False,
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
