"""The reporter's evidence on the desk, in Chromium: the police officer the lead was handed
to opens the lead's files page, sees a photo (its location taken out, as the reporter
asked) and a document, and downloads the document decrypted, byte for byte what the reporter
sent, then all of them as one ZIP, each download recorded; an officer of a unit the lead was not handed to finds no such
lead; once the custodian destroys the lead's evidence key, the page says so and offers
nothing to download."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from common.auth import Principal
from common.events import Role
from common.events.catalogue import LeadViewed
from common.subjects import Stream
from common.work import solve
from tests.browser.conftest import PageProblems, Screenshots
from tests.browser.test_identity_requests_desk import Person, filed_to_the_police, staff
from tests.browser.test_intake_page_files import PDF, photo_with_location
from tests.browser.test_intake_pages import PASSWORD, Intake, intake  # noqa: F401 - the fixture
from tests.support.intake import lead, unique, wait_until_projected
from tests.support.streams import events_on

pytestmark = pytest.mark.integration


async def reported_with_files(served: Intake) -> tuple[str, list[str]]:
    """A report, then a photo (location taken out on request) and a PDF sent with its
    receipt; the lead and the files' ids."""
    async with httpx.AsyncClient(base_url=served.url) as http:
        given = (await http.get("/v1/work/report")).json()
        reported = await http.post(
            "/v1/reports",
            json=lead(unique("村霸强占鱼塘，附照片和材料")),
            headers={"X-Work": solve(given["challenge"], given["bits"])},
        )
        assert reported.status_code == 201, reported.text
        lead_id, receipt = reported.json()["lead_id"], reported.json()["receipt"]
        ids = []
        for content, strip in ((photo_with_location(), True), (PDF, False)):
            given = (await http.get("/v1/work/receipt")).json()
            sent = await http.post(
                f"/v1/reports/{receipt}/files",
                params={"strip_metadata": str(strip).lower()},
                content=content,
                headers={"X-Work": solve(given["challenge"], given["bits"])},
            )
            assert sent.status_code == 201, sent.text
            ids.append(sent.json()["file_id"])
    await wait_until_projected(served.database_url, lead_id)
    return lead_id, ids


@asynccontextmanager
async def on_the_files_page(
    browser: Browser, served: Intake, who: Person, lead_id: str
) -> AsyncIterator[Page]:
    """A browser of this person's own, signed in through the page's own redirect; any
    console error on it fails the test."""
    context = await browser.new_context(locale="zh-CN", accept_downloads=True)
    page = await context.new_page()
    problems = PageProblems().attach(page)
    files = f"/desk/leads/{lead_id}/files"
    try:
        await page.goto(f"{served.url}{files}")
        await page.fill("#user", who[0])
        await page.fill("#password", PASSWORD)
        await page.click("form[action='/sign-in'] button[type=submit]")
        await expect(page).to_have_url(f"{served.url}{files}")
        yield page
    finally:
        await context.close()
    problems.fail_if_any()


async def test_the_officer_downloads_the_reporters_files_and_each_download_is_recorded(
    browser: Browser,
    intake: Intake,  # noqa: F811 - the fixture imported above
    screenshot: Screenshots,
    tmp_path: Path,
) -> None:
    lead_id, (photo_id, pdf_id) = await reported_with_files(intake)
    number = await filed_to_the_police(intake, lead_id)
    officer = await staff(intake, "zhao.police", Role.POLICE, "shd-police")
    outsider = await staff(intake, "qian.judicial", Role.JUDICIAL, "shd-judicial")

    async with on_the_files_page(browser, intake, officer, lead_id) as page:
        await expect(page.locator("h1")).to_have_text("举报人提交的证据材料")
        await expect(page.locator("main")).to_contain_text(number)
        rows = page.locator("#files tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(0)).to_contain_text("照片")
        await expect(rows.nth(0)).to_contain_text("已按举报人要求去除")
        await expect(rows.nth(1)).to_contain_text("文档")
        await expect(page.locator("main")).to_contain_text("每次下载都会记录")
        back = await page.locator("#back-to-lead").get_attribute("href")
        assert back is not None
        assert back.endswith(f"/desk/leads/{number}"), back
        await screenshot(page, "证据材料 listed")

        async with page.expect_download() as waiting:
            await page.click(f"a[href$='/files/{pdf_id}']")
        download = await waiting.value
        assert download.suggested_filename == f"{pdf_id}.pdf"
        saved = tmp_path / "downloaded.pdf"
        await download.save_as(saved)
        assert saved.read_bytes() == PDF
        # All of them at once, for the case file: a ZIP with its manifest.
        async with page.expect_download() as waiting:
            await page.click("#all-files")
        bundle = tmp_path / "all.zip"
        await (await waiting.value).save_as(bundle)
        with zipfile.ZipFile(bundle) as opened:
            names = opened.namelist()
            assert names[0] == "manifest.json"
            assert opened.read(f"证据材料/02-{pdf_id}.pdf") == PDF
        assert f"证据材料/01-{photo_id}.jpg" in names
        # The hash the page shows is the one of what was sent.
        await expect(rows.nth(1).locator("code")).to_have_attribute(
            "title", hashlib.sha256(PDF).hexdigest()
        )

    views = await events_on(intake.js, Stream.AUDIT, f"audit.intake.lead.{lead_id}.LeadViewed")
    downloads = [v for v in views if isinstance(v, LeadViewed) and pdf_id in v.purpose]
    # The document on its own, then in the ZIP; the photo in the ZIP alone.
    assert [(v.purpose.endswith("(ZIP)"), v.actor.user) for v in downloads] == [
        (False, "zhao.police"),
        (True, "zhao.police"),
    ]
    photo_reads = [v for v in views if isinstance(v, LeadViewed) and photo_id in v.purpose]
    assert [v.purpose.endswith("(ZIP)") for v in photo_reads] == [True]

    # The judicial office was not handed the lead: no such lead, no file, nothing recorded.
    async with on_the_files_page(browser, intake, outsider, lead_id) as page:
        await expect(page.locator("main")).to_contain_text("没有这条线索")
        assert await page.locator("#files").count() == 0
        answer = await page.request.get(f"{intake.url}/desk/leads/{lead_id}/files/{pdf_id}")
        assert answer.status == 404
        assert PDF not in await answer.body()

    # The custodian destroys the evidence key: the page says so and downloads are gone.
    custodian = Principal("wang.custodian", "王", Role.CUSTODIAN, "shd-discipline")
    await intake.app.state.evidence.destroy_key(lead_id, "依规销毁证据材料", custodian)
    async with on_the_files_page(browser, intake, officer, lead_id) as page:
        await expect(page.locator("#key-destroyed")).to_contain_text("证据密钥已依规销毁")
        assert await page.locator("#files a[download]").count() == 0
        answer = await page.request.get(f"{intake.url}/desk/leads/{lead_id}/files/{pdf_id}")
        assert answer.status == 410
        await screenshot(page, "证据密钥已销毁")
