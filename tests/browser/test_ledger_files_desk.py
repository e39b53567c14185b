"""Staff files on the lead page in Chromium (工作痕迹): the office uploads a photo with its
location through the page's form (taken out, as the box says), sees it listed and in the
history, downloads it as the session it is signed in with (no location in what comes back);
a program is refused on a page of its own with the way back; another unit's police find no
such lead. On a rectification item, the responsible police station uploads its record and
another unit finds no such item."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from PIL import Image
from playwright.async_api import Page, expect

from common.events import Role, utc_now
from common.times import CHINA
from tests.browser.conftest import Screenshots
from tests.browser.test_ledger_desk import desk_for, sign_in, sign_out
from tests.conftest import NatsTarget
from tests.support.ledger import filed, report

PEOPLE = (
    ("li.office", Role.OFFICE, "shd-office"),
    ("zhang.police", Role.POLICE, "shd-police"),
    ("chen.judicial", Role.JUDICIAL, "shd-judicial"),
)


def photo_with_location() -> bytes:
    image = Image.new("RGB", (64, 48), (30, 120, 30))
    exif = Image.Exif()
    exif[0x013B] = "Li Si"  # Artist
    exif[0x8825] = {1: "N", 2: (32.0, 45.0, 10.0), 3: "E", 4: (113.0, 20.0, 5.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


async def test_the_office_uploads_a_photo_on_the_lead_page_and_downloads_it_without_location(
    page: Page,
    screenshot: Screenshots,
    serve: Callable[[FastAPI], Awaitable[str]],
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
) -> None:
    base = await desk_for(PEOPLE, serve, js, nats_target, tmp_path)
    lead_id = await report(js, summary="村霸王某强占集体鱼塘，威胁村民")
    async with httpx.AsyncClient(base_url=base) as http:
        number = (await filed(http, lead_id))["ledger_number"]
    photo = tmp_path / "visit.jpg"
    photo.write_bytes(photo_with_location())
    program = tmp_path / "tool.jpg"  # named as a photo; its bytes say otherwise
    program.write_bytes(b"MZ\x90\x00" + bytes(4096))

    await sign_in(page, screenshot, base, "li.office")
    await page.goto(f"{base}/desk/leads/{number}")
    # The reporter's own files are on intake's page of the lead, linked from here.
    reporter_files = page.locator("#reporter-files")
    await expect(reporter_files).to_contain_text("举报人提交的证据材料")
    href = await reporter_files.get_attribute("href")
    assert href is not None
    assert href.endswith(f"/desk/leads/{lead_id}/files"), href
    files = page.locator("#files")
    await expect(files).to_contain_text("暂无工作痕迹")
    await expect(page.locator("#files-strip")).to_be_checked()
    await page.fill("#files-title", "入户走访照片")
    await page.set_input_files("#files-file", str(photo))
    await page.click("#form-files button[type=submit]")
    listed = page.locator("#staff-files li")
    await expect(listed).to_have_count(1)
    await expect(listed).to_contain_text("入户走访照片")
    await expect(listed).to_contain_text("已去除位置和作者信息")
    await expect(page.locator("li[data-event='LeadFileAttached']")).to_contain_text("上传工作痕迹")
    await screenshot(page, "photo uploaded")

    async with page.expect_download() as downloading:
        await listed.get_by_role("link", name="入户走访照片").click()
    saved = tmp_path / "downloaded.jpg"
    await (await downloading.value).save_as(saved)
    with Image.open(saved) as image:
        assert dict(image.getexif().get_ifd(0x8825)) == {}
    assert b"Li Si" not in saved.read_bytes()

    await page.fill("#files-title", "工具")
    await page.set_input_files("#files-file", str(program))
    async with page.expect_navigation() as refused:
        await page.click("#form-files button[type=submit]")
    assert (await refused.value).status == 422
    await expect(page.locator("main")).to_contain_text("不接受此类文件")
    await screenshot(page, "program refused")
    await page.get_by_role("link", name="返回").click()
    await expect(page.locator("h1")).to_contain_text(number)
    await expect(page.locator("#staff-files li")).to_have_count(1)
    await sign_out(page)

    # The police station does not hold the lead: as if there were no such lead.
    await sign_in(page, screenshot, base, "zhang.police")
    response = await page.goto(f"{base}/desk/leads/{number}")
    assert response is not None
    assert response.status == 404


async def test_the_responsible_station_uploads_its_record_on_the_items_page(
    page: Page,
    screenshot: Screenshots,
    serve: Callable[[FastAPI], Awaitable[str]],
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
) -> None:
    base = await desk_for(PEOPLE, serve, js, nats_target, tmp_path)
    record = tmp_path / "minutes.pdf"
    record.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")

    await sign_in(page, screenshot, base, "li.office")
    await page.goto(f"{base}/desk/tasks")
    await page.select_option("#open-source", "inspection")
    await page.fill("#open-problem", "部分线索核查不深入")
    await page.fill("#open-measures", "逐条复核已办结线索")
    await page.select_option("#open-unit", "shd-police")
    await page.fill("#open-assignee", "zhang.police")
    await page.fill("#open-assignee_name", "张警官")
    deadline = (utc_now() + timedelta(days=30)).astimezone(CHINA).date().isoformat()
    await page.fill("#open-deadline", deadline)
    await page.click("#form-open button[type=submit]")
    await expect(page.locator("p.done")).to_have_text("已记录：新增事项")
    item = page.url.split("?")[0]
    await sign_out(page)

    await sign_in(page, screenshot, base, "zhang.police")
    await page.goto(item)
    await expect(page.locator("#files")).to_contain_text("暂无整改材料")
    await page.fill("#files-title", "整改会议记录")
    await page.set_input_files("#files-file", str(record))
    await page.click("#form-files button[type=submit]")
    listed = page.locator("#staff-files li")
    await expect(listed).to_have_count(1)
    await expect(listed).to_contain_text("application/pdf")
    await expect(page.locator("li[data-event='TaskFileAttached']")).to_contain_text("整改会议记录")
    await screenshot(page, "record uploaded")
    async with page.expect_download() as downloading:
        await listed.get_by_role("link", name="整改会议记录").click()
    saved = tmp_path / "downloaded.pdf"
    await (await downloading.value).save_as(saved)
    assert saved.read_bytes() == record.read_bytes()
    await sign_out(page)

    # Another unit: as if there were no such item, and no form to send to it.
    await sign_in(page, screenshot, base, "chen.judicial")
    response = await page.goto(item)
    assert response is not None
    assert response.status == 404
    await expect(page.locator("#form-files")).to_have_count(0)
