"""The ledger desk in Chromium: a lead entered by a clerk goes from the office to the police
and back to the archive, each step through the desk's forms, each person signed in with an
account on the ledger's own sign-in page; a step the rules refuse is said at its form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from playwright.async_api import Page, expect

from common.events import Role, utc_now
from common.streams import declare_streams
from common.subjects import Stream
from common.times import CHINA
from ledger.bootstrap import create_app
from tests.browser.conftest import Screenshots
from tests.conftest import NatsTarget, wait_until
from tests.support.accounts import open_account
from tests.support.ledger import desk_settings, filed, report

PASSWORD = "沙河店镇的一个好密码"
PEOPLE = (
    ("li.office", Role.OFFICE, "shd-office"),
    ("zhang.police", Role.POLICE, "shd-police"),
    ("liu.police", Role.POLICE, "shd-police"),
)


async def desk_for(
    people: Sequence[tuple[str, Role, str]],
    serve: Callable[[FastAPI], Awaitable[str]],
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
) -> str:
    """The ledger served over HTTP with an account for each person (password PASSWORD),
    once it knows them all; its address."""
    await declare_streams(js, list(Stream))
    app = create_app(desk_settings(nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path))
    base = await serve(app)
    accounts = app.state.runtime.accounts
    for user, role, unit in people:
        await open_account(js, user, role, unit, PASSWORD)
    await wait_until(
        lambda: all(
            (found := accounts.account(user)) is not None and found.password_hash
            for user, _, _ in people
        )
    )
    return base


async def sign_in(page: Page, screenshot: Screenshots, base: str, user: str) -> None:
    await page.goto(f"{base}/desk")
    await expect(page.locator("h1")).to_have_text("工作人员登录")
    await screenshot(page, f"sign-in {user}")
    await page.fill("#user", user)
    await page.fill("#password", PASSWORD)
    await page.click("main button[type=submit]")
    await page.wait_for_url(f"{base}/desk")
    await expect(page.locator("h1")).to_have_text("线索台账")
    await screenshot(page, f"desk {user}")


async def sign_out(page: Page) -> None:
    await page.click("header .tools button")
    await expect(page.locator("h1")).to_have_text("工作人员登录")


async def send(page: Page, screenshot: Screenshots, form: str, recorded: str) -> None:
    """Sends the lead page's form and waits for the lead as the command left it."""
    await page.click(f"#form-{form} button[type=submit]")
    await expect(page.locator("p.done")).to_have_text(f"已记录：{recorded}")
    await screenshot(page, f"{form} recorded")


