"""The ledger desk's pages over HTTP, signed in with a session: a lead the person may not see
is the very 404 of a lead that does not exist; a form without the session's CSRF token, or
with another, changes nothing; a query parameter a page does not declare is refused; a rule
the command breaks, or a change someone else made first, is said on the lead's page; the
export the desk links to answers the session; the statistics draw their charts."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext

from common.events import Role, utc_now
from common.events.catalogue import LeadViewed
from common.subjects import Stream
from ledger.application import Ledger
from ledger.bootstrap import create_app
from ledger.domain.lead import LedgerLead
from tests.conftest import NatsTarget, wait_until
from tests.support.accounts import open_account
from tests.support.apps import serving
from tests.support.ledger import (
    LedgerService,
    act,
    assigned_by_police,
    desk_settings,
    event_types,
    filed,
    filed_long_ago,
    handed_to_police,
    moved_to,
    report,
    report_and_file,
    row_classes,
    send_desk_form,
    signed_in_on_page,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

PASSWORD = "沙河店镇的一个好密码"
HIDDEN = "没有这条线索，或您无权查看。"


@pytest.fixture
async def desk(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    settings = desk_settings(nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    app = create_app(settings)
    async with serving(app) as http:
        yield LedgerService(app, http, streams, settings)


Person = Callable[[str, Role, str | None], Awaitable[tuple[httpx.AsyncClient, str]]]


@pytest.fixture
async def person(desk: LedgerService) -> AsyncIterator[Person]:
    """A browser of its own for a person with an account, signed in on the desk; and the
    CSRF token of its forms."""
    async with AsyncExitStack() as stack:

        async def signed_in(
            user: str, role: Role, unit: str | None
        ) -> tuple[httpx.AsyncClient, str]:
            await open_account(desk.js, user, role, unit, PASSWORD)
            http = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=desk.app), base_url="http://service"
                )
            )
            return http, await signed_in_on_page(http, user, PASSWORD)

        yield signed_in


async def test_a_lead_the_person_may_not_see_answers_as_one_that_does_not_exist(
    desk: LedgerService, person: Person
) -> None:
    lead = await report_and_file(desk)  # the office holds it: not the police's to see
    viewed = f"audit.ledger.lead.{lead['lead_id']}.LeadViewed"
    before = await events_on(desk.js, Stream.AUDIT, viewed)  # the test's own read, by API
    police, police_csrf = await person("zhang.police", Role.POLICE, "shd-police")
    office, _ = await person("li.office", Role.OFFICE, "shd-office")
    seen = await office.get(f"/desk/leads/{lead['lead_id']}")
    assert seen.status_code == 200
    assert lead["ledger_number"] in seen.text

    async def asked(key: str) -> tuple[int, str]:
        # The page differs by the address asked for (its language link), and by nothing else.
        answer = await police.get(f"/desk/leads/{key}")
        return answer.status_code, answer.text.replace(key, "KEY")

    hidden = await asked(lead["lead_id"])
    assert hidden[0] == 404
    assert HIDDEN in hidden[1]
    assert lead["ledger_number"] not in hidden[1]
    assert await asked(secrets.token_hex(16)) == hidden
    assert await asked(lead["ledger_number"]) == hidden
    assert await asked("SHD-2020-999999") == hidden

    # A form sent for it is told the same, and records nothing.
    async def sent(key: str) -> tuple[int, str]:
        answer = await send_desk_form(police, key, "accept", police_csrf)
        return answer.status_code, answer.text.replace(key, "KEY")

    refused = await sent(lead["lead_id"])
    assert refused[0] == 404
    assert HIDDEN in refused[1]
    assert await sent(secrets.token_hex(16)) == refused
    # Nor does the desk list it.
    listed = await police.get("/desk")
    assert lead["ledger_number"] not in listed.text
    assert await event_types(desk.js, lead["lead_id"]) == ["LeadRegistered"]
    # The office's read of the page is recorded as the API's read is; no read was made of
    # what the police were refused.
    views = await events_on(desk.js, Stream.AUDIT, viewed)
    assert [(v.actor.user, v.actor.role) for v in views[len(before) :]] == [
        ("li.office", Role.OFFICE)
    ]
    assert all(isinstance(v, LeadViewed) and v.service == "ledger" for v in views)


async def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    desk: LedgerService, person: Person
) -> None:
    lead_id = (await report_and_file(desk))["lead_id"]
    office, csrf = await person("li.office", Role.OFFICE, "shd-office")
    to_police = {"to_unit": "shd-police", "reason": "涉嫌违法犯罪"}
    for token in (None, "", "guess", csrf[:-2] + "xx"):
        refused = await send_desk_form(office, lead_id, "transfer", token, **to_police)
        assert refused.status_code == 403, refused.text
        assert "表单已失效" in refused.text
    assert await event_types(desk.js, lead_id) == ["LeadRegistered"]

    # Another person's token is not this session's either.
    _, other_csrf = await person("zhou.office", Role.OFFICE, "shd-office")
    assert other_csrf != csrf
    crossed = await send_desk_form(office, lead_id, "transfer", other_csrf, **to_police)
    assert crossed.status_code == 403
    assert await event_types(desk.js, lead_id) == ["LeadRegistered"]

    sent = await send_desk_form(office, lead_id, "transfer", csrf, **to_police)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/desk/leads/{lead_id}?done=transfer"
    assert await event_types(desk.js, lead_id) == ["LeadRegistered", "LeadTransferred"]
    shown = await office.get(sent.headers["location"])
    assert "已记录：移交" in shown.text
    assert "已移交" in shown.text


async def test_a_query_parameter_a_page_does_not_declare_is_refused(
    desk: LedgerService, person: Person
) -> None:
    lead_id = (await report_and_file(desk))["lead_id"]
    office, _ = await person("li.office", Role.OFFICE, "shd-office")
    for path in ("/desk", f"/desk/leads/{lead_id}", "/desk/stats"):
        assert (await office.get(path, params={"lang": "en"})).status_code == 200
        refused = await office.get(path, params={"sort": "deadline"})
        assert refused.status_code == 422, path
        assert refused.json()["detail"][0]["field"] == "sort"
    # One value for a filter that takes one.
    twice = await office.get("/desk?status=registered&status=archived")
    assert twice.status_code == 422


async def test_a_broken_rule_is_said_at_the_form_and_nothing_is_recorded(
    desk: LedgerService, person: Person
) -> None:
    lead_id = (await report_and_file(desk))["lead_id"]
    await handed_to_police(desk.http, lead_id)
    await assigned_by_police(desk.http, lead_id)
    moved_to(
        await act(
            desk.http, lead_id, "conclude", "police", result="substantiated", summary="查证属实"
        ),
        "concluded",
    )
    office, csrf = await person("li.office", Role.OFFICE, "shd-office")
    page = await office.get(f"/desk/leads/{lead_id}")
    # What the rules would refuse now is not offered: archiving waits for the answer.
    assert 'id="form-feedback"' in page.text
    assert 'id="form-archive"' not in page.text

    # Sent all the same (a page left open from before), it is refused on the page.
    early = await send_desk_form(office, lead_id, "archive", csrf)
    assert early.status_code == 422
    assert "尚未向举报人反馈办理结果，请先反馈" in early.text
    assert 'role="alert"' in early.text
    assert "LeadArchived" not in await event_types(desk.js, lead_id)

    # An input the form checks: the answer too short, named by its label.
    short = await send_desk_form(office, lead_id, "feedback", csrf, text="好")
    assert short.status_code == 422
    assert "反馈内容" in short.text
    assert "FeedbackGiven" not in await event_types(desk.js, lead_id)

    answered = await send_desk_form(
        office, lead_id, "feedback", csrf, text="经查属实，已依法处理。", method="receipt"
    )
    assert answered.status_code == 303
    page = await office.get(answered.headers["location"])
    assert 'id="form-archive"' in page.text
    archived = await send_desk_form(office, lead_id, "archive", csrf)
    assert archived.status_code == 303
    assert (await event_types(desk.js, lead_id))[-1] == "LeadArchived"


async def test_a_change_made_first_by_someone_else_is_said_with_the_lead_as_it_is_now(
    desk: LedgerService, person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead_id = (await report_and_file(desk))["lead_id"]
    office, csrf = await person("li.office", Role.OFFICE, "shd-office")
    ledger: Ledger = desk.app.state.ledger
    load = ledger.load

    async def read_then_overtaken(wanted: str) -> tuple[LedgerLead, int]:
        found = await load(wanted)
        monkeypatch.setattr(ledger, "load", load)
        # A colleague hands the lead to the judicial office between the read and the write.
        moved_to(
            await act(
                desk.http, wanted, "transfer", "office", to_unit="shd-judicial", reason="调解"
            ),
            "transferred",
        )
        return found

    monkeypatch.setattr(ledger, "load", read_then_overtaken)
    late = await send_desk_form(
        office, lead_id, "transfer", csrf, to_unit="shd-police", reason="涉嫌违法犯罪"
    )
    assert late.status_code == 409
    assert "该线索刚被他人修改" in late.text
    assert "已移交" in late.text
    assert "沙河店司法所" in late.text
    assert await event_types(desk.js, lead_id) == ["LeadRegistered", "LeadTransferred"]


async def test_the_desk_filters_marks_and_exports_with_the_session(
    desk: LedgerService, person: Person
) -> None:
    first = await report_and_file(desk, summary="村霸强占集体土地，威胁村民")
    second = await report_and_file(desk, summary="赌博窝点夜间聚赌", village="shd-v02")
    await handed_to_police(desk.http, second["lead_id"])
    office, _ = await person("li.office", Role.OFFICE, "shd-office")
    police, _ = await person("zhang.police", Role.POLICE, "shd-police")
    listed = await office.get("/desk", params={"village": "shd-v02", "q": ""})
    assert listed.status_code == 200
    assert second["ledger_number"] in listed.text
    assert first["ledger_number"] not in listed.text
    assert "已接收" in listed.text  # the status in Chinese

    searched = await office.get("/desk", params={"q": "集体土地"})
    assert first["ledger_number"] in searched.text
    assert second["ledger_number"] not in searched.text
    too_short = await office.get("/desk", params={"q": "土地"})
    assert too_short.status_code == 422
    assert "检索内容" in too_short.text

    # The export the desk links to, with the desk's filters, answers the session.
    export = await office.get("/v1/ledger/export.csv", params={"village": "shd-v02"})
    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("text/csv")
    assert second["ledger_number"] in export.text
    assert first["ledger_number"] not in export.text
    assert 'href="/v1/ledger/export.xlsx?village=shd-v02"' in listed.text
    xlsx = await office.get("/v1/ledger/export.xlsx", params={"village": "shd-v02"})
    assert xlsx.status_code == 200
    assert xlsx.content.startswith(b"PK")

    # Handed to the police: waiting there, above the list, until accepted.
    third = await report(desk.js, summary="有人放高利贷暴力催收")
    waiting = await police.get("/desk")
    assert "待接收" not in waiting.text
    third_lead = await filed(desk.http, third)
    moved_to(
        await act(desk.http, third, "transfer", "office", to_unit="shd-police", reason="涉恶"),
        "transferred",
    )
    waiting = await police.get("/desk")
    assert "待接收" in waiting.text
    assert waiting.text.index("待接收") < waiting.text.index('id="ledger"')
    assert third_lead["ledger_number"] in waiting.text

    stats = await office.get("/desk/stats")
    assert stats.status_code == 200
    assert stats.text.count("<svg") == 4
    assert "style=" not in stats.text
    assert "前营村" in stats.text


async def test_a_page_asks_the_signed_out_to_sign_in_and_comes_back(
    desk: LedgerService,
) -> None:
    answer = await desk.http.get("/desk", params={"village": "shd-v02"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Fdesk%3Fvillage%3Dshd-v02"


async def test_the_desk_marks_leads_past_their_deadline_and_leads_left_unanswered(
    desk: LedgerService, person: Person
) -> None:
    # Filed a year ago and never answered (filed first: this year's numbering starts after).
    old = await filed_long_ago(desk, utc_now() - timedelta(days=400), 1)
    late = (await report_and_file(desk))["lead_id"]
    fresh = (await report_and_file(desk))["lead_id"]
    await handed_to_police(desk.http, late)
    await assigned_by_police(desk.http, late, utc_now() + timedelta(seconds=1))
    office, _ = await person("li.office", Role.OFFICE, "shd-office")

    marks: dict[str, set[str] | None] = {}

    async def late_is_marked() -> bool:
        listed = (await office.get("/desk")).text
        marks.update({lead_id: row_classes(listed, lead_id) for lead_id in (old, late, fresh)})
        return "overdue" in (marks[late] or set())

    await wait_until(late_is_marked)
    assert marks == {old: {"unanswered"}, late: {"overdue"}, fresh: set()}
    # The same leads the API's own filter calls overdue.
    overdue = await office.get("/desk", params={"overdue": "true"})
    assert row_classes(overdue.text, late) == {"overdue"}
    assert row_classes(overdue.text, old) is None
    page = await office.get(f"/desk/leads/{late}")
    assert "已超期" in page.text
