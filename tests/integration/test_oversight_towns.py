"""Oversight in a county of two towns (the demo county: 沙河店镇, SHD, and a township, ZXL):
a town's discipline committee and a town's auditor read their town's cases, supervisions,
reads, assessment, notices and overdue rectification items alone, and another town's case,
lead or notice answers as one that does not exist, for a read and for a decision alike; the
county's own units read both towns, rolled up and per town. The committee desk's pages go
through the same rule. (A county of one town: the other test_oversight_* modules.)"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from openpyxl import load_workbook

from common.events import Role, utc_now
from common.events.notices import NoticeFacts, NoticeIssued
from common.organisation import demo_county_file, load_organisation
from common.vocabulary import Category, Flag
from tests.conftest import NatsTarget, wait_until
from tests.integration.test_county import COUNTY_STAFF, county  # noqa: F401 - the fixture
from tests.integration.test_oversight_tasks import item
from tests.support.apps import token, write_people
from tests.support.factories import new_lead_id
from tests.support.ledger import LedgerService, filed, report
from tests.support.oversight import (
    OFFICE_ACTOR,
    OversightService,
    csrf_token_of,
    desk_settings,
    get,
    ledger_log,
    person,
    record,
    serving_oversight,
    sign_in_on_page,
)

pytestmark = pytest.mark.integration

COMMITTEES: dict[str, tuple[Role, str | None]] = {
    **COUNTY_STAFF,
    "shd.discipline": (Role.DISCIPLINE, "shd-discipline"),
    "zxl.discipline": (Role.DISCIPLINE, "zxl-discipline"),
    "county.discipline": (Role.DISCIPLINE, "county"),
    # A member placed in no town and not in the county reads nothing.
    "nowhere.discipline": (Role.DISCIPLINE, None),
}
SHD_READERS = ("shd.discipline", "shd.auditor")
COUNTY_READERS = ("county.discipline", "county.auditor")
ORG = load_organisation(demo_county_file())
ZXL_UNITS = {u.code for u in ORG.town_named("zxl").units}
ZXL_LABELS = {label for u in ORG.town_named("zxl").units for label in (u.name, u.name_en)}
CASES = "/v1/oversight/cases"
NOTICES = "/v1/oversight/notices"
OVERDUE = "/v1/oversight/tasks/overdue"
NO_SUCH_CASE = {"detail": "no such case"}


@pytest.fixture
async def committees(
    county: LedgerService,  # noqa: F811 - the fixture imported above
    nats_target: NatsTarget,
    tmp_path: Path,
) -> AsyncIterator[OversightService]:
    users = write_people(tmp_path / "committee-users.toml", COMMITTEES)
    settings = desk_settings(
        nats_target, f"sqlite:///{tmp_path / 'oversight.db'}", tmp_path, org_file=demo_county_file()
    ).model_copy(update={"users_file": users})
    async with serving_oversight(settings) as running:
        yield running


@dataclass(frozen=True)
class Town:
    """A town's flagged lead, filed, and the committee's case on it."""

    lead_id: str
    ledger_number: str
    case_id: str


async def flagged_in_each_town(
    county: LedgerService,  # noqa: F811 - the fixture imported above
    oversight: OversightService,
) -> tuple[Town, Town]:
    """A lead flagged as shielded by an official in each town, filed by its town's ledger,
    and the case oversight opened on each, once it knows its ledger number."""
    ids = [
        await report(
            county.js,
            village=village,
            category=Category.PROTECTIVE_UMBRELLA,
            flags=(Flag.PROTECTIVE_UMBRELLA,),
            summary=summary,
        )
        for village, summary in (
            ("shd-v04", "沙河店 干部充当保护伞"),
            ("zxl-v02", "某乡 干部充当保护伞"),
        )
    ]
    for lead_id in ids:
        await filed(county.http, lead_id)
    found: dict[str, dict[str, Any]] = {}

    async def both_filed() -> bool:
        found.update({c["lead_id"]: c for c in await get(oversight.http, CASES, "county.auditor")})
        return all(found.get(lead_id, {}).get("ledger_number") for lead_id in ids)

    await wait_until(both_filed)
    shd, zxl = (
        Town(lead_id, found[lead_id]["ledger_number"], found[lead_id]["case_id"]) for lead_id in ids
    )
    assert shd.ledger_number.startswith("SHD-")
    assert zxl.ledger_number.startswith("ZXL-")
    return shd, zxl


async def case_ids(http: httpx.AsyncClient, user: str) -> set[str]:
    return {c["case_id"] for c in await get(http, CASES, user)}


def as_if_none(response: httpx.Response, nothing: httpx.Response) -> None:
    """Answered exactly as for a thing that does not exist."""
    assert response.status_code == 404, response.text
    assert (response.status_code, response.json()) == (nothing.status_code, nothing.json())


async def test_a_towns_committee_reads_and_decides_on_its_town_alone(
    county: LedgerService,  # noqa: F811 - the fixture imported above
    committees: OversightService,
) -> None:
    http = committees.http
    shd, zxl = await flagged_in_each_town(county, committees)

    # Cases: the town's alone; the other town's, by id, as one that does not exist.
    for user in SHD_READERS:
        assert await case_ids(http, user) == {shd.case_id}, user
        mine = await http.get(f"{CASES}/{shd.case_id}", headers=token(user))
        assert mine.status_code == 200, mine.text
        nothing = await http.get(f"{CASES}/{uuid.uuid4().hex}", headers=token(user))
        as_if_none(await http.get(f"{CASES}/{zxl.case_id}", headers=token(user)), nothing)
        trace = "/v1/oversight/leads/{}/responsibility-trace"
        assert (await http.get(trace.format(shd.lead_id), headers=token(user))).status_code == 200
        as_if_none(
            await http.get(trace.format(zxl.lead_id), headers=token(user)),
            await http.get(trace.format(new_lead_id()), headers=token(user)),
        )
    assert await case_ids(http, "zxl.discipline") == {zxl.case_id}
    assert await case_ids(http, "nowhere.discipline") == set()
    # A town's police station reads none of it, its own town's cases included.
    police = await http.get(f"{CASES}/{shd.case_id}", headers=token("shd.police"))
    assert police.status_code == 403, police.text
    for user in COUNTY_READERS:
        assert await case_ids(http, user) >= {shd.case_id, zxl.case_id}, user

    # Every decision on the other town's case: 404 before the body is weighed.
    in_a_month = (utc_now() + timedelta(days=30)).isoformat()
    decisions: dict[str, dict[str, Any]] = {
        "supervise": {"reason": "督促尽快核查"},
        "list-supervision": {"unit": "shd-police", "deadline": in_a_month},
        "escalate": {"reason": "提级办理"},
        "link": {"gang_lead_id": shd.lead_id},
        "accountability": {
            "person": "某干部",
            "unit": "shd-police",
            "kind": "public_criticism",
            "form": 1,
            "reason": "履职不力",
        },
        "outcome": {"result": "substantiated"},
    }
    for decision, body in decisions.items():
        on_theirs = await http.post(
            f"{CASES}/{zxl.case_id}/{decision}", json=body, headers=token("shd.discipline")
        )
        on_none = await http.post(
            f"{CASES}/{uuid.uuid4().hex}/{decision}", json=body, headers=token("shd.discipline")
        )
        as_if_none(on_theirs, on_none)
        assert on_theirs.json() == NO_SUCH_CASE
    # On its own case, another town's unit or lead is named as one there is not.
    across = await http.post(
        f"{CASES}/{shd.case_id}/list-supervision",
        json={"unit": "zxl-police", "deadline": in_a_month},
        headers=token("shd.discipline"),
    )
    assert across.status_code == 422, across.text
    assert "unit" in across.text
    linked = await http.post(
        f"{CASES}/{shd.case_id}/link",
        json={"gang_lead_id": zxl.lead_id},
        headers=token("shd.discipline"),
    )
    assert linked.status_code == 422, linked.text
    assert "gang_lead_id" in linked.text

    # Supervision: each committee on its own town's case, the county's on the other's.
    for user, case_id in (("shd.discipline", shd.case_id), ("county.discipline", zxl.case_id)):
        done = await http.post(
            f"{CASES}/{case_id}/supervise", json={"reason": "督促尽快核查"}, headers=token(user)
        )
        assert done.status_code == 200, done.text

    async def supervised(user: str) -> set[str]:
        page = await get(http, "/v1/oversight/supervisions", user, page_size=500)
        assert page["total"] == len(page["items"])
        return {s["lead_id"] for s in page["items"]}

    async def both_supervised() -> bool:
        return await supervised("county.auditor") >= {shd.lead_id, zxl.lead_id}

    await wait_until(both_supervised)
    for user in SHD_READERS:
        assert zxl.lead_id not in await supervised(user)
        assert shd.lead_id in await supervised(user)
        other_unit = await http.get(
            "/v1/oversight/supervisions", params={"unit": "zxl-office"}, headers=token(user)
        )
        assert other_unit.status_code == 422, other_unit.text

    # The access log: the ledger's and the committees' reads of both leads, each town's
    # alone to a town's reader.
    async def read_leads(user: str, **query: Any) -> set[str]:
        return {e["lead_id"] for e in await get(http, "/v1/oversight/access-log", user, **query)}

    async def both_read() -> bool:
        return await read_leads("county.auditor") >= {shd.lead_id, zxl.lead_id}

    await wait_until(both_read)
    for user in SHD_READERS:
        assert await read_leads(user) == {shd.lead_id}, user
        assert await read_leads(user, lead_id=zxl.lead_id) == set()
        risks = await get(http, "/v1/oversight/leak-risk", user, hours=24)
        assert zxl.lead_id not in {r["lead_id"] for r in risks}
    assert await read_leads("zxl.discipline") == {zxl.lead_id}
    assert await read_leads("nowhere.discipline") == set()


async def test_assessments_notices_and_overdue_items_are_the_readers_towns(
    county: LedgerService,  # noqa: F811 - the fixture imported above
    committees: OversightService,
) -> None:
    http = committees.http
    await flagged_in_each_town(county, committees)
    js = county.js
    notices = {
        town: NoticeIssued(
            notice_id=uuid.uuid4().hex,
            kind="criticism",
            unit=f"{town}-police",
            period_from=date(2026, 11, 1),
            period_to=date(2026, 11, 30),
            title=f"{town} 派出所通报批评",
            body="正文",
            facts=NoticeFacts(overdue=2),
            actor=OFFICE_ACTOR,
        )
        for town in ("shd", "zxl")
    }
    for issued in notices.values():
        await ledger_log(js).append(issued, expected_sequence=0)
    await record(
        js, item("shd-late", -3, unit="shd-police"), item("zxl-late", -3, unit="zxl-police")
    )

    async def county_sees_all() -> bool:
        units = {a["unit"] for a in await get(http, "/v1/oversight/assessments", "county.auditor")}
        listed = {n["notice_id"] for n in await get(http, NOTICES, "county.discipline")}
        overdue = {t["task_id"] for t in await get(http, OVERDUE, "county.auditor")}
        return (
            {"shd-office", "zxl-office"} <= units
            and {n.notice_id for n in notices.values()} <= listed
            and {"shd-late", "zxl-late"} <= overdue
        )

    await wait_until(county_sees_all)

    # The county: each town's units, and each town taken together.
    for user in COUNTY_READERS:
        towns = {a["unit"] for a in await get(http, "/v1/oversight/assessments/towns", user)}
        assert {"shd", "zxl"} <= towns, user
    sheet = await http.get("/v1/oversight/assessments.xlsx", headers=token("county.auditor"))
    assert sheet.status_code == 200, sheet.text
    assert ZXL_LABELS & _units_in_sheet(sheet.content)

    for user in SHD_READERS:
        units = {a["unit"] for a in await get(http, "/v1/oversight/assessments", user)}
        assert "shd-office" in units, user
        assert not units & (ZXL_UNITS | {"county"}), user
        towns = {a["unit"] for a in await get(http, "/v1/oversight/assessments/towns", user)}
        assert towns == {"shd"}, user
        sheet = await http.get("/v1/oversight/assessments.xlsx", headers=token(user))
        assert sheet.status_code == 200, sheet.text
        named = _units_in_sheet(sheet.content)
        assert named
        assert not named & ZXL_LABELS, named

        listed = {n["notice_id"] for n in await get(http, NOTICES, user)}
        assert listed == {notices["shd"].notice_id}, user
        nothing = await http.get(f"{NOTICES}/{uuid.uuid4().hex}", headers=token(user))
        as_if_none(
            await http.get(f"{NOTICES}/{notices['zxl'].notice_id}", headers=token(user)), nothing
        )
        overdue = {t["task_id"] for t in await get(http, OVERDUE, user)}
        assert overdue == {"shd-late"}, user

    # Accountability on the other town's notice: as on one never issued.
    body = {"person": "某民警", "kind": "public_criticism", "form": 1, "reason": "工作开展不力"}
    as_if_none(
        await http.post(
            f"{NOTICES}/{notices['zxl'].notice_id}/accountability",
            json=body,
            headers=token("shd.discipline"),
        ),
        await http.post(
            f"{NOTICES}/{uuid.uuid4().hex}/accountability",
            json=body,
            headers=token("shd.discipline"),
        ),
    )
    own = await http.post(
        f"{NOTICES}/{notices['shd'].notice_id}/accountability",
        json=body,
        headers=token("shd.discipline"),
    )
    assert own.status_code == 201, own.text


def _units_in_sheet(content: bytes) -> set[str]:
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    return {str(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True)}


async def test_the_desk_pages_show_a_member_their_towns_cases_alone(
    county: LedgerService,  # noqa: F811 - the fixture imported above
    committees: OversightService,
    streams: JetStreamContext,
) -> None:
    http = committees.http
    shd, zxl = await flagged_in_each_town(county, committees)
    member = await person(streams, committees.app, "sun.shd", Role.DISCIPLINE, "shd-discipline")
    await sign_in_on_page(http, member)

    desk = await http.get("/desk")
    assert desk.status_code == 200, desk.text
    assert shd.case_id in desk.text
    assert zxl.case_id not in desk.text
    assert zxl.ledger_number not in desk.text
    theirs = await http.get(f"/desk/cases/{zxl.case_id}")
    assert theirs.status_code == 404, theirs.text
    assert zxl.lead_id not in theirs.text
    mine = await http.get(f"/desk/cases/{shd.case_id}")
    assert mine.status_code == 200, mine.text
    # The forms offer the town's own units and the county's, never another town's.
    assert "zxl-police" not in mine.text
    assert "shd-police" in mine.text
    # A decision posted on the other town's case finds no case, and nothing is decided.
    posted = await http.post(
        f"/desk/cases/{zxl.case_id}/supervise",
        data={"csrf_token": csrf_token_of(mine), "reason": "督促尽快核查"},
    )
    assert posted.status_code == 404, posted.text
    supervisions = await get(http, "/v1/oversight/supervisions", "county.auditor")
    assert zxl.lead_id not in {s["lead_id"] for s in supervisions["items"]}

    for path in (
        "/desk/supervisions",
        "/desk/access-log",
        "/desk/leak-risk",
        "/desk/assessments",
        "/desk/notices",
    ):
        page = await http.get(path)
        assert page.status_code == 200, (path, page.text)
        assert zxl.lead_id not in page.text, path
        assert zxl.ledger_number not in page.text, path
    assert "zxl-office" not in (await http.get("/desk/supervisions")).text

    # The county's member on the desk reads both towns' cases.
    inspector = await person(streams, committees.app, "li.county", Role.DISCIPLINE, "county")
    await sign_in_on_page(http, inspector)
    desk = await http.get("/desk")
    assert shd.case_id in desk.text
    assert zxl.case_id in desk.text
