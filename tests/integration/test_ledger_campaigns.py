"""Campaigns (自查自纠, 回头看): the office opens a self-inspection with a checklist of three
items asked of three units; every unit's own people answer it; two open answers become
rectification items on the 整改台账 with source self_check; the report shows each unit's
answers and what came of them (XLSX and the printable page). A look-back draws concluded
leads reproducibly and records a finding. Wrong units and roles are refused, hostile and
oversized input is refused naming the field."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from openpyxl import load_workbook
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from common.database import sync_url
from common.events import Actor, Role, utc_now
from common.events.campaigns import MOST_ITEMS, ItemAnswer
from common.events.catalogue import LedgerExported
from common.eventstore import EventStore
from common.subjects import Stream
from common.times import CHINA
from leadctl.cli import app as leadctl
from ledger.domain import campaign as rules
from ledger.projection import campaigns as campaign_tables
from tests.conftest import NatsTarget, wait_until

# The ledger of the demo county of two towns, with its people (the rectification ledger's).
from tests.integration.test_ledger_tasks_county import county as town_and_county  # noqa: F401
from tests.support.accounts import open_account
from tests.support.apps import token
from tests.support.ledger import (
    LedgerService,
    act,
    assigned_by_police,
    desk_settings,
    handed_to_police,
    in_days,
    moved_to,
    report_and_file,
    serving_ledger,
    signed_in_on_page,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

CAMPAIGNS = "/v1/ledger/campaigns"
UNITS = ["shd-police", "shd-judicial", "shd-v01"]
CHECKLIST = ["线索台账是否健全、归宗建档", "线索是否件件有着落、条条有回音", "是否按时向举报人反馈"]
SHA = "ab" * 32
# Who answers for each unit asked: a person of that unit.
ANSWERER = {"shd-police": "police", "shd-judicial": "judicial", "shd-v01": "screener.v01"}
HEADERS_ZH = [
    "单位",
    "序号",
    "检查事项",
    "自查结果",
    "情况说明",
    "佐证材料",
    "填报时间",
    "是否逾期",
    "整改事项编号",
    "整改状态",
]


def this_month() -> dict[str, str]:
    today = utc_now().astimezone(CHINA).date()
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}


async def opened(http: httpx.AsyncClient, user: str = "office", **body: Any) -> httpx.Response:
    chosen = {
        "campaign_kind": "self_check",
        "title": "2026年扫黑除恶专项斗争自查自纠",
        **this_month(),
        "checklist": CHECKLIST,
        "units": UNITS,
        "deadline": in_days(7).isoformat(),
        **body,
    }
    return await http.post(CAMPAIGNS, json=chosen, headers=token(user))


async def posted(
    http: httpx.AsyncClient, campaign_id: str, what: str, user: str, **body: Any
) -> httpx.Response:
    return await http.post(f"{CAMPAIGNS}/{campaign_id}/{what}", json=body, headers=token(user))


def answers(*kinds: str, remark: str = "尚有两条线索未建档，正在补录", **extra: Any) -> list[Any]:
    return [
        {"item": n, "answer": k, **({"remark": remark} if k != "done" else {}), **extra}
        for n, k in enumerate(kinds, start=1)
    ]


def refused_for(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    problems = response.json()["detail"]
    assert field in [p["field"] for p in problems], problems
    found: dict[str, Any] = next(p for p in problems if p["field"] == field)
    return found


async def listed_ids(http: httpx.AsyncClient, user: str) -> list[str]:
    response = await http.get(CAMPAIGNS, headers=token(user))
    assert response.status_code == 200, response.text
    return [c["campaign_id"] for c in response.json()]


def rectify(unit: str, item: int, assignee: str, name: str) -> dict[str, Any]:
    return {
        "unit": unit,
        "item": item,
        "measures": ["逐条补录台账", "每周向扫黑办报告进度"],
        "assignee": assignee,
        "assignee_name": name,
        "deadline": in_days(30).isoformat(),
    }


async def self_check_answered(http: httpx.AsyncClient) -> str:
    """A self-inspection every unit answered: the police item 2 not done, the village item 3
    partly, everything else done."""
    response = await opened(http)
    assert response.status_code == 201, response.text
    campaign_id: str = response.json()["campaign_id"]
    given = {
        "shd-police": answers(
            "done", "not", "done", evidence=[{"name": "台账.xlsx", "size": 2048, "sha256": SHA}]
        ),
        "shd-judicial": answers("done", "done", "done"),
        "shd-v01": answers("done", "done", "partly", remark="两户未回访"),
    }
    for unit, unit_answers in given.items():
        done = await posted(
            http, campaign_id, "answers", ANSWERER[unit], unit=unit, answers=unit_answers
        )
        assert done.status_code == 200, done.text
    return campaign_id


async def test_a_self_check_collects_every_units_answers_and_turns_two_into_rectification_items(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    campaign_id = await self_check_answered(http)

    shown = await http.get(f"{CAMPAIGNS}/{campaign_id}", headers=token("office"))
    assert shown.status_code == 200, shown.text
    campaign = shown.json()
    assert (campaign["unit_count"], campaign["answered_count"]) == (3, 3)
    assert campaign["kind_label"] == "自查自纠"
    by_unit = {u["unit"]: u for u in campaign["units"]}
    assert [a["answer"] for a in by_unit["shd-police"]["answers"]] == ["done", "not", "done"]
    assert by_unit["shd-police"]["answers"][1]["answer_label"] == "未完成"
    assert by_unit["shd-police"]["answers"][0]["evidence"][0]["sha256"] == SHA
    assert by_unit["shd-v01"]["answers"][2]["remark"] == "两户未回访"
    # A unit's people see their own unit's answers only.
    own = (await http.get(f"{CAMPAIGNS}/{campaign_id}", headers=token("police"))).json()
    assert [u["unit"] for u in own["units"]] == ["shd-police"]

    # A done answer has nothing to rectify; only the office turns answers into items.
    done_one = await posted(
        http,
        campaign_id,
        "tasks",
        "office",
        rectify=[rectify("shd-judicial", 1, "judicial", "司法所")],
    )
    refused_for(done_one, 422, "item")
    chosen = [
        rectify("shd-police", 2, "wang.police", "王警官"),
        rectify("shd-v01", 3, "screener.v01", "一村摸排员"),
    ]
    assert (await posted(http, campaign_id, "tasks", "police", rectify=chosen)).status_code == 403
    turned = await posted(http, campaign_id, "tasks", "office", rectify=chosen)
    assert turned.status_code == 200, turned.text
    after = turned.json()
    assert after["turned_count"] == 2
    police_item = next(u for u in after["units"] if u["unit"] == "shd-police")["answers"][1]
    assert police_item["task_id"]
    # The same answer twice is refused: one item each.
    again = await posted(http, campaign_id, "tasks", "office", rectify=chosen[:1])
    refused_for(again, 422, "rectify")

    # The two items are on the 整改台账, from the self-inspection, under the campaign.
    async def on_the_rectification_ledger() -> bool:
        page = await http.get(
            "/v1/ledger/tasks", params={"source": "self_check"}, headers=token("office")
        )
        items = page.json()["items"]
        return sorted((i["unit"], i["list_id"]) for i in items) == [
            ("shd-police", campaign_id),
            ("shd-v01", campaign_id),
        ]

    await wait_until(on_the_rectification_ledger, timeout=15)
    mine = await http.get("/v1/ledger/tasks", headers=token("police"))
    [police_task] = mine.json()["items"]
    assert police_task["source_label"] == "自查自纠"
    assert "线索是否件件有着落" in police_task["problem"]
    assert police_task["task_id"] == police_item["task_id"]

    # The report: the headers, a row for every unit and item, what came of the open ones.
    async def task_states_known() -> bool:
        got = (await http.get(f"{CAMPAIGNS}/{campaign_id}", headers=token("office"))).json()
        return all(
            a["task_status"] == "open"
            for u in got["units"]
            for a in u["answers"]
            if a["task_id"] is not None
        )

    await wait_until(task_states_known, timeout=15)
    xlsx = await http.get(f"{CAMPAIGNS}/{campaign_id}/report.xlsx", headers=token("office"))
    assert xlsx.status_code == 200, xlsx.text
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = [[c if c is not None else "" for c in r] for r in sheet.iter_rows(values_only=True)]
    assert sheet.title == "自查情况"
    assert rows[0] == HEADERS_ZH
    assert len(rows) == 1 + 3 * 3
    police_row = next(r for r in rows if r[0] == "沙河店派出所" and r[1] == "2")
    assert police_row[3:5] == ["未完成", "尚有两条线索未建档，正在补录"]
    assert police_row[7:] == ["", police_item["task_id"], "整改中"]
    assert "台账.xlsx" in next(r for r in rows if r[0] == "沙河店派出所" and r[1] == "1")[5]
    judicial_rows = [r for r in rows if r[0] == "沙河店司法所"]
    assert [r[3] for r in judicial_rows] == ["已完成"] * 3
    assert all(r[7:9] == ["", ""] for r in judicial_rows)
    english = await http.get(
        f"{CAMPAIGNS}/{campaign_id}/report.xlsx", params={"lang": "en"}, headers=token("auditor")
    )
    assert load_workbook(io.BytesIO(english.content)).active["A1"].value == "Unit"
    exports = await events_on(js, Stream.AUDIT, "audit.ledger.>")
    assert any(
        isinstance(e, LedgerExported) and e.filters.get("campaign") == campaign_id for e in exports
    )

    closed = await posted(http, campaign_id, "close", "office", closing_remark="自查工作结束")
    assert closed.json()["closed"] is True
    late = await posted(
        http, campaign_id, "answers", "judicial", unit="shd-judicial", answers=answers("done") * 3
    )
    assert late.status_code == 409, late.text

    stored = await events_on(js, Stream.LEDGER, f"ledger.campaign.{campaign_id}.>")
    assert [e.event_type for e in stored] == [
        "CampaignOpened",
        "UnitAnswered",
        "UnitAnswered",
        "UnitAnswered",
        "ItemsTurnedIntoTasks",
        "CampaignClosed",
    ]


async def test_wrong_units_and_roles_are_refused_and_a_campaign_not_asked_of_a_unit_is_hidden(
    service: LedgerService,
) -> None:
    http = service.http
    response = await opened(http)
    campaign_id = response.json()["campaign_id"]
    assert (await opened(http, user="police")).status_code == 403
    assert (await opened(http, user="screener.v01")).status_code == 403

    # Not asked: the campaign does not exist for the unit (every operation), nor in its list.
    for user in ("screener.v02",):
        seen = await http.get(f"{CAMPAIGNS}/{campaign_id}", headers=token(user))
        assert seen.status_code == 404, seen.text
        sent = await posted(
            http, campaign_id, "answers", user, unit="shd-v02", answers=answers("done") * 3
        )
        assert sent.status_code == 404, sent.text
    assert (await http.get(f"{CAMPAIGNS}/{'0' * 32}", headers=token("office"))).status_code == 404

    async def listed_for_the_office() -> bool:
        return campaign_id in await listed_ids(http, "office")

    await wait_until(listed_for_the_office, timeout=15)
    assert campaign_id in await listed_ids(http, "police")
    assert campaign_id not in await listed_ids(http, "screener.v02")

    # Asked, but not for another unit, and not the office for a unit.
    full = answers("done", "done", "done")
    for user, unit in (
        ("police", "shd-judicial"),
        ("office", "shd-police"),
        ("judicial", "shd-v02"),
    ):
        wrong = await posted(http, campaign_id, "answers", user, unit=unit, answers=full)
        assert wrong.status_code == 403, (user, unit, wrong.text)
    # A unit's people do not get the whole report.
    report = await http.get(f"{CAMPAIGNS}/{campaign_id}/report.xlsx", headers=token("police"))
    assert report.status_code == 403, report.text
    hidden = await http.get(f"{CAMPAIGNS}/{campaign_id}/report.xlsx", headers=token("screener.v02"))
    assert hidden.status_code == 404, hidden.text
    # Nothing was recorded by the refusals.
    stored = await events_on(service.js, Stream.LEDGER, f"ledger.campaign.{campaign_id}.>")
    assert [e.event_type for e in stored] == ["CampaignOpened"]


async def test_hostile_and_oversized_input_is_refused_naming_the_field(
    service: LedgerService,
) -> None:
    http = service.http
    refused_for(await opened(http, title="题" * 101), 422, "title")
    refused_for(await opened(http, title="自查\n<script>"), 422, "title")
    refused_for(await opened(http, checklist=["事项"] * (MOST_ITEMS + 1)), 422, "checklist")
    refused_for(await opened(http, checklist=["长" * 501]), 422, "checklist.0")
    refused_for(await opened(http, checklist=[]), 422, "checklist")
    refused_for(await opened(http, units=["shd-nowhere"]), 422, "units")
    refused_for(await opened(http, units=["../etc"]), 422, "units.0")
    refused_for(await opened(http, units=["shd-police", "shd-police"]), 422, "units")
    refused_for(await opened(http, deadline=in_days(-1).isoformat()), 422, "deadline")
    refused_for(await opened(http, campaign_kind="purge"), 422, "campaign_kind")
    refused_for(await opened(http, owner="me"), 422, "owner")
    huge = await http.post(
        CAMPAIGNS, content=b'{"title": "' + b"x" * 3_000_000 + b'"}', headers=token("office")
    )
    assert huge.status_code == 413, huge.text

    campaign_id = (await opened(http)).json()["campaign_id"]

    async def answering(**body: Any) -> httpx.Response:
        return await posted(http, campaign_id, "answers", "police", unit="shd-police", **body)

    refused_for(await answering(answers=answers("done", "done")), 422, "answers")
    refused_for(
        await answering(answers=answers("done", "not", "done", remark="")), 422, "answers.1.remark"
    )
    refused_for(await answering(answers=answers("done", "maybe", "done")), 422, "answers.1.answer")
    refused_for(
        await answering(answers=answers("not", "done", "done", remark="x\x00y")),
        422,
        "answers.0.remark",
    )
    refused_for(
        await answering(answers=answers("not", "done", "done", remark="长" * 2001)),
        422,
        "answers.0.remark",
    )
    bad_file = [{"name": "a", "size": 1, "sha256": "not-a-hash"}]
    refused_for(
        await answering(answers=answers("done", "done", "done", evidence=bad_file)),
        422,
        "answers.0.evidence.0.sha256",
    )
    assert (await http.get(f"{CAMPAIGNS}/x.y", headers=token("office"))).status_code in (404, 422)
    refused_for(await posted(http, campaign_id, "sample", "office", size=5), 422, "campaign_kind")
    refused_for(await posted(http, campaign_id, "sample", "office", size=0), 422, "size")
    refused_for(await posted(http, campaign_id, "sample", "office", size=5, seed=-1), 422, "seed")

    # A remark that a spreadsheet would run as a formula arrives in the report as text.
    formula = '=HYPERLINK("http://evil","点我")'
    ok = await answering(answers=answers("not", "done", "done", remark=formula))
    assert ok.status_code == 200, ok.text
    sheet = load_workbook(
        io.BytesIO(
            (
                await http.get(f"{CAMPAIGNS}/{campaign_id}/report.xlsx", headers=token("office"))
            ).content
        )
    ).active
    assert sheet is not None
    assert sheet["E2"].value == "'" + formula


async def concluded_by_police(service: LedgerService) -> str:
    lead_id: str = (await report_and_file(service))["lead_id"]
    await handed_to_police(service.http, lead_id)
    await assigned_by_police(service.http, lead_id)
    moved_to(
        await act(
            service.http, lead_id, "conclude", "police", result="unsubstantiated", summary="不属实"
        ),
        "concluded",
    )
    return lead_id


async def test_a_look_back_samples_concluded_leads_reproducibly_and_records_a_finding(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    concluded = {await concluded_by_police(service) for _ in range(4)}
    await report_and_file(service)  # filed, not concluded: never drawn

    async def look_back() -> str:
        response = await opened(
            http, campaign_kind="look_back", title="回头看：已办结线索复查", checklist=[], units=[]
        )
        assert response.status_code == 201, response.text
        found: str = response.json()["campaign_id"]
        return found

    first, second = await look_back(), await look_back()
    # The police are not asked: a look-back of the office is not theirs to see.
    assert (await http.get(f"{CAMPAIGNS}/{first}", headers=token("police"))).status_code == 404
    assert (await posted(http, first, "sample", "police", size=2, seed=7)).status_code == 404

    drawn = await posted(http, first, "sample", "office", size=2, seed=20261201)
    assert drawn.status_code == 200, drawn.text
    sample = drawn.json()["sample"]
    assert (sample["seed"], sample["size"], sample["population"]) == (20261201, 2, 4)
    assert len(sample["lead_ids"]) == 2
    assert set(sample["lead_ids"]) <= concluded
    # The same seed over the same concluded leads draws the same leads.
    again = (await posted(http, second, "sample", "office", size=2, seed=20261201)).json()
    assert again["sample"]["lead_ids"] == sample["lead_ids"]
    # Drawn once.
    twice = await posted(http, first, "sample", "office", size=2, seed=1)
    assert twice.status_code == 409, twice.text
    # Without a seed one is chosen, and recorded.
    unseeded = (await look_back(),)[0]
    chosen = (await posted(http, unseeded, "sample", "office", size=4)).json()["sample"]
    assert set(chosen["lead_ids"]) == concluded
    stored = await events_on(js, Stream.LEDGER, f"ledger.campaign.{unseeded}.LeadsSampledForReview")
    assert stored[0].seed == chosen["seed"]  # type: ignore[attr-defined]

    [kept, wrong] = sample["lead_ids"]
    not_drawn = next(iter(concluded - set(sample["lead_ids"])))
    refused_for(
        await posted(
            http, first, "findings", "office", lead_id=not_drawn, finding="x", decision_stands=True
        ),
        422,
        "lead_id",
    )
    for lead_id, stands, finding in (
        (kept, True, "处理得当"),
        (wrong, False, "定性不准，应重新核查"),
    ):
        recorded = await posted(
            http,
            first,
            "findings",
            "office",
            lead_id=lead_id,
            finding=finding,
            decision_stands=stands,
        )
        assert recorded.status_code == 200, recorded.text
    assert (
        await posted(
            http, first, "findings", "police", lead_id=kept, finding="x", decision_stands=True
        )
    ).status_code == 404
    reviews = {r["lead_id"]: r for r in recorded.json()["reviews"]}
    assert (reviews[kept]["decision_stands"], reviews[wrong]["decision_stands"]) == (True, False)

    # A decision that stands has nothing to rectify; one that does not becomes an item.
    pick = {**rectify("shd-police", 1, "wang.police", "王警官"), "item": None}
    stands_pick = await posted(http, first, "tasks", "office", rectify=[{**pick, "lead_id": kept}])
    refused_for(stands_pick, 422, "lead_id")
    turned = await posted(http, first, "tasks", "office", rectify=[{**pick, "lead_id": wrong}])
    assert turned.status_code == 200, turned.text
    task_id = next(r for r in turned.json()["reviews"] if r["lead_id"] == wrong)["task_id"]

    async def on_the_rectification_ledger() -> bool:
        page = await http.get(
            "/v1/ledger/tasks", params={"source": "look_back"}, headers=token("office")
        )
        return [i["task_id"] for i in page.json()["items"]] == [task_id]

    await wait_until(on_the_rectification_ledger, timeout=15)

    xlsx = await http.get(f"{CAMPAIGNS}/{first}/report.xlsx", headers=token("office"))
    book = load_workbook(io.BytesIO(xlsx.content))
    review = book["回头看抽查"]
    rows = [list(r) for r in review.iter_rows(values_only=True)]
    assert rows[0] == [
        "台账编号",
        "线索标识",
        "复查结论",
        "原处理是否维持",
        "整改事项编号",
        "整改状态",
    ]
    assert {r[1]: r[3] for r in rows[1:]} == {kept: "维持", wrong: "不维持"}
    numbers = {r["lead_id"]: r["ledger_number"] for r in recorded.json()["reviews"]}
    assert {r[1]: r[0] for r in rows[1:]} == numbers
    assert all(n.startswith("SHD-") for n in numbers.values()), numbers
    assert next(r for r in rows[1:] if r[1] == wrong)[4] == task_id


@pytest.fixture
async def desk(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    """The ledger taking people's sessions, for its pages."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    async with serving_ledger(streams, desk_settings(nats_target, url, tmp_path)) as running:
        yield running


