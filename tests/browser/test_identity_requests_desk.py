"""Reading a named reporter's identity on the desk, two people always: a police officer asks
with a reason, one custodian refuses with a note the officer reads, the officer asks again,
a second custodian approves (the first cannot decide their own request, and is shown so), the
officer reads the identity once on a page that is not kept, and a second read is refused."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pyotp
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import create_engine, select

from common.database import sync_url
from common.events import Role, utc_now
from common.events.catalogue import IdentityDisclosed, LeadRegistered
from common.events.custody import IdentityAccessRefused
from common.eventstore import EventStore
from common.subjects import Stream
from common.vocabulary import Category, Channel
from common.work import solve
from intake.projection.tables import reports
from tests.browser.conftest import PageProblems, Screenshots
from tests.browser.test_intake_pages import (  # noqa: F401 - the fixture
    OFFICE,
    PASSWORD,
    Intake,
    intake,
)
from tests.conftest import wait_until
from tests.support.accounts import open_account
from tests.support.intake import OWN_VILLAGE, lead, unique, wait_until_projected
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

PAGE = "/desk/identity-requests"
REPORTER = {"name": "王某某", "phone": "13800000000"}

Person = tuple[str, str | None]  # user, TOTP secret


async def staff(served: Intake, user: str, role: Role, unit: str) -> Person:
    """An account opened by the administrator (a custodian with a second factor), once
    intake knows all of it."""
    secret = await open_account(
        served.js, user, role, unit, PASSWORD, second_factor=role is Role.CUSTODIAN
    )

    def known() -> bool:
        account = served.app.state.accounts.account(user)
        return (
            account is not None
            and account.password_hash is not None
            and (secret is None or account.sealed_secret is not None)
        )

    await wait_until(known)
    return user, secret


@asynccontextmanager
async def signed_in(
    browser: Browser, served: Intake, who: Person, screenshot: Screenshots
) -> AsyncIterator[Page]:
    """A browser of this person's own, signed in on the desk's page; any console error on
    it fails the test."""
    context = await browser.new_context(locale="zh-CN")
    page = await context.new_page()
    problems = PageProblems().attach(page)
    try:
        await page.goto(f"{served.url}{PAGE}")
        await expect(page).to_have_url(f"{served.url}/sign-in?next=%2Fdesk%2Fidentity-requests")
        await page.fill("#user", who[0])
        await page.fill("#password", PASSWORD)
        if who[1]:
            await page.fill("#code", pyotp.TOTP(who[1]).now())
        await page.click("form[action='/sign-in'] button[type=submit]")
        await expect(page).to_have_url(f"{served.url}{PAGE}")
        await expect(page.locator("h1")).to_have_text("查阅举报人身份")
        yield page
    finally:
        await context.close()
    problems.fail_if_any()


async def named_report(served: Intake) -> str:
    async with httpx.AsyncClient(base_url=served.url) as http:
        given = (await http.get("/v1/work/report")).json()
        reported = await http.post(
            "/v1/reports",
            json=lead(unique("村霸威胁证人"), identity=REPORTER),
            headers={"X-Work": solve(given["challenge"], given["bits"])},
        )
    assert reported.status_code == 201, reported.text
    lead_id: str = reported.json()["lead_id"]
    await wait_until_projected(served.database_url, lead_id)
    return lead_id


async def filed_to_the_police(served: Intake, lead_id: str) -> str:
    """The ledger files the lead to the police station (whose officers may then read it);
    its ledger number, once intake knows it."""
    number = f"SHD-2026-{secrets.randbelow(10**6):06d}"
    await EventStore(served.js, Stream.LEDGER, "ledger").append(
        LeadRegistered(
            for_committee=False,
            lead_id=lead_id,
            ledger_number=number,
            unit="shd-police",
            reported_at=utc_now(),
            channel=Channel.WEB,
            category=Category.VILLAGE_TYRANT,
            summary="村霸威胁证人",
            village=OWN_VILLAGE,
            actor=OFFICE,
        )
    )
    engine = create_engine(sync_url(served.database_url))

    def known() -> bool:
        with engine.connect() as conn:
            found = conn.execute(
                select(reports.c.ledger_number).where(reports.c.lead_id == lead_id)
            ).scalar()
        return found == number

    try:
        await wait_until(known)
    finally:
        engine.dispose()
    return number


async def ask(page: Page, lead_id: str, reason: str) -> None:
    await page.fill("#lead", lead_id)
    await page.select_option("#reason_category", "statement")
    await page.fill("#reason", reason)
    async with page.expect_navigation():
        await page.click("#form-ask button[type=submit]")
    await expect(page.locator("p.done")).to_contain_text("申请已提交")


async def the_request(page: Page, table: str) -> str:
    """The id of the one request in ``table`` (its row's id)."""
    row = page.locator(f"#{table} tbody tr").first
    found = await row.get_attribute("id")
    assert found is not None
    return found.removeprefix("request-")


async def test_two_custodians_decide_and_the_officer_reads_once(
    browser: Browser,
    intake: Intake,  # noqa: F811 - the fixture imported above
    screenshot: Screenshots,
) -> None:
    lead_id = await named_report(intake)
    number = await filed_to_the_police(intake, lead_id)
    officer = await staff(intake, "zhao.police", Role.POLICE, "shd-police")
    first = await staff(intake, "wang.custodian", Role.CUSTODIAN, "shd-discipline")
    second = await staff(intake, "li.custodian", Role.CUSTODIAN, "shd-discipline")

    async def clicked(on: Page, selector: str) -> None:
        async with on.expect_navigation():
            await on.click(selector)

    async with signed_in(browser, intake, officer, screenshot) as police:
        # No lead by that id: refused at the form, what was typed kept.
        await police.fill("#lead", "no-such-lead")
        await police.select_option("#reason_category", "statement")
        await police.fill("#reason", "需制作询问笔录")
        await clicked(police, "#form-ask button[type=submit]")
        await expect(police.locator("#lead-problem")).to_contain_text("没有这条线索")
        await expect(police.locator("#reason")).to_have_value("需制作询问笔录")
        await screenshot(police, "没有这条线索 refused")

        # Asked by the ledger number, which intake knows once the lead is filed.
        await ask(police, number, "需制作询问笔录")
        await expect(police.locator("#mine tbody tr")).to_have_count(1)
        await expect(police.locator("#mine tbody tr")).to_contain_text(number)
        await expect(police.locator("#mine td.state")).to_contain_text("待审批")
        refused_request = await the_request(police, "mine")
        await screenshot(police, "申请 asked")

        async with signed_in(browser, intake, first, screenshot) as custodian_a:
            row = f"#to-decide #request-{refused_request}"
            await expect(custodian_a.locator(row)).to_contain_text("zhao.police")
            await custodian_a.fill(
                f"#refuse-{refused_request}-reason", "理由不充分，请说明笔录用途"
            )
            await clicked(custodian_a, f"#refuse-{refused_request} button[type=submit]")
            await expect(custodian_a.locator("p.done")).to_contain_text("已拒绝")
            await expect(
                custodian_a.locator(f"#decided #request-{refused_request}")
            ).to_contain_text("理由不充分")

            await police.reload()
            state = police.locator(f"#request-{refused_request} td.state")
            await expect(state).to_contain_text("已拒绝")
            await expect(state).to_contain_text("理由不充分，请说明笔录用途")
            assert await police.locator(f"#read-{refused_request}").count() == 0

            # Asked again: custodian A's own request beside it is theirs to wait on, not
            # to decide.
            await ask(police, lead_id, "制作询问笔录，核实威胁证人一事")
            approved_request = await the_request(police, "mine")
            assert approved_request != refused_request
            await ask(custodian_a, lead_id, "核实举报内容")
            own = await the_request(custodian_a, "mine")
            await expect(custodian_a.locator(f"#mine #request-{own} td.state")).to_contain_text(
                "须另一名保管员审批"
            )
            assert await custodian_a.locator(f"#approve-{own}").count() == 0
            await screenshot(custodian_a, "保管员A own request waits")

            # Posted by hand as if the page offered it: the rule says no, and says why.
            token = await custodian_a.locator("#form-ask input[name=csrf_token]").input_value()
            answer = await custodian_a.request.post(
                f"{intake.url}{PAGE}/{lead_id}/{own}/approve",
                form={"csrf_token": token, "valid_hours": "24"},
            )
            assert answer.status == 403
            assert "另一名保管员" in await answer.text()

        async with signed_in(browser, intake, second, screenshot) as custodian_b:
            # Both pending requests are B's to decide, custodian A's own among them.
            for pending in (approved_request, own):
                await expect(custodian_b.locator(f"#approve-{pending}")).to_have_count(1)
            await custodian_b.fill(f"#approve-{approved_request}-hours", "2")
            await clicked(custodian_b, f"#approve-{approved_request} button[type=submit]")
            await expect(custodian_b.locator("p.done")).to_contain_text("已批准")
            await screenshot(custodian_b, "保管员B approved")

        await police.reload()
        await expect(police.locator(f"#request-{approved_request} td.state")).to_contain_text(
            "前可查阅一次"
        )
        await screenshot(police, "已批准 approved")
        read_form = f"#read-{approved_request}"
        token = await police.locator(f"{read_form} input[name=csrf_token]").input_value()
        answer = await clicked_for(police, f"{read_form} button[type=submit]")
        assert answer == "no-store, max-age=0"
        await expect(police.locator("#identity")).to_contain_text("王某某")
        await expect(police.locator("#identity")).to_contain_text("13800000000")
        await expect(police.locator("main")).to_contain_text("不会再次显示")
        await screenshot(police, "身份 read once")

        # The second read, posted as the button would: refused, and the identity not shown.
        again = await police.request.post(
            f"{intake.url}{PAGE}/{lead_id}/{approved_request}/read", form={"csrf_token": token}
        )
        assert again.status == 409
        text = await again.text()
        assert "不能查阅" in text
        assert "13800000000" not in text
        await police.goto(f"{intake.url}{PAGE}")
        await expect(police.locator(f"#request-{approved_request} td.state")).to_contain_text(
            "查阅"
        )
        assert await police.locator(f"#read-{approved_request}").count() == 0

    disclosed = [
        e
        for e in await events_on(
            intake.js, Stream.INTAKE, f"intake.lead.{lead_id}.IdentityDisclosed"
        )
        if isinstance(e, IdentityDisclosed)
    ]
    assert [e.request_id for e in disclosed] == [approved_request]
    assert disclosed[0].actor.user == "zhao.police"
    [refusal] = await events_on(
        intake.js, Stream.INTAKE, f"intake.lead.{lead_id}.IdentityAccessRefused"
    )
    assert isinstance(refusal, IdentityAccessRefused)
    assert refusal.actor.user == "wang.custodian"


async def clicked_for(page: Page, selector: str) -> str | None:
    """Clicks, and answers the Cache-Control header of the page it led to."""
    async with page.expect_navigation() as navigation:
        await page.click(selector)
    response = await navigation.value
    assert response is not None
    assert response.status == 200
    return await response.header_value("cache-control")
