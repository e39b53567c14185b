"""The committee desk (纪委监督台) as people's pages, over HTTP: only the committee, auditors and
administrators see it; only a member decides, with a form this desk made for their session;
a broken rule is told on the form, a concurrent change says so; the assessment's spreadsheet
comes with the session cookie."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from common.events import Role, utc_now
from common.eventstore import ConcurrencyConflict
from common.subjects import Stream
from common.times import CHINA
from oversight.reports import XLSX
from tests.conftest import NatsTarget
from tests.support.oversight import (
    DISCIPLINE,
    POLICE,
    OversightService,
    Person,
    csrf_token_of,
    desk_settings,
    person,
    serving_oversight,
    sign_in_on_page,
    umbrella_case,
)
from tests.support.streams import count_on

pytestmark = pytest.mark.integration


@pytest.fixture
async def desk(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[OversightService]:
    settings = desk_settings(nats_target, f"sqlite:///{tmp_path / 'oversight.db'}", tmp_path)
    async with serving_oversight(settings) as service:
        yield service


async def decisions_on(js: JetStreamContext, lead_id: str) -> int:
    """How many of the committee's decisions are recorded on the lead."""
    oversight = await count_on(js, Stream.OVERSIGHT, f"oversight.lead.{lead_id}.>")
    directives = await count_on(js, Stream.DIRECTIVES, f"directive.lead.{lead_id}.>")
    return oversight + directives


async def member(streams: JetStreamContext, desk: OversightService) -> Person:
    return await person(streams, desk.app, "sun.jiwei", Role.DISCIPLINE, DISCIPLINE)


async def test_the_desk_is_the_committees_a_police_officer_signed_in_is_refused_it(
    desk: OversightService, streams: JetStreamContext
) -> None:
    case = await umbrella_case(streams, desk.http)
    path = f"/desk/cases/{case['case_id']}"
    before = await decisions_on(streams, case["lead_id"])

    nobody = await desk.http.get("/desk")
    assert nobody.status_code == 303
    assert nobody.headers["location"] == "/sign-in?next=%2Fdesk"

    officer = await person(streams, desk.app, "zhao.police", Role.POLICE, POLICE)
    await sign_in_on_page(desk.http, officer)
    for page in ("/desk", path, "/desk/supervisions", "/desk/access-log", "/desk/leak-risk"):
        refused = await desk.http.get(page)
        assert refused.status_code == 403, page
        assert "纪委监督台只对纪委、审计人员和管理员开放" in refused.text
        assert "派出所副所长" not in refused.text
    # Even with the token of the officer's own session, a decision is not theirs to make.
    token = csrf_token_of(refused)
    posted = await desk.http.post(
        f"{path}/supervise", data={"csrf_token": token, "reason": "派出所自己督办自己"}
    )
    assert posted.status_code == 403
    assert await decisions_on(streams, case["lead_id"]) == before


async def test_a_form_without_the_token_its_page_gave_changes_nothing(
    desk: OversightService, streams: JetStreamContext
) -> None:
    case = await umbrella_case(streams, desk.http)
    path = f"/desk/cases/{case['case_id']}"
    await sign_in_on_page(desk.http, await member(streams, desk))
    page = await desk.http.get(path)
    assert page.status_code == 200
    token = csrf_token_of(page)
    before = await decisions_on(streams, case["lead_id"])

    for form in ({}, {"csrf_token": ""}, {"csrf_token": token[:-2] + "xx"}):
        refused = await desk.http.post(f"{path}/supervise", data={**form, "reason": "跨站伪造"})
        assert refused.status_code == 403, form
        assert "表单已失效" in refused.text
    assert await decisions_on(streams, case["lead_id"]) == before

    # The same form with its token is taken, and answered with the case page to load.
    taken = await desk.http.post(f"{path}/supervise", data={"csrf_token": token, "reason": "督促"})
    assert taken.status_code == 303, taken.text
    assert taken.headers["location"] == f"{path}?done=supervise"
    assert await decisions_on(streams, case["lead_id"]) > before