async def test_the_printable_report_shows_each_units_answers_to_the_office_alone(
    desk: LedgerService,
) -> None:
    campaign_id = await self_check_answered(desk.http)
    password = "沙河店镇自查自纠的密码"
    pages: dict[str, httpx.AsyncClient] = {}
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=desk.app), base_url="http://service"
        ) as office,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=desk.app), base_url="http://service"
        ) as police,
    ):
        pages = {"office.desk": office, "police.desk": police}
        for user, role, unit in (
            ("office.desk", Role.OFFICE, "shd-office"),
            ("police.desk", Role.POLICE, "shd-police"),
        ):
            await open_account(desk.js, user, role, unit, password)
            await signed_in_on_page(pages[user], user, password)

        page = await office.get(f"/desk/campaigns/{campaign_id}/report")
        assert page.status_code == 200, page.text
        html = page.text
        assert "2026年扫黑除恶专项斗争自查自纠情况表" in html
        for header in HEADERS_ZH:
            assert f'<th scope="col">{header}</th>' in html
        assert html.count("<td>沙河店派出所</td>") == 3
        assert "尚有两条线索未建档，正在补录" in html
        assert "两户未回访" in html
        english = await office.get(f"/desk/campaigns/{campaign_id}/report", params={"lang": "en"})
        assert "Checklist item" in english.text

        refused = await police.get(f"/desk/campaigns/{campaign_id}/report")
        assert refused.status_code == 403, refused.text
        missing = await office.get(f"/desk/campaigns/{'0' * 32}/report")
        assert missing.status_code == 404, missing.text


