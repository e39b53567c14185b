"""The signed receipt in Chromium: a villager reports on a phone, saves the receipt file the
receipt page offers (a real download, made by the page's script under its CSP), and the
public check page says it is valid; with one byte changed it says it is not."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from playwright.async_api import Page, expect

from common.streams import declare_streams
from common.subjects import Stream
from intake.bootstrap import create_app
from tests.browser.conftest import Screenshots
from tests.conftest import NatsTarget
from tests.support.apps import random_key
from tests.support.intake import Keys, PlantedIdentity, intake_settings

pytestmark = pytest.mark.integration

PHONE = {"width": 390, "height": 844}
READY = "防滥用计算已完成，可以提交。"


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


async def check(page: Page, base: str, file: Path) -> None:
    await page.goto(f"{base}/verify-receipt")
    await expect(page.locator("h1")).to_have_text("核验签名回执")
    await page.set_input_files("#file", file)
    await page.click("form[action='/verify-receipt'] button[type=submit]")


async def test_a_reporter_saves_the_signed_receipt_and_the_check_page_says_it_is_valid(
    page: Page, screenshot: Screenshots, intake_url: str, tmp_path: Path
) -> None:
    await page.set_viewport_size(PHONE)
    base = intake_url
    planted = PlantedIdentity.new()

    await page.goto(f"{base}/report")
    await page.select_option("#category", label="村霸")
    await page.select_option("#village", label="沙河店村")
    await page.fill("#summary", "村里有人强收保护费")
    await page.fill("#details", "每月初来收，不给就砸店。")
    await page.fill("#name", planted.name)
    await page.fill("#phone", planted.phone)
    await expect(page.locator("[data-work-status]")).to_have_text(READY)
    await page.click("button[type=submit]")

    await expect(page.locator("#receipt.receipt")).to_be_visible()
    receipt = (await page.locator("#receipt").inner_text()).strip()
    save = page.locator("[data-save-receipt] button")
    await expect(save).to_have_text("保存回执文件")
    await expect(page.locator("#signed-receipt-heading")).to_have_text("签名回执")
    await screenshot(page, "签名回执 signed receipt")

    async with page.expect_download() as started:
        await save.click()
    download = await started.value
    assert download.suggested_filename.startswith("signed-receipt-")
    assert download.suggested_filename.endswith(".json")
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    await expect(save).to_have_text("已保存，可再保存一份")

    document = saved.read_bytes()
    # The file is exactly the text the page shows for copying, and names nobody.
    await page.locator("details summary").click()
    assert document.decode() == await page.locator("#signed-receipt").input_value()
    assert planted.found_in(document) == []
    assert receipt.encode() not in document
    await screenshot(page, "回执文本 receipt text")

    await check(page, base, saved)
    verdict = page.locator("#verdict")
    await expect(verdict).to_contain_text("回执有效：由本系统签发，内容没有被改动。")
    await expect(page.locator("#verified-lead")).to_have_text(json.loads(document)["lead_id"])
    await expect(verdict.locator("time")).to_contain_text("(UTC+8)")
    await screenshot(page, "回执有效 receipt valid")

    at = document.index(b'"content_sha256":"') + len(b'"content_sha256":"') + 10
    changed = tmp_path / "changed.json"
    digit = b"1" if document[at : at + 1] == b"0" else b"0"  # still a hex digit
    changed.write_bytes(document[:at] + digit + document[at + 1 :])
    await check(page, base, changed)
    await expect(verdict).to_have_class("problem")
    await expect(verdict).to_contain_text("签名不符")
    await expect(page.locator("#verified-lead")).to_have_count(0)
    await screenshot(page, "回执被改动 receipt changed")
