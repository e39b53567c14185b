"""The reporter, with their receipt, reads on their page that their identity was read,
when (China time) and why, and never by whom."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Page, expect

from common.work import solve
from tests.browser.conftest import Screenshots
from tests.browser.test_intake_pages import PHONE, Intake, intake  # noqa: F401 - the fixture
from tests.support.identity_requests import handed_to, read_on_approval
from tests.support.intake import lead, unique, wait_until_projected

pytestmark = pytest.mark.integration


async def test_the_reporter_reads_when_and_why_their_identity_was_read(
    page: Page,
    screenshot: Screenshots,
    intake: Intake,  # noqa: F811 - the fixture imported above
) -> None:
    async with httpx.AsyncClient(base_url=intake.url) as http:
        given = (await http.get("/v1/work/report")).json()
        reported = await http.post(
            "/v1/reports",
            json=lead(unique("村霸威胁证人"), identity={"name": "王某"}),
            headers={"X-Work": solve(given["challenge"], given["bits"])},
        )
        assert reported.status_code == 201, reported.text
        lead_id, receipt = reported.json()["lead_id"], reported.json()["receipt"]
        await wait_until_projected(intake.database_url, lead_id)
        await handed_to(intake.js, intake.database_url, lead_id, "shd-police")
        read = await read_on_approval(http, lead_id)
        assert read.status_code == 200, read.text

    await page.set_viewport_size(PHONE)
    await page.goto(f"{intake.url}/my-report")
    await page.fill("#receipt", receipt)
    await expect(page.locator("[data-work-status]")).to_have_text("防滥用计算已完成，可以提交。")
    await page.click("form[action='/my-report'] button[type=submit]")
    told = page.locator("#disclosures")
    await expect(told).to_contain_text("您的身份信息已于")
    await expect(told).to_contain_text("因调查取证、制作询问笔录被依规查阅")
    await expect(told.locator("time")).to_contain_text("(UTC+8)")
    for who in ("police", "shd-police", "custodian"):
        await expect(told).not_to_contain_text(who)
    await screenshot(page, "身份被查阅 identity read")
