"""The committee desk (纪委监督台) in Chromium: a committee member signs in with the code from
their phone, finds the protective-umbrella case first, reads it, is told inline when a
decision breaks a rule, lists the case's supervision with a unit and a deadline and sees it
recorded; their reads are in the access log, and the assessment's spreadsheet downloads with
the session. An auditor reads the same case with no form to decide with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from playwright.async_api import Page

from common.events import Role, utc_now
from common.events.catalogue import SupervisionListed
from common.streams import declare_streams
from common.subjects import Stream
from common.times import CHINA
from common.vocabulary import Flag
from oversight.bootstrap import create_app
from tests.browser.conftest import Screenshots
from tests.conftest import NatsTarget, wait_until
from tests.support.oversight import (
    DISCIPLINE,
    PASSWORD,
    POLICE,
    Person,
    case_of,
    desk_settings,
    person,
    report,
    umbrella_case,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Desk:
    app: FastAPI
    url: str
    api: httpx.AsyncClient  # the API, with the committee's token where a test asks for it


@pytest.fixture
async def desk(
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
    serve: Callable[[FastAPI], Awaitable[str]],
) -> AsyncIterator[Desk]:
    await declare_streams(js, list(Stream))
    app = create_app(desk_settings(nats_target, f"sqlite:///{tmp_path / 'oversight.db'}", tmp_path))
    url = await serve(app)
    async with httpx.AsyncClient(base_url=url) as api:
        yield Desk(app, url, api)


async def sign_in(page: Page, screenshot: Screenshots, desk: Desk, who: Person) -> None:
    """From the desk to the shared sign-in page and back, as a person does it."""
    await page.goto(f"{desk.url}/desk")
    assert page.url.startswith(f"{desk.url}/sign-in?next=")
    await screenshot(page, "登录 sign-in")
    await page.fill("#user", who.user)
    await page.fill("#password", PASSWORD)
    await page.fill("#code", who.code())
    async with page.expect_navigation():
        await page.click("main form button[type=submit]")
    assert page.url == f"{desk.url}/desk"


async def shown_after_reloads(page: Page, selector: str, text: str) -> None:
    """The page shows ``text`` in ``selector`` once the read model has it (reloading, as a
    person does, until it does)."""

    async def shown() -> bool:
        found = await page.locator(selector).all_inner_texts()
        if any(text in t for t in found):
            return True
        await page.reload()
        return False

    await wait_until(shown)


async def test_a_member_lists_supervision_of_the_umbrella_case_and_sees_it_recorded(
    desk: Desk, js: JetStreamContext, page: Page, screenshot: Screenshots
) -> None:
    # An official's case opened first; the umbrella's, opened after it, is listed first.
    official = await report(js, flags=(Flag.INVOLVES_OFFICIAL,), summary="村支书入股地下赌场")
    await case_of(desk.api, official.lead_id)
    case = await umbrella_case(js, desk.api)
    member = await person(js, desk.app, "sun.jiwei", Role.DISCIPLINE, DISCIPLINE)

    await sign_in(page, screenshot, desk, member)
    await screenshot(page, "案件列表 cases")
    first = page.locator("tbody tr").first
    assert "保护伞" in await first.inner_text()
    assert "派出所副所长为赌场充当保护伞" in await first.inner_text()
    assert "已立案" in await first.inner_text()
    assert "村支书入股地下赌场" in await page.locator("tbody tr").nth(1).inner_text()

    await first.get_by_role("link").click()
    await page.wait_for_url(f"{desk.url}/desk/cases/{case['case_id']}")
    await screenshot(page, "案件 case")
    assert await page.inner_text("h1") == "案件（线索未登记） · 保护伞案件"
    assert "派出所副所长为赌场充当保护伞" in await page.inner_text("#report-heading + p + p")
    assert await page.locator("form.decision").count() == 6

    # A gang lead nobody reported: refused, said on the form, what was typed kept.
    await page.fill("#link-gang_lead_id", "no-such-lead-0001")
    async with page.expect_navigation():
        await page.click("#decide-link button[type=submit]")
    await screenshot(page, "规则不允许 refused inline")
    problem = page.locator("#decide-link .problem")
    assert "没有编号为 no-such-lead-0001 的线索" in await problem.inner_text()
    assert await page.input_value("#link-gang_lead_id") == "no-such-lead-0001"

    in_a_week = (utc_now().astimezone(CHINA) + timedelta(days=7)).date()
    await page.select_option("#list-supervision-unit", POLICE)
    await page.fill("#list-supervision-deadline", in_a_week.isoformat())
    await page.select_option("#list-supervision-level", "county")
    async with page.expect_navigation():
        await page.click("#decide-list-supervision button[type=submit]")
    assert page.url.endswith("?done=list-supervision")
    assert "已挂牌督办" in await page.inner_text("p.done")
    await shown_after_reloads(page, "#supervision", "挂牌督办（县级）")
    await screenshot(page, "已挂牌督办 listed")
    row = await page.inner_text("#supervision tbody tr")
    assert "沙河店派出所" in row
    assert f"{in_a_week.isoformat()} 23:59 北京时间" in row
    await shown_after_reloads(page, "#case-status", "挂牌督办")

    [listed] = await events_on(
        js, Stream.DIRECTIVES, f"directive.lead.{case['lead_id']}.SupervisionListed"
    )
    assert isinstance(listed, SupervisionListed)
    assert (listed.unit, listed.level) == (POLICE, "county")
    assert listed.deadline.astimezone(CHINA).date() == in_a_week

    # The member's reads of the case are recorded like anyone's.
    await page.click("nav.card >> text=访问记录")
    await shown_after_reloads(page, "#access-log", "sun.jiwei")
    await screenshot(page, "访问记录 access log")
    assert case["lead_id"] in await page.inner_text("#access-log")

    await page.click("nav.card >> text=督办清单")
    await page.wait_for_url(f"{desk.url}/desk/supervisions")
    await screenshot(page, "督办清单 supervisions")
    await page.click("nav.card >> text=通风报信风险")
    await page.wait_for_url(f"{desk.url}/desk/leak-risk")
    await screenshot(page, "通风报信风险 leak risk")
    await page.click("nav.card >> text=考核")
    await page.wait_for_url(f"{desk.url}/desk/assessments")
    await screenshot(page, "考核 assessment")
    async with page.expect_download() as downloading:
        await page.click("#assessment-xlsx")
    download = await downloading.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert saved.startswith(b"PK")


async def test_an_auditor_reads_the_umbrella_case_with_no_form_to_decide_with(
    desk: Desk, js: JetStreamContext, page: Page, screenshot: Screenshots
) -> None:
    case = await umbrella_case(js, desk.api)
    auditor = await person(js, desk.app, "qian.audit", Role.AUDITOR, "county")

    await sign_in(page, screenshot, desk, auditor)
    await screenshot(page, "案件列表 cases")
    await page.click(f"a[href='/desk/cases/{case['case_id']}']")
    await page.wait_for_url(f"{desk.url}/desk/cases/{case['case_id']}")
    await screenshot(page, "案件 case")
    assert "派出所副所长为赌场充当保护伞" in await page.inner_text("main")
    assert await page.locator("form.decision").count() == 0
    assert await page.locator("#decide-heading").count() == 0
