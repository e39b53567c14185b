"""A person's own declarations on the main desk (回避申报) in Chromium: a police officer
declares a tie to a village from the navigation, is refused at the form for a village code
that is not one (what was typed kept), sees the tie standing, withdraws it and sees it among
the withdrawn; the events are the person's own on SESSIONS."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from playwright.async_api import Page, expect

from common.events import Role
from common.events.accounts import RelationshipDeclared, RelationshipWithdrawn
from common.subjects import Stream
from tests.browser.conftest import Screenshots
from tests.browser.test_ledger_desk import desk_for, sign_in
from tests.conftest import NatsTarget
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

VILLAGE = "shd-v01"  # 沙河店村


async def test_a_person_declares_a_tie_to_a_village_and_withdraws_it(
    page: Page,
    screenshot: Screenshots,
    serve: Callable[[FastAPI], Awaitable[str]],
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
) -> None:
    user = "zhou.police"
    base = await desk_for([(user, Role.POLICE, "shd-police")], serve, js, nats_target, tmp_path)
    await sign_in(page, screenshot, base, user)

    await page.click("header nav >> text=回避申报")
    await page.wait_for_url(f"{base}/desk/me/declarations")
    await expect(page.locator("h1")).to_have_text("回避申报")
    await expect(page.locator("#standing")).to_have_count(0)

    # Not a village of the organisation: refused at the form, what was typed kept.
    await page.select_option("#relationship-kind", "village")
    await page.fill("#relationship-name", "no-such-village")
    await page.fill("#relationship-note", "岳父家所在村")
    async with page.expect_navigation() as refused:
        await page.click("#form-relationship button[type=submit]")
    assert (await refused.value).status == 422  # type: ignore[union-attr]
    await expect(page.locator("#relationship-heading + .problem")).to_contain_text("村的代码")
    await expect(page.locator("#relationship-name")).to_have_value("no-such-village")
    await screenshot(page, "村代码不对 refused")

    await page.fill("#relationship-name", VILLAGE)
    async with page.expect_navigation():
        await page.click("#form-relationship button[type=submit]")
    await expect(page.locator("p.done")).to_have_text("已申报利害关系。")
    tie = page.locator(f"#standing tr[data-kind='village'][data-name='{VILLAGE}']")
    await expect(tie).to_contain_text("沙河店村")
    await expect(tie).to_contain_text("岳父家所在村")
    await expect(tie.locator("time")).to_contain_text("UTC+8")
    await screenshot(page, "已申报 declared")

    async with page.expect_navigation():
        await tie.get_by_role("button", name="撤回").click()
    await expect(page.locator("p.done")).to_have_text("已撤回该项申报。")
    await expect(page.locator("#standing")).to_have_count(0)
    gone = page.locator(f"#withdrawn tr[data-kind='village'][data-name='{VILLAGE}']")
    await expect(gone.locator("time")).to_have_count(2)
    await screenshot(page, "已撤回 withdrawn")

    mine = [
        e
        for e in await events_on(js, Stream.SESSIONS, "sessions.>")
        if isinstance(e, RelationshipDeclared | RelationshipWithdrawn) and e.user == user
    ]
    assert [type(e) for e in mine] == [RelationshipDeclared, RelationshipWithdrawn]
    assert all(e.name == VILLAGE and e.actor.user == user for e in mine)
