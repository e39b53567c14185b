"""The rectification ledger on the desk in Chromium (整改台账): the office opens an inspection
finding for the police station, the police report progress with evidence and ask to close
it, the office returns it, the police report again and ask again, and the office closes it
(销号); each step through the desk's forms, each person signed in with an account. A step
the rules refuse is said at its form; another unit finds no such item."""

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
from tests.browser.test_ledger_desk import desk_for, sign_in, sign_out
from tests.conftest import NatsTarget

PEOPLE = (
    ("li.office", Role.OFFICE, "shd-office"),
    ("zhang.police", Role.POLICE, "shd-police"),
    ("chen.judicial", Role.JUDICIAL, "shd-judicial"),
)
PROBLEM = "部分线索核查不深入，未按期反馈举报人"


async def send(page: Page, screenshot: Screenshots, form: str, recorded: str) -> None:
    await page.click(f"#form-{form} button[type=submit]")
    await expect(page.locator("p.done")).to_have_text(f"已记录：{recorded}")
    await screenshot(page, f"{form} recorded")


async def test_an_inspection_finding_goes_from_the_office_to_the_police_and_is_closed(
    page: Page,
    screenshot: Screenshots,
    serve: Callable[[FastAPI], Awaitable[str]],
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
) -> None:
    base = await desk_for(PEOPLE, serve, js, nats_target, tmp_path)

    # The office opens the finding of the county's inspection.
    await sign_in(page, screenshot, base, "li.office")
    await page.goto(f"{base}/desk/tasks")
    await expect(page.locator("h1")).to_have_text("整改台账")
    await page.select_option("#open-source", "inspection")
    await page.fill("#open-source_ref", "县督导组第二轮督导反馈意见")
    await page.fill("#open-problem", PROBLEM)
    await page.fill("#open-measures", "逐条复核已办结线索\n建立反馈台账，限期反馈")
    await page.select_option("#open-unit", "shd-police")
    await page.fill("#open-assignee", "zhang.police")
    await page.fill("#open-assignee_name", "张警官")
    deadline = (utc_now() + timedelta(days=30)).astimezone(CHINA).date().isoformat()
    await page.fill("#open-deadline", deadline)
    await page.click("#form-open button[type=submit]")
    await expect(page.locator("p.done")).to_have_text("已记录：新增事项")
    await expect(page.locator("#status")).to_have_text("整改中")
    await expect(page.locator("#measures li")).to_have_count(2)
    # The office does not report for the unit: no such form for it.
    await expect(page.locator("#form-progress")).to_have_count(0)
    item = page.url.split("?")[0]
    await screenshot(page, "finding opened")
    await sign_out(page)

    # Another unit: as if there were no such item.
    await sign_in(page, screenshot, base, "chen.judicial")
    response = await page.goto(item)
    assert response is not None
    assert response.status == 404
    await expect(page.locator("h1")).to_have_text("未找到事项")
    await sign_out(page)

    # The police find it on their rectification ledger, report and ask to close it.
    await sign_in(page, screenshot, base, "zhang.police")
    await page.goto(f"{base}/desk/tasks")
    row = page.locator("#tasks tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("督导反馈问题")
    await row.get_by_role("link").click()
    await expect(page.locator("#problem")).to_have_text(PROBLEM)
    await page.fill("#progress-progress", "已复核12条，反馈举报人9人")
    await page.fill("#progress-evidence_name", "反馈记录.pdf")
    await page.fill("#progress-evidence_size", "20480")
    await page.fill("#progress-evidence_sha256", "a" * 64)
    await send(page, screenshot, "progress", "报送整改进展")
    await expect(page.locator("li[data-event=TaskProgressReported]")).to_contain_text(
        "反馈记录.pdf"
    )
    await page.fill("#request-closure-outcome", "已全部整改")
    await send(page, screenshot, "request-closure", "申请销号")
    await expect(page.locator("#status")).to_have_text("申请销号")
    await sign_out(page)

    # The office returns it: the evidence is incomplete.
    await sign_in(page, screenshot, base, "li.office")
    await page.goto(item)
    await page.fill("#return-reason", "佐证材料不全，请补充剩余3人的反馈记录")
    await send(page, screenshot, "return", "退回整改")
    await expect(page.locator("#status")).to_have_text("退回整改")
    await sign_out(page)

    # Asking again without new progress is refused at the form; then done properly.
    await sign_in(page, screenshot, base, "zhang.police")
    await page.goto(item)
    await page.fill("#request-closure-outcome", "已全部整改")
    async with page.expect_navigation() as refused:
        await page.click("#form-request-closure button[type=submit]")
    assert (await refused.value).status == 422
    await expect(page.locator("#form-request-closure [role=alert]")).to_contain_text(
        "申请销号前请先报送整改进展"
    )
    await expect(page.locator("#request-closure-outcome")).to_have_value("已全部整改")
    await screenshot(page, "closure refused")
    await page.fill("#progress-progress", "已补充反馈剩余3人")
    await send(page, screenshot, "progress", "报送整改进展")
    await page.fill("#request-closure-outcome", "已全部整改并反馈")
    await send(page, screenshot, "request-closure", "申请销号")
    await sign_out(page)

    # The office closes it (销号).
    await sign_in(page, screenshot, base, "li.office")
    await page.goto(item)
    await page.fill("#close-note", "同意销号")
    await send(page, screenshot, "close", "销号")
    await expect(page.locator("#status")).to_have_text("已销号")
    await expect(page.locator(".actions")).to_have_count(0)
    await page.goto(f"{base}/desk/tasks?status=closed")
    await expect(page.locator("#tasks tbody tr")).to_have_count(1)
    await screenshot(page, "closed on the ledger")