async def test_a_broken_rule_is_told_on_its_form_keeping_what_was_typed(
    desk: OversightService, streams: JetStreamContext
) -> None:
    case = await umbrella_case(streams, desk.http)
    path = f"/desk/cases/{case['case_id']}"
    await sign_in_on_page(desk.http, await member(streams, desk))
    token = csrf_token_of(await desk.http.get(path))
    before = await decisions_on(streams, case["lead_id"])
    yesterday = (utc_now().astimezone(CHINA) - timedelta(days=1)).date().isoformat()

    past = await desk.http.post(
        f"{path}/list-supervision",
        data={"csrf_token": token, "unit": POLICE, "deadline": yesterday, "level": "county"},
    )
    assert past.status_code == 422  # refused, said at its form
    assert "督办时限必须晚于现在" in past.text
    assert f'value="{yesterday}"' in past.text
    assert '<option value="county" selected>' in past.text

    unknown = await desk.http.post(
        f"{path}/link", data={"csrf_token": token, "gang_lead_id": "no-such-lead-0001"}
    )
    assert unknown.status_code == 422  # refused, said at its form
    assert "涉黑涉恶线索：没有编号为 no-such-lead-0001 的线索" in unknown.text
    assert 'aria-invalid="true"' in unknown.text

    short = await desk.http.post(f"{path}/escalate", data={"csrf_token": token, "reason": "急"})
    assert short.status_code == 422  # refused, said at its form
    assert "理由太短" in short.text
    assert await decisions_on(streams, case["lead_id"]) == before


async def test_a_change_made_meanwhile_by_someone_else_is_said_and_the_case_shown_anew(
    desk: OversightService, streams: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = await umbrella_case(streams, desk.http)
    path = f"/desk/cases/{case['case_id']}"
    await sign_in_on_page(desk.http, await member(streams, desk))
    token = csrf_token_of(await desk.http.get(path))

    async def changed_meanwhile(*_: Any) -> None:
        raise ConcurrencyConflict(case["lead_id"], 1)

    monkeypatch.setattr(desk.oversight, "execute", changed_meanwhile)
    answer = await desk.http.post(f"{path}/escalate", data={"csrf_token": token, "reason": "提级"})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{path}?changed=true"
    shown = await desk.http.get(answer.headers["location"])
    assert shown.status_code == 200
    assert "该案件刚被他人修改" in shown.text


async def test_an_auditor_reads_the_case_and_has_no_form_to_decide_with(
    desk: OversightService, streams: JetStreamContext
) -> None:
    case = await umbrella_case(streams, desk.http)
    path = f"/desk/cases/{case['case_id']}"
    auditor = await person(streams, desk.app, "qian.audit", Role.AUDITOR, "county")
    await sign_in_on_page(desk.http, auditor)
    page = await desk.http.get(path)
    assert page.status_code == 200
    assert "派出所副所长为赌场充当保护伞" in page.text
    assert 'class="decision"' not in page.text
    before = await decisions_on(streams, case["lead_id"])

    posted = await desk.http.post(
        f"{path}/supervise", data={"csrf_token": csrf_token_of(page), "reason": "审计督办"}
    )
    assert posted.status_code == 403
    assert "审计人员和管理员只能查阅" in posted.text
    assert await decisions_on(streams, case["lead_id"]) == before


async def test_the_assessment_page_links_a_spreadsheet_that_comes_with_the_session_cookie(
    desk: OversightService, streams: JetStreamContext
) -> None:
    auditor = await person(streams, desk.app, "qian.audit", Role.AUDITOR, "county")
    await sign_in_on_page(desk.http, auditor)
    page = await desk.http.get("/desk/assessments", params={"lang": "en"})
    assert page.status_code == 200
    assert 'href="/v1/oversight/assessments.xlsx?lang=en"' in page.text

    sheet = await desk.http.get("/v1/oversight/assessments.xlsx", params={"lang": "en"})
    assert sheet.status_code == 200
    assert sheet.headers["content-type"] == XLSX
    assert sheet.content.startswith(b"PK")
    desk.http.cookies.clear()
    assert (await desk.http.get("/v1/oversight/assessments.xlsx")).status_code == 401


async def test_every_desk_page_reads_in_english_when_asked(
    desk: OversightService, streams: JetStreamContext
) -> None:
    case = await umbrella_case(streams, desk.http)
    await sign_in_on_page(desk.http, await member(streams, desk))
    pages = {
        "/desk": "Protective-umbrella cases first",
        f"/desk/cases/{case['case_id']}": "Listed supervision",
        "/desk/supervisions": "Every supervision",
        "/desk/access-log": "Who read what",
        "/desk/leak-risk": "within 48 hours before",
        "/desk/assessments": "Download as Excel",
    }
    for path, said in pages.items():
        page = await desk.http.get(path, params={"lang": "en"})
        assert page.status_code == 200, path
        assert '<html lang="en">' in page.text, path
        assert said in page.text, path
        # Links within the desk keep the language.
        assert 'href="/desk/supervisions?lang=en"' in page.text, path
