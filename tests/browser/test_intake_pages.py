"""Intake's pages in Chromium: a villager reports by name on a phone, keeps the receipt, reads
the office's answer with it and adds to the report; a clerk signs in and enters a lead from
a phone call; a screener imports the village's ledger and reads, row by row, what was
imported and what was not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from playwright.async_api import Page, expect
from pydantic import SecretStr
from sqlalchemy import create_engine, select

from common.database import sync_url
from common.events import Actor, Role, utc_now
from common.events.catalogue import FeedbackGiven, LeadRegistered, ReporterKind
from common.eventstore import EventStore
from common.streams import declare_streams
from common.subjects import Stream
from common.vocabulary import Category, Channel, Flag
from intake.bootstrap import create_app
from intake.projection.tables import reports
from tests.browser.conftest import Screenshots
from tests.conftest import NatsTarget, wait_until
from tests.support.accounts import accounts_key_b64, open_account, session_key_b64
from tests.support.apps import random_key
from tests.support.intake import (
    LEAD_REPORTED,
    OWN_VILLAGE,
    Keys,
    intake_events,
    intake_settings,
    report_of,
)
from tests.support.streams import subjects_on

pytestmark = pytest.mark.integration

PHONE = {"width": 390, "height": 844}
HOTLINE = "0396-1234567"
PASSWORD = "沙河店镇的一个好密码"
OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
ANSWER = "经核查，反映的收保护费问题属实，已移送公安机关处理。"


@dataclass(frozen=True)
class Intake:
    app: FastAPI
    url: str
    database_url: str
    js: JetStreamContext

    async def knows(self, user: str) -> None:
        """Wait until intake has read the account the administrator opened."""
        await wait_until(lambda: self.app.state.accounts.account(user) is not None)


@pytest.fixture
async def intake(
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
    serve: Callable[[FastAPI], Awaitable[str]],
) -> Intake:
    await declare_streams(js, list(Stream))
    database_url = f"sqlite:///{tmp_path / 'intake.db'}"
    settings = intake_settings(
        nats_target, database_url, tmp_path, Keys(identity=random_key(), receipt=random_key())
    ).model_copy(
        update={
            "accounts_key": SecretStr(accounts_key_b64()),
            "session_key": SecretStr(session_key_b64()),
            "hotline": HOTLINE,
        }
    )
    app = create_app(settings)
    return Intake(app, await serve(app), database_url, js)


async def the_only_lead(js: JetStreamContext) -> str:
    [subject] = await subjects_on(js, Stream.INTAKE, LEAD_REPORTED)
    return subject.split(".")[2]


async def answered_by_the_office(intake: Intake, lead_id: str) -> None:
    """The ledger registers the lead and answers the reporter; intake's read model takes it."""
    ledger = EventStore(intake.js, Stream.LEDGER, "ledger")
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
    await ledger.append(FeedbackGiven(lead_id=lead_id, text=ANSWER, actor=OFFICE))
    engine = create_engine(sync_url(intake.database_url))

    def answered() -> bool:
        with engine.connect() as conn:
            progress = conn.execute(
                select(reports.c.progress).where(reports.c.lead_id == lead_id)
            ).scalar()
        return progress == "answered"

    try:
        await wait_until(answered)
    finally:
        engine.dispose()


async def sign_in(page: Page, screenshot: Screenshots, base: str, user: str) -> None:
    """Asked for the entry desk, the person is sent to sign in, then back to it."""
    await page.goto(f"{base}/desk/entry")
    await expect(page).to_have_url(f"{base}/sign-in?next=%2Fdesk%2Fentry")
    await screenshot(page, "登录 sign-in")
    await page.fill("#user", user)
    await page.fill("#password", PASSWORD)
    await page.click("form[action='/sign-in'] button[type=submit]")
    await expect(page).to_have_url(f"{base}/desk/entry")
    await expect(page.locator("h1")).to_have_text("线索录入")