async def test_in_a_county_a_towns_campaign_asks_its_own_units_and_is_its_own(
    town_and_county: LedgerService,  # noqa: F811 - the fixture imported above
) -> None:
    http = town_and_county.http
    across = await opened(http, "shd.office", units=["shd-police", "zxl-police"])
    refused_for(across, 422, "units")
    shd = await opened(http, "shd.office", units=["shd-police"])
    assert shd.status_code == 201, shd.text
    campaign_id = shd.json()["campaign_id"]
    # The county's office asks any town's units.
    whole_county = await opened(http, "county.office", units=["shd-police", "zxl-police"])
    assert whole_county.status_code == 201, whole_county.text
    county_id = whole_county.json()["campaign_id"]

    async def listed_for_the_county() -> bool:
        return {campaign_id, county_id} <= set(await listed_ids(http, "county.office"))

    await wait_until(listed_for_the_county, timeout=15)
    assert set(await listed_ids(http, "shd.office")) == {campaign_id}
    assert set(await listed_ids(http, "zxl.office")) == set()
    assert set(await listed_ids(http, "zhao.police")) == {county_id}
    # The other town's office finds no such campaign, to read, report or close.
    for what in ("", "/report.xlsx"):
        seen = await http.get(f"{CAMPAIGNS}/{campaign_id}{what}", headers=token("zxl.office"))
        assert seen.status_code == 404, seen.text
    closing = await posted(http, campaign_id, "close", "zxl.office")
    assert closing.status_code == 404, closing.text
    # A town's office asked in the county's campaign is not its office: 403 on its acts.
    shown = await http.get(f"{CAMPAIGNS}/{county_id}", headers=token("zhao.police"))
    assert [u["unit"] for u in shown.json()["units"]] == ["zxl-police"]
    assert (await posted(http, county_id, "close", "shd.office")).status_code == 404
    assert (await posted(http, county_id, "close", "county.office")).status_code == 200


