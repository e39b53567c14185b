"""Notices (通报): the office drafts a notice about a unit with the facts the ledger recorded
against it (a deadline missed, an answer after the deadline, a transfer returned), revises
it, issues it; an issued notice is final (every change 409) and every member of the staff
reads it, while a draft is the office's and its clerks' alone. Wrong roles and hostile or
oversized input are refused, naming the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from common.auth import Principal
from common.events import Role, utc_now
from common.events.notices import NoticeDrafted, NoticeIssued, NoticeRevised
from common.eventstore import EventStore
from common.organisation import demo_county_file
from common.subjects import Stream
from common.times import CHINA
from ledger.application import notices as notices_app
from tests.conftest import NatsTarget, wait_until
from tests.integration import test_ledger_pages as pages
from tests.support.apps import token, write_people
from tests.support.leadctl import leadctl_beside, on, printed, succeeded
from tests.support.ledger import (
    LedgerService,
    act,
    assigned_by_police,
    handed_to_police,
    ledger_settings,
    moved_to,
    report_and_file,
    serving_ledger,
)

pytestmark = pytest.mark.integration

# The desk and a person signed in on it, as the desk's own tests have them.
desk, person, Person = pages.desk, pages.person, pages.Person

NOTICES = "/v1/ledger/notices"
UNKNOWN = "0" * 32


def around_today() -> dict[str, str]:
    """Yesterday to tomorrow on the township's clock: today's facts, whatever the hour."""
    today = utc_now().astimezone(CHINA).date()
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}


async def facts_of(http: httpx.AsyncClient, unit: str) -> dict[str, Any]:
    response = await http.get(
        f"{NOTICES}/facts", params={"unit": unit, **around_today()}, headers=token("clerk")
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def police_record(service: LedgerService) -> tuple[str, str]:
    """A lead whose deadline the police missed and then answered late, and a lead the police
    sent back: the facts a notice about the police cites."""
    http = service.http
    late = (await report_and_file(service))["lead_id"]
    await handed_to_police(http, late)
    await assigned_by_police(http, late, utc_now() + timedelta(seconds=1))

    async def overdue() -> bool:
        return (await facts_of(http, "shd-police"))["facts"]["overdue"] == 1

    await wait_until(overdue, timeout=15)
    answered = await act(http, late, "feedback", "police", text="已在核查，稍后答复结果")
    assert answered.status_code == 200, answered.text

    returned = (await report_and_file(service))["lead_id"]
    moved_to(
        await act(http, returned, "transfer", "office", to_unit="shd-police", reason="请核查"),
        "transferred",
    )
    moved_to(await act(http, returned, "return", "police", reason="不属本单位职责"), "returned")
    return late, returned


async def drafted(http: httpx.AsyncClient, user: str = "clerk", **body: Any) -> httpx.Response:
    chosen = {"kind": "criticism", "unit": "shd-police", **around_today(), **body}
    return await http.post(NOTICES, json=chosen, headers=token(user))


async def command(
    http: httpx.AsyncClient, notice_id: str, what: str, user: str, **body: Any
) -> httpx.Response:
    return await http.post(f"{NOTICES}/{notice_id}/{what}", json=body, headers=token(user))


async def listed_ids(http: httpx.AsyncClient, user: str, **query: Any) -> list[str]:
    response = await http.get(NOTICES, params=query, headers=token(user))
    assert response.status_code == 200, response.text
    return [n["notice_id"] for n in response.json()]


def refused_for(response: httpx.Response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    [problem] = response.json()["detail"]
    assert problem["field"] == field, problem
    found: dict[str, Any] = problem
    return found


async def test_a_criticism_is_drafted_with_the_ledgers_facts_revised_issued_and_read_by_all(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    late, returned = await police_record(service)

    async def all_facts_in() -> bool:
        facts = (await facts_of(http, "shd-police"))["facts"]
        return (facts["overdue"], facts["late_answers"], facts["returns"]) == (1, 1, 1)

    await wait_until(all_facts_in, timeout=15)
    help_given = await facts_of(http, "shd-police")
    assert set(help_given["facts"]["lead_ids"]) == {late, returned}
    assert "派出所" in help_given["title"]
    assert "通报批评" in help_given["title"]
    # Another unit has none of them.
    assert (await facts_of(http, "shd-judicial"))["facts"]["lead_ids"] == []

    response = await drafted(http)
    assert response.status_code == 201, response.text
    notice = response.json()
    notice_id = notice["notice_id"]
    assert (notice["status"], notice["status_label"], notice["kind_label"]) == (
        "draft",
        "草稿",
        "通报批评",
    )
    assert notice["facts"] == help_given["facts"]
    assert notice["title"] == help_given["title"]  # suggested, for the clerk to edit

    # A draft is the office's: to the police (the unit it is about) it does not exist.
    assert (await http.get(f"{NOTICES}/{notice_id}", headers=token("police"))).status_code == 404
    assert (
        await command(http, notice_id, "revise", "police", kind="praise", title="x", content="x")
    ).status_code == 404

    revised = await command(
        http,
        notice_id,
        "revise",
        "clerk",
        kind="criticism",
        title="关于对派出所线索办理不力的通报批评",
        content="派出所办理线索超期、逾期答复、推诿退回，予以通报批评，限期整改。",
    )
    assert revised.status_code == 200, revised.text
    assert revised.json()["title"] == "关于对派出所线索办理不力的通报批评"

    # The clerk prepares, the office issues.
    assert (await command(http, notice_id, "issue", "clerk")).status_code == 403
    issued = await command(http, notice_id, "issue", "office")
    assert issued.status_code == 200, issued.text
    shown = issued.json()
    assert (shown["status"], shown["status_label"]) == ("issued", "已印发")
    assert shown["issued_at"] is not None
    assert [s["event_type"] for s in shown["history"]] == [
        "NoticeDrafted",
        "NoticeRevised",
        "NoticeIssued",
    ]

    # Final: every change is refused as a conflict, saying why.
    for what, body in (
        ("revise", {"kind": "praise", "title": "改", "content": "改"}),
        ("withdraw", {"reason": "撤回"}),
        ("issue", {}),
    ):
        problem = refused_for(await command(http, notice_id, what, "office", **body), 409, "")
        assert "已印发" in problem["message"], problem
        assert "issued" in problem["message_en"], problem

    # Everyone of the staff reads the issued notice, in the list and alone.
    for user in ("police", "screener.v01", "discipline", "auditor", "clerk"):

        async def listed_for(user: str = user) -> bool:
            return notice_id in await listed_ids(http, user, status="issued")

        await wait_until(listed_for, timeout=10)
        one = await http.get(f"{NOTICES}/{notice_id}", headers=token(user))
        assert one.status_code == 200, one.text
        assert one.json()["facts"]["overdue"] == 1
    printed = await http.get(f"{NOTICES}/{notice_id}/text", headers=token("screener.v01"))
    assert printed.status_code == 200, printed.text
    assert printed.headers["content-type"].startswith("text/plain")
    assert "关于对派出所线索办理不力的通报批评" in printed.text
    assert "超期 1 件；逾期答复 1 件；退回移交 1 件" in printed.text
    assert "北京时间" in printed.text

    # On the notice's own subjects, in order; the issued event carries the notice whole.
    history = await EventStore(js, Stream.LEDGER, "ledger").read_item("notice", notice_id)
    events = [s.event for s in history.events]
    assert [type(e) for e in events] == [NoticeDrafted, NoticeRevised, NoticeIssued]
    assert all(s.subject.startswith(f"ledger.notice.{notice_id}.") for s in history.events)
    final = events[-1]
    assert isinstance(final, NoticeIssued)
    assert (final.title, final.unit, final.facts.returns) == (
        "关于对派出所线索办理不力的通报批评",
        "shd-police",
        1,
    )


async def test_drafts_belong_to_the_office_and_a_withdrawn_draft_is_final(
    service: LedgerService,
) -> None:
    http = service.http
    notice_id = (await drafted(http, kind="praise", unit="shd-judicial")).json()["notice_id"]

    # Only the office and its clerks draft; the others are told, or not admitted at all.
    for user in ("police", "screener.v01", "discipline", "auditor"):
        assert (await drafted(http, user)).status_code == 403, user
    assert (await drafted(http, "custodian")).status_code == 403
    assert (await http.post(NOTICES, json={})).status_code == 401

    # Drafts are listed for the office only.
    async def listed_for_office() -> bool:
        return notice_id in await listed_ids(http, "office")

    await wait_until(listed_for_office, timeout=10)
    assert notice_id not in await listed_ids(http, "police")
    assert notice_id not in await listed_ids(http, "police", status="draft")
    assert (
        await http.get(
            f"{NOTICES}/facts",
            params={"unit": "shd-police", "month": "2026-11"},
            headers=token("police"),
        )
    ).status_code == 403

    withdrawn = await command(http, notice_id, "withdraw", "clerk", reason="表扬对象有误")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    problem = refused_for(await command(http, notice_id, "issue", "office"), 409, "")
    assert "撤回" in problem["message"]
    assert (await http.get(f"{NOTICES}/{UNKNOWN}", headers=token("office"))).status_code == 404
    assert (await command(http, UNKNOWN, "issue", "office")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "标" * 101}, "title"),
        ({"content": "文" * 5001}, "content"),
        ({"title": "通报\x00<script>"}, "title"),
        ({"content": "正文\x1b[2J"}, "content"),
        ({"unit": "../../etc"}, "unit"),
        ({"unit": "nowhere"}, "unit"),
        ({"kind": "reward"}, "kind"),
        ({"from": "2026-11-30", "to": "2026-11-01"}, "to"),
        ({"from": "2025-01-01", "to": "2026-11-01"}, "to"),
        ({"month": "2026-11"}, "month"),  # and from/to as well: one or the other
        ({"from": None, "to": None}, "month"),
        ({"month": "2026-13", "from": None, "to": None}, "month"),
        ({"sealed": True}, "sealed"),
    ],
)
async def test_hostile_or_oversized_input_is_refused_naming_the_field(
    service: LedgerService, body: dict[str, Any], field: str
) -> None:
    refused_for(await drafted(service.http, **body), 422, field)


async def test_a_revision_too_long_and_a_notice_id_that_names_nothing_are_refused(
    service: LedgerService,
) -> None:
    http = service.http
    notice_id = (await drafted(http)).json()["notice_id"]
    refused_for(
        await command(
            http, notice_id, "revise", "clerk", kind="criticism", title="t", content="文" * 5001
        ),
        422,
        "content",
    )
    refused_for(
        await command(http, notice_id, "withdraw", "clerk", reason="r" * 501), 422, "reason"
    )
    for bad in ("NOTICE", "x" * 33, "..%2F..%2Fetc"):
        response = await http.get(f"{NOTICES}/{bad}", headers=token("office"))
        assert response.status_code in (404, 422), response.text
    refused_for(
        await http.get(NOTICES, params={"page_size": 201}, headers=token("office")),
        422,
        "page_size",
    )


async def test_the_desk_lays_an_issued_notice_out_to_print_and_hides_a_draft(
    desk: LedgerService, person: Person
) -> None:
    http = desk.http
    hostile = "<script>alert(1)</script>通报"
    issued_id = (await drafted(http, title=hostile, content="第一段\n第二段")).json()["notice_id"]
    assert (await command(http, issued_id, "issue", "office")).status_code == 200
    draft_id = (await drafted(http)).json()["notice_id"]

    police, _ = await person("zhang.police", Role.POLICE, "shd-police")
    page = await police.get(f"/desk/notices/{issued_id}")
    assert page.status_code == 200, page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;通报" in page.text
    assert "<script>alert(1)" not in page.text
    assert "<p>第一段</p><p>第二段</p>" in page.text
    assert "UTC+8" in page.text
    hidden = await police.get(f"/desk/notices/{draft_id}")
    assert hidden.status_code == 404
    assert "没有这份通报，或您无权查看。" in hidden.text
    assert (await police.get(f"/desk/notices/{UNKNOWN}")).text == hidden.text.replace(
        draft_id, UNKNOWN
    )

    office, _ = await person("li.office", Role.OFFICE, "shd-office")
    assert (await office.get(f"/desk/notices/{draft_id}")).status_code == 200

    async def listed_on_the_desk() -> bool:
        listing = await police.get("/desk/notices")
        assert listing.status_code == 200, listing.text
        return issued_id in listing.text

    await wait_until(listed_on_the_desk, timeout=10)
    assert draft_id not in (await police.get("/desk/notices")).text


async def test_the_notices_and_their_facts_are_rebuilt_by_a_replay_as_they_stand(
    service: LedgerService, nats_target: NatsTarget
) -> None:
    http = service.http
    await police_record(service)
    notice_id = (await drafted(http)).json()["notice_id"]
    assert (await command(http, notice_id, "issue", "office")).status_code == 200

    async def listed_issued() -> bool:
        return notice_id in await listed_ids(http, "police", status="issued")

    await wait_until(listed_issued, timeout=10)
    verify = [*on(nats_target), "verify", "--projection", "ledger"]
    result = succeeded(
        await leadctl_beside(*verify, "--live-db", service.settings.database_url, "--json")
    )
    reports = {r["projection"]: r for r in printed(result)}
    notices = reports["notices"]
    assert notices["equal"] is True, notices
    assert set(notices["live"]) == {
        "ledger_notices",
        "ledger_notice_facts",
        "ledger_notice_holders",
    }
    assert reports["ledger"]["equal"] is True


async def test_in_a_county_a_towns_notices_are_its_own_and_the_countys_to_read(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    people: dict[str, tuple[Role, str | None]] = {
        "county.office": (Role.OFFICE, "county"),
        "shd.office": (Role.OFFICE, "shd-office"),
        "wang.police": (Role.POLICE, "shd-police"),
        "zxl.office": (Role.OFFICE, "zxl-office"),
        "zhao.police": (Role.POLICE, "zxl-police"),
    }
    settings = ledger_settings(
        nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, org_file=demo_county_file()
    ).model_copy(update={"users_file": write_people(tmp_path / "county-users.toml", people)})
    async with serving_ledger(streams, settings) as county:
        http = county.http
        # A town's office writes about its own town's units only.
        refused_for(await drafted(http, "shd.office", unit="zxl-police"), 422, "unit")
        notice_id = (await drafted(http, "shd.office")).json()["notice_id"]
        issued = await command(http, notice_id, "issue", "shd.office")
        assert issued.status_code == 200, issued.text

        async def listed_for_the_county() -> bool:
            return notice_id in await listed_ids(http, "county.office")

        await wait_until(listed_for_the_county, timeout=10)
        for user, sees in (
            ("county.office", True),
            ("shd.office", True),
            ("wang.police", True),
            ("zxl.office", False),
            ("zhao.police", False),
        ):
            one = await http.get(f"{NOTICES}/{notice_id}", headers=token(user))
            assert one.status_code == (200 if sees else 404), (user, one.text)
            assert (notice_id in await listed_ids(http, user)) is sees, user
        # Nor may the other town change it (it does not exist for them).
        assert (
            await command(http, notice_id, "withdraw", "zxl.office", reason="撤回")
        ).status_code == 404


async def test_a_revision_decided_on_a_notice_changed_meanwhile_is_refused_409(
    service: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = service.http
    notice_id = (await drafted(http)).json()["notice_id"]
    clerk = Principal(user="clerk", display_name="clerk", role=Role.CLERK, unit="shd-office")
    as_read_before = await notices_app.read(service.app.state.ledger, clerk, notice_id)
    first = await command(
        http, notice_id, "revise", "clerk", kind="criticism", title="第一稿", content="正文"
    )
    assert first.status_code == 200, first.text

    async def read_before(*_: Any) -> notices_app.NoticeRead:
        return as_read_before  # what a second clerk read before the first one's revision

    monkeypatch.setattr(notices_app, "read", read_before)
    second = await command(
        http, notice_id, "revise", "office", kind="criticism", title="第二稿", content="正文"
    )
    problem = refused_for(second, 409, "")
    assert problem["message"] == "该记录刚被他人修改，请刷新后重试"
    monkeypatch.undo()
    shown = await http.get(f"{NOTICES}/{notice_id}", headers=token("office"))
    assert shown.json()["title"] == "第一稿"


async def test_a_retried_draft_with_its_idempotency_key_drafts_one_notice(
    service: LedgerService,
) -> None:
    http = service.http
    key = {"Idempotency-Key": "draft-0123456789abcdef"}
    body = {"kind": "criticism", "unit": "shd-police", **around_today()}
    answers = [
        await http.post(NOTICES, json=body, headers={**token(user), **key})
        for user in ("clerk", "clerk", "office")
    ]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    first, again, offices = (a.json()["notice_id"] for a in answers)
    assert first == again
    assert offices != first  # the same key of another person is theirs
    assert answers[1].json()["title"] == answers[0].json()["title"]

    # Issued meanwhile, a late retry still answers the same notice, as it stands now.
    issued = await http.post(f"{NOTICES}/{first}/issue", json={}, headers=token("office"))
    assert issued.status_code == 200, issued.text
    late = await http.post(NOTICES, json=body, headers={**token("clerk"), **key})
    assert late.status_code == 201, late.text
    assert (late.json()["notice_id"], late.json()["status"]) == (first, "issued")

    history = await EventStore(service.js, Stream.LEDGER, "ledger").read_item("notice", first)
    assert [type(s.event) for s in history.events] == [NoticeDrafted, NoticeIssued]

    # A key too short, or one for a role that may not draft, is refused before anything.
    short = await http.post(
        NOTICES, json=body, headers={**token("clerk"), "Idempotency-Key": "short"}
    )
    assert short.status_code == 422
    assert [d["field"] for d in short.json()["detail"]] == ["Idempotency-Key"]
    police = await http.post(NOTICES, json=body, headers={**token("police"), **key})
    assert police.status_code == 403, police.text