async def test_a_villager_reports_by_name_on_a_phone_and_follows_it_with_the_receipt(
    page: Page, screenshot: Screenshots, intake: Intake
) -> None:
    await page.set_viewport_size(PHONE)
    base = intake.url
    workers: list[str] = []
    page.on("worker", lambda worker: workers.append(worker.url))

    await page.goto(f"{base}/report")
    await expect(page.locator("h1")).to_have_text("我要举报")
    await screenshot(page, "举报 report")
    await page.select_option("#category", label="村霸")
    await page.select_option("#village", label="沙河店村")
    await page.fill("#summary", "村里有人强收保护费")
    await page.fill("#details", "每月初来收，不给就砸店，已经两年了。")
    await page.get_by_label("有没有干部或公职人员在背后给他们撑腰").check()
    await page.fill("#name", "王某")
    await page.fill("#phone", "13800000000")
    await page.locator("summary").click()
    await expect(page.locator("details")).to_contain_text("每次打开都必须写明理由")
    await expect(page.locator("[data-work-status]")).to_have_text("防滥用计算已完成，可以提交。")
    # Solved off the page's thread, by the project's own SHA-256 (a few million a second).
    assert [url.rsplit("/", 1)[-1] for url in workers] == ["work-worker.js"]
    await screenshot(page, "举报已填写 report filled")
    await page.click("button[type=submit]")

    receipt_box = page.locator("#receipt.receipt")
    await expect(receipt_box).to_be_visible()
    receipt = (await receipt_box.inner_text()).strip()
    assert len(receipt) == 23, receipt
    await expect(page.locator("main")).to_contain_text("请现在就把它抄在纸上")
    await expect(page.locator("button[data-copy=receipt]")).to_be_visible()
    assert receipt not in page.url
    await screenshot(page, "查询码 receipt")

    lead_id = await the_only_lead(intake.js)
    reported = await report_of(intake.js, lead_id)
    assert reported.reporter.kind is ReporterKind.NAMED
    assert reported.flags == (Flag.PROTECTIVE_UMBRELLA,)
    assert reported.channel is Channel.WEB
    await answered_by_the_office(intake, lead_id)

    await page.goto(f"{base}/my-report")
    await screenshot(page, "查询 look up")
    await page.fill("#receipt", receipt.lower().replace("-", ""))  # as written down
    await expect(page.locator("[data-work-status]")).to_have_text("防滥用计算已完成，可以提交。")
    await page.click("form[action='/my-report'] button[type=submit]")
    await expect(page.locator("#progress")).to_have_text("已反馈")
    await expect(page.locator("#answers")).to_contain_text(ANSWER)
    await expect(page.locator("#answers time")).to_contain_text("(UTC+8)")
    await screenshot(page, "进度和答复 status and answer")

    await page.get_by_label("补充举报内容").check()
    await page.fill("#text", "补充：收钱的人开一辆黑色面包车，车牌尾号 37。")
    add_form = page.locator("form[action='/my-report/add']")
    await expect(add_form.locator("[data-work-status]")).to_have_text(
        "防滥用计算已完成，可以提交。"
    )
    await add_form.locator("button[type=submit]").click()
    await expect(page.locator("p.done")).to_have_text("已收到您补充的内容。")
    await expect(page.locator("#additions")).to_contain_text("黑色面包车")
    await expect(page.locator("#additions")).to_contain_text("补充举报内容")
    await expect(page.locator("#progress")).to_have_text("已反馈")
    await screenshot(page, "已补充 added")

    assert receipt not in page.url
    assert await page.context.cookies() == []
    additions = [
        e for e in await intake_events(intake.js, lead_id) if e.event_type != "LeadReported"
    ]
    assert [(e.event_type, e.actor.role) for e in additions] == [
        ("LeadSupplemented", Role.REPORTER)
    ]


