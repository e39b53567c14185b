"""A person sees where they are signed in, in every service, and ends a sign-in they do not
recognise: that service refuses the session from then on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from playwright.async_api import Page, expect
from pydantic import SecretStr

from common.events import Role
from common.streams import declare_streams
from common.subjects import Stream
from intake.bootstrap import create_app as create_intake
from ledger.bootstrap import create_app as create_ledger
from ledger.settings import LedgerSettings
from tests.browser.conftest import Screenshots
from tests.conftest import NatsTarget, wait_until
from tests.support.accounts import accounts_key_b64, open_account, session_key_b64
from tests.support.apps import random_key, write_staff
from tests.support.intake import Keys, intake_settings

pytestmark = pytest.mark.integration

PASSWORD = "沙河店镇的一个好密码"


async def test_a_clerk_ends_a_sign_in_elsewhere_from_the_list_of_their_sign_ins(
    page: Page,
    screenshot: Screenshots,
    serve: Callable[[FastAPI], Awaitable[str]],
    js: JetStreamContext,
    nats_target: NatsTarget,
    tmp_path: Path,
) -> None:
    await declare_streams(js, list(Stream))
    key = accounts_key_b64()
    ledger = create_ledger(
        LedgerSettings(
            nats_url=nats_target.url,
            database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
            users_file=write_staff(tmp_path / "users.toml"),
            accounts_key=key,
            session_key=session_key_b64(),
        )
    )
    intake = create_intake(
        intake_settings(
            nats_target,
            f"sqlite:///{tmp_path / 'intake.db'}",
            tmp_path,
            Keys(identity=random_key(), receipt=random_key()),
        ).model_copy(
            update={"accounts_key": SecretStr(key), "session_key": SecretStr(session_key_b64())}
        )
    )
    ledger_url, intake_url = await serve(ledger), await serve(intake)
    await open_account(js, "li.office", Role.OFFICE, "shd-office", PASSWORD)

    # Signed in at intake from somewhere else (a script, another computer).
    async with httpx.AsyncClient(base_url=intake_url) as elsewhere:

        async def signed_in_elsewhere() -> bool:
            answer = await elsewhere.post(
                "/v1/session", json={"user": "li.office", "password": PASSWORD}
            )
            return answer.status_code == 200

        await wait_until(signed_in_elsewhere)
        assert (await elsewhere.get("/v1/session")).status_code == 200

        await page.goto(f"{ledger_url}/sessions")
        await page.fill("#user", "li.office")
        await page.fill("#password", PASSWORD)
        await page.click("main button[type=submit]")
        await page.wait_for_url(f"{ledger_url}/sessions")
        rows = page.locator("tbody tr")

        async def both_listed() -> bool:
            await page.reload()
            return await rows.count() == 2

        await wait_until(both_listed)
        await expect(rows.filter(has_text="本次登录")).to_contain_text("线索台账")
        other = rows.filter(has_text="线索受理")
        await expect(other).to_contain_text("有效")
        await screenshot(page, "my sign-ins")

        await other.get_by_role("button", name="结束").click()
        await expect(rows.filter(has_text="线索受理")).to_contain_text("已结束")
        await screenshot(page, "one ended")

        async def refused_elsewhere() -> bool:
            return (await elsewhere.get("/v1/session")).status_code == 401

        await wait_until(refused_elsewhere, timeout=5)
        # This one goes on.
        await page.reload()
        await expect(rows.filter(has_text="本次登录")).to_have_count(1)