def campaign_rows(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the campaigns' read model, by table."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted(tuple(row) for row in conn.execute(select(table)))
                for table in campaign_tables.metadata.sorted_tables
            }
    finally:
        engine.dispose()


async def test_the_campaigns_read_model_is_rebuilt_by_replay_as_the_live_one_built_it(
    service: LedgerService, nats_target: NatsTarget, tmp_path: Path
) -> None:
    http = service.http
    campaign_id = await self_check_answered(http)
    turned = await posted(
        http,
        campaign_id,
        "tasks",
        "office",
        rectify=[rectify("shd-police", 2, "wang.police", "王警官")],
    )
    assert turned.status_code == 200, turned.text
    assert (await posted(http, campaign_id, "close", "office")).status_code == 200

    async def applied() -> bool:
        [listed] = (await http.get(CAMPAIGNS, headers=token("office"))).json()
        return (listed["answered_count"], listed["turned_count"], listed["closed"]) == (3, 1, True)

    await wait_until(applied, timeout=15)
    rebuilt = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    replay = await asyncio.to_thread(
        CliRunner().invoke,
        leadctl,
        ["--nats-url", nats_target.url, "--user", "", "replay", "ledger", "--db", rebuilt],
    )
    assert replay.exit_code == 0, replay.output
    live = campaign_rows(service.settings.database_url)
    assert len(live["ledger_campaigns"]) == 1
    assert len(live["ledger_campaign_units"]) == 3
    assert campaign_rows(rebuilt) == live