async def test_a_lead_goes_from_the_office_to_the_police_and_to_the_archive(
    page: Page,
    screenshot: Screenshots,
    serve: Callable[[FastAPI], Awaitable[str]],
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
) -> None:
    base = await desk_for(PEOPLE, serve, js, nats_target, tmp_path)
    # A clerk takes a call on the hotline and enters it (as intake records it).
    lead_id = await report(
        js,
        summary="村霸王某强占集体鱼塘，威胁村民",
        details="举报人电话反映：王某多次带人到鱼塘闹事。\n村民不敢报警。",
    )
    async with httpx.AsyncClient(base_url=base) as http:
        number = (await filed(http, lead_id))["ledger_number"]

    # The office hands it to the police.
    await sign_in(page, screenshot, base, "li.office")
    row = page.locator(f"tr[data-lead='{lead_id}']")
    await expect(row).to_contain_text("已登记")
    await expect(row).to_contain_text("举报电话")
    await expect(row.locator("time").first).to_contain_text("UTC+8")
    await row.get_by_role("link", name=number).click()
    await expect(page.locator("h1")).to_contain_text(number)
    await expect(page.locator("#report-heading + p")).to_contain_text("村霸王某强占集体鱼塘")
    await screenshot(page, "lead registered")
    await page.select_option("#transfer-to_unit", "shd-police")
    await page.fill("#transfer-reason", "涉嫌寻衅滋事，移交派出所核查")
    await send(page, screenshot, "transfer", "移交")
    await expect(page.locator("#status")).to_have_text("已移交")
    await sign_out(page)

    # The police find it waiting for them, accept it, assign it and conclude it.
    await sign_in(page, screenshot, base, "zhang.police")
    waiting = page.locator("section[aria-labelledby='waiting-heading']")
    await expect(waiting).to_contain_text(number)
    await waiting.get_by_role("button", name="接收").click()
    await expect(page.locator("p.done")).to_have_text("已记录：接收")
    await screenshot(page, "accept recorded")
    await page.select_option("#assign-assignee", "liu.police")
    await page.fill("#assign-deadline", "2020-01-31")
    async with page.expect_navigation() as refused:
        await page.click("#form-assign button[type=submit]")
    # Refused: the page says so with its status, the problem at the form, and what was
    # chosen is kept.
    assert (await refused.value).status == 422
    await expect(page.locator("#form-assign [role=alert]")).to_contain_text("办理时限必须晚于现在")
    await expect(page.locator("#status")).to_have_text("已接收")
    await expect(page.locator("#assign-assignee")).to_have_value("liu.police")
    await screenshot(page, "assign refused")
    due = (utc_now() + timedelta(days=20)).astimezone(CHINA).date().isoformat()
    await page.fill("#assign-deadline", due)
    await send(page, screenshot, "assign", "责任到人")
    await expect(page.locator("#status")).to_have_text("已责任到人")
    await page.select_option("#conclude-result", "substantiated")
    await page.fill("#conclude-summary", "经查，王某强占鱼塘属实，已依法处理。")
    await send(page, screenshot, "conclude", "办结")
    await expect(page.locator("#status")).to_have_text("已办结")
    await sign_out(page)

    # The office answers the reporter, then archives the file.
    await sign_in(page, screenshot, base, "li.office")
    await page.locator(f"tr[data-lead='{lead_id}']").get_by_role("link", name=number).click()
    await expect(page.locator("#status")).to_have_text("已办结")
    # Archiving waits for the answer to the reporter: it is not offered yet.
    await expect(page.locator("#form-archive")).to_have_count(0)
    await screenshot(page, "concluded, not answered")
    await page.fill("#feedback-text", "您反映的问题经查属实，已依法处理，感谢您的举报。")
    await send(page, screenshot, "feedback", "答复举报人")
    await expect(page.locator("#status")).to_have_text("已反馈")
    await send(page, screenshot, "archive", "归档")
    await expect(page.locator("#status")).to_have_text("已归档")
    timeline = page.locator("ol.timeline > li")
    await expect(timeline).to_have_count(7)
    for event in (
        "LeadRegistered",
        "LeadTransferred",
        "TransferAccepted",
        "ResponsibilityAssigned",
        "LeadConcluded",
        "FeedbackGiven",
        "LeadArchived",
    ):
        await expect(page.locator(f"ol.timeline > li[data-event='{event}']")).to_have_count(1)
    await expect(page.locator("li[data-event='ResponsibilityAssigned']")).to_contain_text(
        "zhang.police"
    )
    await expect(page.locator("ol.thread")).to_contain_text("感谢您的举报")
    await page.get_by_role("link", name="English").click()
    await expect(page.locator("#status")).to_have_text("archived")
    await expect(page.locator("#timeline-heading")).to_have_text("History")
    await screenshot(page, "archived lead in English")
    await page.get_by_role("link", name="中文").click()
    await expect(page.locator("#status")).to_have_text("已归档")

    # The ledger as the office sees it now, its export and its statistics.
    await page.goto(f"{base}/desk?status=archived")
    await expect(page.locator(f"tr[data-lead='{lead_id}']")).to_contain_text("已归档")
    await screenshot(page, "desk archived")
    async with page.expect_download() as exported:
        await page.get_by_role("link", name="导出 CSV").click()
    download = await exported.value
    saved = tmp_path / "ledger.csv"
    await download.save_as(saved)
    assert number in saved.read_text("utf-8-sig")
    await page.goto(f"{base}/desk/stats")
    await expect(page.locator("svg.chart")).to_have_count(4)
    await expect(page.locator("#on-time")).to_contain_text("100%")
    await screenshot(page, "stats")
