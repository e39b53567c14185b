"""Campaigns on the desk in Chromium (自查自纠): the office opens a self-inspection of two items
for the police station and a village, each unit's person signs in and answers every item on
the page, and the office turns an open answer into a rectification item that shows on the
整改台账; each step through the desk's forms. A unit sees its own answers alone, a unit not
asked finds no such campaign, and what the rules refuse is said at its form in Chinese."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from nats.js import JetStreamContext
from playwright.async_api import Page, expect

from common.events import Role, utc_now
from common.times import CHINA
from tests.browser.conftest import Screenshots
from tests.browser.test_ledger_desk import desk_for, send, sign_in, sign_out
from tests.conftest import NatsTarget

PEOPLE = (
    ("li.office", Role.OFFICE, "shd-office"),
    ("zhang.police", Role.POLICE, "shd-police"),
    ("zhao.v01", Role.SCREENER, "shd-v01"),
    ("chen.judicial", Role.JUDICIAL, "shd-judicial"),
)
TITLE = "2026年扫黑除恶线索核查自查自纠"
CHECKLIST = ("线索台账是否健全、归宗建档", "是否按时向举报人反馈")
POLICE_NOTE = "尚有两条线索未反馈举报人，正在补办"
VILLAGE_NOTE = "两户未回访"


def china_day(days: int) -> str:
    return (utc_now() + timedelta(days=days)).astimezone(CHINA).date().isoformat()


async def refused(page: Page, form: str, status: int) -> None:
    """Sends the form and expects the page again, answered with ``status``."""
    async with page.expect_navigation() as answer:
        await page.click(f"#form-{form} button[type=submit]")
    assert (await answer.value).status == status


async def test_a_self_inspection_is_opened_answered_by_each_unit_and_turned_into_an_item(
    page: Page,
    screenshot: Screenshots,
    serve: Callable[[FastAPI], Awaitable[str]],
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
) -> None:
    base = await desk_for(PEOPLE, serve, js, nats_target, tmp_path)

    # The office opens the self-inspection from the navigation; without units it is refused.
    await sign_in(page, screenshot, base, "li.office")
    await page.click("nav >> text=自查自纠")
    await expect(page.locator("h1")).to_have_text("自查自纠 · 回头看")
    await page.select_option("#open-campaign_kind", "self_check")
    await page.fill("#open-title", TITLE)
    await page.fill("#open-from", china_day(-30))
    await page.fill("#open-to", china_day(0))
    await page.fill("#open-checklist", "\n".join(CHECKLIST))
    await page.fill("#open-deadline", china_day(7))
    await refused(page, "open", 422)
    await expect(page.locator("#problems")).to_contain_text("参加自查的单位")
    await expect(page.locator("#open-title")).to_have_value(TITLE)
    await page.check("#open-units input[value=shd-police]")
    await page.check("#open-units input[value=shd-v01]")
    # A checklist item over its length is refused, naming the field.
    token = await page.locator("#form-open input[name=csrf_token]").input_value()
    opened = {
        "csrf_token": token,
        "campaign_kind": "self_check",
        "title": TITLE,
        "from": china_day(-30),
        "to": china_day(0),
        "units": "shd-police",
        "deadline": china_day(7),
    }
    answer = await page.request.post(
        f"{base}/desk/campaigns", form={**opened, "checklist": "查" * 501}
    )
    assert answer.status == 422
    assert "检查事项" in await answer.text()
    # A form without the session's token is stale, and nothing is opened.
    answer = await page.request.post(
        f"{base}/desk/campaigns", form={**opened, "checklist": "一项", "csrf_token": "forged"}
    )
    assert answer.status == 403
    assert "表单已失效" in await answer.text()
    await send(page, screenshot, "open", "开展工作")
    await expect(page.locator("#checklist li")).to_have_count(2)
    await expect(page.locator("#answered")).to_have_text("0/2 个单位已填报")
    # Nobody of the office answers for a unit: no such form for it.
    await expect(page.locator("#form-answers")).to_have_count(0)
    campaign = page.url.split("?")[0]
    campaign_id = campaign.rsplit("/", 1)[1]
    await sign_out(page)

    # A unit not asked: the campaign is not in its list, and by address it does not exist.
    await sign_in(page, screenshot, base, "chen.judicial")
    await page.goto(f"{base}/desk/campaigns")
    await expect(page.locator("#campaigns")).to_have_count(0)
    response = await page.goto(campaign)
    assert response is not None
    assert response.status == 404
    await expect(page.locator("h1")).to_have_text("未找到")
    await screenshot(page, "not asked")
    # Answering it by hand finds no such campaign either.
    token = await page.locator("header input[name=csrf_token]").input_value()
    answer = await page.request.post(
        f"{campaign}/answers", form={"csrf_token": token, "answer-1": "done", "answer-2": "done"}
    )
    assert answer.status == 404
    await sign_out(page)

    # The police find it waiting on them and answer: item 2 not done needs a note first.
    await sign_in(page, screenshot, base, "zhang.police")
    await page.goto(f"{base}/desk/campaigns")
    row = page.locator(f"#campaigns tr[data-campaign='{campaign_id}']")
    await expect(row.locator(".answered")).to_have_text("本单位未填报")
    await row.get_by_role("link").click()
    await expect(page.locator("#form-tasks")).to_have_count(0)
    await expect(page.locator("#report")).to_have_count(0)
    await page.check("#answer-1-done")
    await page.click("#answer-1 summary")
    await page.fill("#evidence_name-1", "线索台账.xlsx")
    await page.fill("#evidence_size-1", "20480")
    await page.fill("#evidence_sha256-1", "a" * 64)
    await page.check("#answer-2-not")
    await refused(page, "answers", 422)
    await expect(page.locator("#form-answers [role=alert]")).to_contain_text("第 2 项")
    await expect(page.locator("#answer-2-not")).to_be_checked()
    await page.fill("#remark-2", POLICE_NOTE)
    await send(page, screenshot, "answers", "填报自查情况")
    mine = page.locator("#answers tbody tr")
    await expect(mine).to_have_count(2)
    await expect(page.locator("#answers tr[data-unit=shd-police][data-item='1']")).to_contain_text(
        "线索台账.xlsx"
    )
    # What is the office's to do is refused even when sent by hand.
    token = await page.locator("#form-answers input[name=csrf_token]").input_value()
    answer = await page.request.post(
        f"{campaign}/close", form={"csrf_token": token, "closing_remark": "我来结束"}
    )
    assert answer.status == 403
    assert "不能进行此项操作" in await answer.text()
    await page.goto(f"{base}/desk/campaigns")
    await expect(row.locator(".answered")).to_contain_text("本单位已填报")
    await sign_out(page)

    # The village answers for itself and never sees the police station's answers.
    await sign_in(page, screenshot, base, "zhao.v01")
    await page.goto(campaign)
    await expect(page.locator("#answers tr[data-unit=shd-police]")).to_have_count(0)
    await expect(page.locator("main")).not_to_contain_text(POLICE_NOTE)
    await page.check("#answer-1-done")
    await page.check("#answer-2-partly")
    await page.fill("#remark-2", VILLAGE_NOTE)
    await send(page, screenshot, "answers", "填报自查情况")
    await expect(page.locator("#answers tbody tr")).to_have_count(2)
    await expect(page.locator("#answers tr[data-unit=shd-police]")).to_have_count(0)
    await sign_out(page)

    # The office sees both units' answers and turns the police's open item into a
    # rectification item; a wrong responsible person is refused first, at the form.
    await sign_in(page, screenshot, base, "li.office")
    await page.goto(campaign)
    await expect(page.locator("#answered")).to_have_text("2/2 个单位已填报")
    await expect(page.locator("#answers tbody tr")).to_have_count(4)
    await expect(page.locator("#answers")).to_contain_text(POLICE_NOTE)
    await expect(page.locator("#answers")).to_contain_text(VILLAGE_NOTE)
    await expect(page.locator("#form-tasks input[name=answer_pick]")).to_have_count(2)
    await page.check("#pick-shd-police-2")
    await page.fill("#tasks-measures", "逐条反馈举报人\n建立反馈台账")
    await page.fill("#tasks-assignee", "zhao.v01")
    await page.fill("#tasks-assignee_name", "张警官")
    await page.fill("#tasks-deadline", china_day(30))
    await refused(page, "tasks", 422)
    await expect(page.locator("#form-tasks [role=alert]")).to_be_visible()
    await expect(page.locator("#pick-shd-police-2")).to_be_checked()
    await page.fill("#tasks-assignee", "zhang.police")
    await send(page, screenshot, "tasks", "转为整改事项")
    turned = page.locator("#answers tr[data-unit=shd-police][data-item='2']")
    await expect(turned.get_by_role("link")).to_have_text("整改事项")
    await expect(page.locator("#form-tasks input[name=answer_pick]")).to_have_count(1)
    await expect(page.locator("#report")).to_be_visible()
    await expect(page.locator("#xlsx")).to_be_visible()

    # The item is on the rectification ledger, from the self-inspection.
    await page.goto(f"{base}/desk/tasks")
    item = page.locator("#tasks tbody tr")
    await expect(item).to_have_count(1)
    await expect(item).to_contain_text("自查自纠")
    await expect(item).to_contain_text("张警官")
    await screenshot(page, "on the rectification ledger")

    # Closed: final, and said so; no form offered any more.
    await page.goto(campaign)
    await page.fill("#close-closing_remark", "自查自纠工作结束")
    await send(page, screenshot, "close", "结束")
    await expect(page.locator("#state")).to_have_text("已结束")
    await expect(page.locator(".actions")).to_have_count(0)

    # On the list the office reads how many units answered; the stale form opened nothing.
    await page.goto(f"{base}/desk/campaigns")
    listed = page.locator("#campaigns tbody tr")
    await expect(listed).to_have_count(1)
    await expect(listed.locator(".answered")).to_have_text("2/2 个单位已填报")
    await expect(listed).to_contain_text("已结束")
    await screenshot(page, "the list")


async def test_a_look_back_with_nothing_concluded_in_its_period_is_refused_at_the_sample_form(
    page: Page,
    screenshot: Screenshots,
    serve: Callable[[FastAPI], Awaitable[str]],
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
) -> None:
    base = await desk_for(PEOPLE[:1], serve, js, nats_target, tmp_path)
    await sign_in(page, screenshot, base, "li.office")
    await page.goto(f"{base}/desk/campaigns")
    await page.select_option("#open-campaign_kind", "look_back")
    await page.fill("#open-title", "回头看：已办结线索复查")
    await page.fill("#open-from", china_day(-30))
    await page.fill("#open-to", china_day(0))
    await page.fill("#open-deadline", china_day(7))
    await send(page, screenshot, "open", "开展工作")
    await expect(page.locator("#kind")).to_have_text("回头看")
    # No sample yet: no findings to record, and no sample size out of bounds accepted.
    await expect(page.locator("#form-findings")).to_have_count(0)
    await page.fill("#sample-size", "201")
    await refused(page, "sample", 422)
    await expect(page.locator("#form-sample [role=alert]")).to_contain_text("抽查数量")
    await page.fill("#sample-size", "5")
    await refused(page, "sample", 422)
    await expect(page.locator("#form-sample [role=alert]")).to_contain_text(
        "检查期间内没有已办结的线索"
    )
    await expect(page.locator("#sample-size")).to_have_value("5")
    await screenshot(page, "nothing to sample")