async def test_a_clerk_signs_in_and_enters_a_lead_from_a_phone_call(
    page: Page, screenshot: Screenshots, intake: Intake
) -> None:
    await open_account(intake.js, "li.clerk", Role.CLERK, "shd-office", PASSWORD)
    await intake.knows("li.clerk")
    await sign_in(page, screenshot, intake.url, "li.clerk")
    await screenshot(page, "线索录入 entry")

    channels = await page.locator("#channel option").all_inner_texts()
    assert "举报电话" in channels
    assert "网络举报" not in channels
    await page.select_option("#channel", label="举报电话")
    await page.select_option("#village", label="前营村")
    await page.select_option("#category", label="保护伞")
    await page.fill("#summary", "来电反映村支书包庇赌场")
    await page.fill("#details", "来电人称村东头的赌场有村支书撑腰，派出所去了几次都没查到。")
    await page.get_by_label("涉及党员或公职人员").check()
    await page.get_by_label("涉嫌保护伞").check()
    await page.fill("#name", "赵某")
    await page.fill("#phone", "13900000000")
    await screenshot(page, "电话线索已填写 phone lead filled")
    await page.click("form[action='/desk/entry'] button[type=submit]")

    await expect(page.locator("#entered")).to_be_visible()
    lead_id = (await page.locator("#entered").inner_text()).strip()
    assert page.url.endswith(f"/desk/entry?entered={lead_id}")
    await screenshot(page, "已录入 entered")

    reported = await report_of(intake.js, lead_id)
    assert reported.channel is Channel.HOTLINE
    assert reported.village == "shd-v02"
    assert reported.category is Category.PROTECTIVE_UMBRELLA
    assert set(reported.flags) == {Flag.INVOLVES_OFFICIAL, Flag.PROTECTIVE_UMBRELLA}
    assert reported.reporter.kind is ReporterKind.NAMED
    assert reported.actor.user == "li.clerk"
    assert reported.receipt_hash is None


LEDGER = (
    "线索类别,简要内容,详细情况,所属村\n"
    "村霸,村民反映有人强占集体鱼塘,强占三年，不交承包费,沙河店村\n"
    "没有这一类,村民反映有人放高利贷,利息每月一成,沙河店村\n"
)


async def test_a_screener_imports_the_village_ledger_and_reads_each_row(
    page: Page, screenshot: Screenshots, intake: Intake, tmp_path: Path
) -> None:
    await open_account(intake.js, "zhang.v01", Role.SCREENER, OWN_VILLAGE, PASSWORD)
    await intake.knows("zhang.v01")
    await sign_in(page, screenshot, intake.url, "zhang.v01")
    assert await page.locator("#channel option").all_inner_texts() == ["请选择", "村级摸排"]
    await screenshot(page, "摸排员的录入页 screener's entry")

    ledger = tmp_path / "沙河店村摸排台账.csv"
    ledger.write_text(LEDGER, encoding="utf-8")
    await page.set_input_files("#file", ledger)
    await page.click("form[action='/desk/entry/import'] button[type=submit]")

    await expect(page.locator("#import-results")).to_be_visible()
    await screenshot(page, "导入结果 import results")
    accepted = page.locator("tr[data-row='2']")
    refused = page.locator("tr[data-row='3']")
    await expect(accepted).to_have_attribute("data-result", "accepted")
    await expect(accepted).to_contain_text("已导入")
    await expect(refused).to_have_attribute("data-result", "rejected")
    await expect(refused).to_contain_text("未导入")
    await expect(refused.locator("li[data-field='category']")).to_have_text("线索类别不是可选的值")
    lead_id = (await accepted.locator("code").inner_text()).strip()
    reported = await report_of(intake.js, lead_id)
    assert reported.channel is Channel.VILLAGE_SCREENING
    assert reported.village == OWN_VILLAGE
    assert reported.actor.user == "zhang.v01"

    # The same file again files nothing twice.
    await page.set_input_files("#file", ledger)
    await page.click("form[action='/desk/entry/import'] button[type=submit]")
    await expect(page.locator("tr[data-row='2']")).to_have_attribute("data-result", "already")
    await screenshot(page, "再次导入 imported again")
    assert len(await subjects_on(intake.js, Stream.INTAKE, LEAD_REPORTED)) == 1
