"""A villager's files in Chromium, on a phone: a photo with its location sent with the
report, a program renamed as a photo refused with the reason while the report is received;
the photo a clerk downloads carries no location; later a PDF added with the receipt and
listed among the report's files."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from PIL import Image
from playwright.async_api import Page, expect

from common.events.evidence import EvidenceAttached
from common.streams import declare_streams
from common.subjects import Stream
from intake.bootstrap import create_app
from tests.browser.conftest import Screenshots
from tests.conftest import NatsTarget
from tests.support.apps import random_key, token
from tests.support.intake import LEAD_REPORTED, Keys, intake_events, intake_settings
from tests.support.streams import subjects_on

pytestmark = pytest.mark.integration

PHONE = {"width": 390, "height": 844}
READY = "防滥用计算已完成，可以提交。"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 2000


def photo_with_location() -> bytes:
    image = Image.new("RGB", (640, 480), (40, 120, 60))
    exif = Image.Exif()
    exif[0x013B] = "Zhang San"  # Artist
    exif[0x8825] = {1: "N", 2: (32.0, 45.0, 10.0), 3: "E", 4: (113.0, 20.0, 5.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def gps_of(data: bytes) -> dict[int, object]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return dict(image.getexif().get_ifd(0x8825))


@pytest.fixture
async def intake_url(
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
    serve: Callable[[FastAPI], Awaitable[str]],
) -> str:
    await declare_streams(js, list(Stream))
    settings = intake_settings(
        nats_target,
        f"sqlite:///{tmp_path / 'intake.db'}",
        tmp_path,
        Keys(identity=random_key(), receipt=random_key()),
    )
    return await serve(create_app(settings))


async def send_when_ready(page: Page, form_action: str) -> None:
    form = page.locator(f"form[action='{form_action}']")
    await expect(form.locator("[data-work-status]")).to_have_text(READY)
    await form.locator("button[type=submit]").click()


async def test_a_photo_sent_with_the_report_loses_its_location_and_a_pdf_is_added_later(
    page: Page, screenshot: Screenshots, intake_url: str, js: JetStreamContext
) -> None:
    await page.set_viewport_size(PHONE)
    photo = photo_with_location()
    assert gps_of(photo)

    await page.goto(f"{intake_url}/report")
    await page.select_option("#category", label="村霸")
    await page.fill("#summary", "村里有人强收保护费")
    await page.fill("#details", "每月初来收，不给就砸店。照片是他们来收钱时拍的。")
    strip = page.get_by_label("去除照片中的位置和作者信息")
    await expect(strip).to_be_checked()
    await page.set_input_files(
        "#files",
        [
            {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": photo},
            {"name": "照片2.jpg", "mimeType": "image/jpeg", "buffer": PROGRAM},
        ],
    )
    await screenshot(page, "举报带文件 report with files")
    await send_when_ready(page, "/report")

    await expect(page.locator("#receipt.receipt")).to_be_visible()
    receipt = (await page.locator("#receipt").inner_text()).strip()
    await expect(page.locator("p.done")).to_have_text("您的举报已经登记，会有专人办理。")
    await expect(page.locator("#sent-summary")).to_have_text("收到 2 个文件，已保存 1 个。")
    stored = page.locator("#sent-files li.stored")
    await expect(stored).to_contain_text("IMG_0001.jpg")
    await expect(stored).to_contain_text("照片（JPEG）")
    await expect(stored).to_contain_text("发现位置或作者信息，已去除。")
    refused = page.locator("#sent-files li.refused")
    await expect(refused).to_contain_text("照片2.jpg")
    await expect(refused).to_contain_text("不接受这类文件（按文件内容判断，不看文件名）")
    await expect(page.locator("main")).to_contain_text("您的举报已经收到")
    assert receipt not in page.url
    await screenshot(page, "已收到和文件 received with files")

    # A clerk downloads the photo: a JPEG without its location.
    [subject] = await subjects_on(js, Stream.INTAKE, LEAD_REPORTED)
    lead_id = subject.split(".")[2]
    [kept] = [e for e in await intake_events(js, lead_id) if isinstance(e, EvidenceAttached)]
    async with httpx.AsyncClient(base_url=intake_url) as staff:
        got = await staff.get(f"/v1/leads/{lead_id}/files/{kept.file_id}", headers=token("clerk"))
    assert got.status_code == 200, got.text
    assert gps_of(got.content) == {}

    # Later, with the receipt: the photo is listed, and a PDF is added.
    await page.goto(f"{intake_url}/my-report")
    await page.fill("#receipt", receipt)
    await send_when_ready(page, "/my-report")
    held = page.locator("#held-files")
    await expect(held).to_contain_text("照片（JPEG）")
    await expect(held).to_contain_text("位置和作者信息已去除")
    await page.set_input_files(
        "#files", [{"name": "村委会账目.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    await send_when_ready(page, "/my-report/files")
    await expect(page.locator("#sent-summary")).to_have_text("收到 1 个文件，已保存 1 个。")
    await expect(page.locator("#held-files li")).to_have_count(2)
    await expect(page.locator("#held-files")).to_contain_text("文档（PDF）")
    await expect(page.locator("#held-files")).to_contain_text("没有发现位置或作者信息")
    assert receipt not in page.url
    assert await page.context.cookies() == []
    await screenshot(page, "我的举报和文件 my report with files")

    attached = [e for e in await intake_events(js, lead_id) if isinstance(e, EvidenceAttached)]
    assert [e.media_type for e in attached] == ["image/jpeg", "application/pdf"]


async def test_files_over_what_one_sending_takes_are_stopped_before_the_report_is_sent(
    page: Page,
    screenshot: Screenshots,
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
    serve: Callable[[FastAPI], Awaitable[str]],
) -> None:
    # Past the page's body limit the server refuses the body whole, report included: the
    # page says so before sending, and lets it go once fewer files are chosen.
    await declare_streams(js, list(Stream))
    settings = intake_settings(
        nats_target,
        f"sqlite:///{tmp_path / 'intake.db'}",
        tmp_path,
        Keys(identity=random_key(), receipt=random_key()),
    ).model_copy(update={"evidence_max_bytes": 1024 * 1024})
    base = await serve(create_app(settings))
    await page.set_viewport_size(PHONE)
    await page.goto(f"{base}/report")
    await page.select_option("#category", label="村霸")
    await page.fill("#summary", "村里有人强收保护费")
    half = PDF + b"0" * 600_000
    await page.set_input_files(
        "#files",
        [
            {"name": "a.pdf", "mimeType": "application/pdf", "buffer": half},
            {"name": "b.pdf", "mimeType": "application/pdf", "buffer": half},
        ],
    )
    total = page.locator("#files-total")
    await expect(total).to_be_visible()
    await expect(total).to_contain_text("选择的文件合计超过 1 MiB")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    assert await page.locator("#files").evaluate("input => !input.validity.valid")
    await send_when_ready(page, "/report")
    await screenshot(page, "文件太多 too much at once")

    await page.set_input_files(
        "#files", [{"name": "a.pdf", "mimeType": "application/pdf", "buffer": half}]
    )
    await expect(total).to_be_hidden()
    await page.locator("form[action='/report'] button[type=submit]").click()
    await expect(page.locator("#sent-summary")).to_have_text("收到 1 个文件，已保存 1 个。")
    # the first click sent nothing: the one POST is the second
    assert posts == [f"{base}/report"]