async def test_an_answer_after_the_deadline_is_taken_and_marked_late_in_the_report(
    desk: LedgerService,
) -> None:
    # A campaign opened two days ago whose deadline passed an hour ago, the judicial office
    # having answered before it: written as the log holds them, no clock waited on.
    http, now = desk.http, utc_now()
    opened_at, deadline = now - timedelta(days=2), now - timedelta(hours=1)
    office = Actor(role=Role.OFFICE, unit="shd-office", user="office")
    judicial = Actor(role=Role.JUDICIAL, unit="shd-judicial", user="judicial")
    today = now.astimezone(CHINA).date()
    campaign = rules.open_campaign(
        uuid.uuid4().hex,
        "self_check",
        "2026年扫黑除恶专项斗争自查自纠",
        (today - timedelta(days=3), today),
        CHECKLIST,
        ("shd-police", "shd-judicial"),
        deadline,
        office,
        opened_at,
        "shd",
    ).model_copy(update={"occurred_at": opened_at})
    in_time = rules.answer(
        rules.fold([campaign]),
        "shd-judicial",
        [ItemAnswer(item=n, answer="done") for n in range(1, len(CHECKLIST) + 1)],
        judicial,
    ).model_copy(update={"occurred_at": deadline - timedelta(hours=1)})
    log = EventStore(desk.js, Stream.LEDGER, "ledger")
    await log.append(campaign, expected_sequence=0)
    await log.append(in_time)
    campaign_id = campaign.campaign_id

    # Past the deadline the police's answer is taken, not refused.
    late = await posted(
        http,
        campaign_id,
        "answers",
        "police",
        unit="shd-police",
        answers=answers("done", "done", "done"),
    )
    assert late.status_code == 200, late.text
    assert [u["answered_late"] for u in late.json()["units"]] == [True]  # the police's own
    read = await http.get(f"{CAMPAIGNS}/{campaign_id}", headers=token("office"))
    shown = {u["unit"]: u for u in read.json()["units"]}
    assert (shown["shd-police"]["answered"], shown["shd-police"]["answered_late"]) == (True, True)
    assert (shown["shd-judicial"]["answered"], shown["shd-judicial"]["answered_late"]) == (
        True,
        False,
    )

    xlsx = await http.get(f"{CAMPAIGNS}/{campaign_id}/report.xlsx", headers=token("office"))
    assert xlsx.status_code == 200, xlsx.text
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = [[c if c is not None else "" for c in r] for r in sheet.iter_rows(values_only=True)]
    assert rows[0][7] == "是否逾期"
    assert {r[0]: r[7] for r in rows[1:]} == {"沙河店派出所": "逾期填报", "沙河店司法所": ""}
    english = await http.get(
        f"{CAMPAIGNS}/{campaign_id}/report.xlsx", params={"lang": "en"}, headers=token("office")
    )
    sheet = load_workbook(io.BytesIO(english.content)).active
    assert sheet is not None
    assert (sheet["H1"].value, sheet["H2"].value) == ("Late", "answered late")

    password = "沙河店镇自查自纠的密码"
    transport = httpx.ASGITransport(app=desk.app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://service") as office_page,
        httpx.AsyncClient(transport=transport, base_url="http://service") as police_page,
    ):
        for page, user, role, unit in (
            (office_page, "office.desk", Role.OFFICE, "shd-office"),
            (police_page, "police.desk", Role.POLICE, "shd-police"),
        ):
            await open_account(desk.js, user, role, unit, password)
            await signed_in_on_page(page, user, password)
        printed_report = await office_page.get(f"/desk/campaigns/{campaign_id}/report")
        assert printed_report.status_code == 200, printed_report.text
        assert printed_report.text.count("<td>逾期填报</td>") == len(CHECKLIST)

        # The police's own list, read from the campaigns' read model, says so too.
        async def marked_in_the_list() -> bool:
            listing = await police_page.get("/desk/campaigns")
            assert listing.status_code == 200, listing.text
            row = listing.text.split(f'data-campaign="{campaign_id}"', 1)
            return len(row) == 2 and "逾期填报" in row[1].split("</tr>", 1)[0]

        await wait_until(marked_in_the_list, timeout=15)
