"""People sign in with a password (and, where their role holds the most, a code from their
phone), use a service with its session cookie, and are stopped everywhere within seconds
when the administrator disables them, revokes a token or changes what they may do."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from nats.js import JetStreamContext
from pydantic import SecretStr

from common.auth import hash_token
from common.credentials import hash_password
from common.events import Role
from common.events.accounts import (
    AccountDisabled,
    PasswordSet,
    TokenIssued,
    TokenRevoked,
)
from intake.bootstrap import create_app as create_intake
from ledger.bootstrap import create_app as create_ledger
from ledger.settings import LedgerSettings
from oversight.bootstrap import create_app as create_oversight
from oversight.settings import OversightSettings
from tests.conftest import NatsTarget, wait_until
from tests.support.accounts import account_log, accounts_key_b64, open_account, session_key_b64
from tests.support.apps import random_key, serving, write_staff
from tests.support.intake import Keys, intake_settings

pytestmark = pytest.mark.integration

PASSWORD = "沙河店镇的一个好密码"


@pytest.fixture
async def services(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The three services, each on its own database and session key, with one accounts key."""
    keys: dict[str, Any] = {"accounts_key": accounts_key_b64()}
    users = write_staff(tmp_path / "users.toml")
    common: dict[str, Any] = {"nats_url": nats_target.url, "users_file": users, **keys}
    apps = {
        "intake": create_intake(
            intake_settings(
                nats_target,
                f"sqlite:///{tmp_path / 'intake.db'}",
                tmp_path,
                Keys(identity=random_key(), receipt=random_key()),
            ).model_copy(
                update={
                    "accounts_key": SecretStr(keys["accounts_key"]),
                    "session_key": SecretStr(session_key_b64()),
                }
            )
        ),
        "ledger": create_ledger(
            LedgerSettings(
                **common,
                database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
                session_key=session_key_b64(),
            )
        ),
        "oversight": create_oversight(
            OversightSettings(
                **common,
                database_url=f"sqlite:///{tmp_path / 'oversight.db'}",
                session_key=session_key_b64(),
            )
        ),
    }
    async with AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(serving(app)) for name, app in apps.items()}


async def sign_in(http: httpx.AsyncClient, user: str, password: str, **more: str) -> httpx.Response:
    return await http.post("/v1/session", json={"user": user, "password": password, **more})


async def signed_in(http: httpx.AsyncClient, user: str, password: str = PASSWORD) -> str:
    """Signs in once the service knows the account; returns the CSRF token."""
    answers: list[httpx.Response] = []

    async def known() -> bool:
        answers.append(await sign_in(http, user, password))
        return answers[-1].status_code == 200

    await wait_until(known)
    return str(answers[-1].json()["csrf_token"])


async def test_a_clerk_signs_in_and_works_with_the_session_and_its_csrf_token(
    services: dict[str, httpx.AsyncClient], streams: JetStreamContext
) -> None:
    ledger = services["ledger"]
    await open_account(streams, "li.office", Role.OFFICE, "shd-office", PASSWORD)
    csrf = await signed_in(ledger, "li.office")
    assert "leads_session_ledger" in ledger.cookies

    me = await ledger.get("/v1/session")
    assert me.json()["user"] == "li.office"
    assert me.json()["role"] == "office"
    # Each read renews the session's cookie, the hot reads too: a clerk at work is not
    # signed out after the idle time.
    for read in ("/v1/ledger/leads", "/v1/ledger/stats"):
        answer = await ledger.get(read)
        assert answer.status_code == 200
        assert "leads_session_ledger=" in answer.headers["set-cookie"], read

    # A change carries the token it was given: a page on another site cannot make one.
    nowhere = f"/v1/ledger/leads/{secrets.token_hex(16)}/accept"
    assert (await ledger.post(nowhere, json={})).status_code == 403
    assert (
        await ledger.post(nowhere, json={}, headers={"X-CSRF-Token": "guess"})
    ).status_code == 403
    assert (await ledger.post(nowhere, json={}, headers={"X-CSRF-Token": csrf})).status_code == 404

    # The ledger's session is the ledger's: the committee's service does not take it.
    oversight = services["oversight"]
    oversight.cookies.update(ledger.cookies)
    assert (await oversight.get("/v1/session")).status_code == 401


async def test_a_wrong_password_is_told_as_an_unknown_user_is_and_guessing_is_slowed_everywhere(
    services: dict[str, httpx.AsyncClient], streams: JetStreamContext
) -> None:
    ledger, intake = services["ledger"], services["intake"]
    await open_account(streams, "zhao.police", Role.POLICE, "shd-police", PASSWORD)
    await signed_in(ledger, "zhao.police")

    unknown = await sign_in(ledger, "nobody.here", "whatever it is")
    wrong = await sign_in(ledger, "zhao.police", "whatever it is")
    assert (
        (unknown.status_code, unknown.json())
        == (wrong.status_code, wrong.json())
        == (
            401,
            unknown.json(),
        )
    )
    for _ in range(4):
        assert (await sign_in(ledger, "zhao.police", "still guessing")).status_code == 401
    # Five failures: now even the right password waits, and says how long.
    slowed = await sign_in(ledger, "zhao.police", PASSWORD)
    assert slowed.status_code == 429
    assert int(slowed.headers["Retry-After"]) > 0
    assert "too many" in slowed.json()["detail"][0]["message_en"]

    # Guessing at another service is no way round it: the failures are everyone's.
    async def slowed_at_intake() -> bool:
        return (await sign_in(intake, "zhao.police", PASSWORD)).status_code == 429

    await wait_until(slowed_at_intake)


async def test_a_custodian_signs_in_only_with_a_code_from_their_phone(
    services: dict[str, httpx.AsyncClient], streams: JetStreamContext
) -> None:
    intake = services["intake"]
    await open_account(streams, "wang.custodian", Role.CUSTODIAN, "shd-office", PASSWORD)
    secret = await open_account(
        streams, "sun.custodian", Role.CUSTODIAN, "shd-office", PASSWORD, second_factor=True
    )
    assert secret is not None

    async def refused_without_factor() -> bool:
        answer = await sign_in(intake, "wang.custodian", PASSWORD)
        return answer.status_code == 403 and "second factor" in answer.text

    await wait_until(refused_without_factor)
    assert "leads_session_intake" not in intake.cookies

    async def asks_for_the_code() -> bool:
        return (await sign_in(intake, "sun.custodian", PASSWORD)).status_code == 401

    await wait_until(asks_for_the_code)
    assert (await sign_in(intake, "sun.custodian", PASSWORD, code="000000")).status_code == 401
    code = pyotp.TOTP(secret).now()
    answer = await sign_in(intake, "sun.custodian", PASSWORD, code=code)
    assert answer.status_code == 200, answer.text
    assert answer.json()["role"] == "custodian"


async def test_a_disabled_account_and_a_revoked_token_stop_working_in_every_service(
    services: dict[str, httpx.AsyncClient], streams: JetStreamContext
) -> None:
    await open_account(streams, "qian.auditor", Role.AUDITOR, None, PASSWORD)
    for http in services.values():
        await signed_in(http, "qian.auditor")
    token = secrets.token_urlsafe(32)
    await account_log(streams).append(
        TokenIssued(user="qian.auditor", token_sha256=hash_token(token), label="monthly export")
    )
    bearer = {"Authorization": f"Bearer {token}"}
    reads = {"ledger": "/v1/ledger/leads", "oversight": "/v1/oversight/cases"}

    async def token_works() -> bool:
        answers = [await services[s].get(path, headers=bearer) for s, path in reads.items()]
        return all(a.status_code == 200 for a in answers)

    await wait_until(token_works)

    await account_log(streams).append(
        TokenRevoked(user="qian.auditor", token_sha256=hash_token(token))
    )

    async def token_refused() -> bool:
        answers = [await services[s].get(path, headers=bearer) for s, path in reads.items()]
        return all(a.status_code == 401 for a in answers)

    await wait_until(token_refused, timeout=5)
    for http in services.values():
        assert (await http.get("/v1/session")).status_code == 200

    await account_log(streams).append(AccountDisabled(user="qian.auditor", reason="调离岗位"))

    async def everywhere_refused() -> bool:
        answers = [await h.get("/v1/session") for h in services.values()]
        return all(a.status_code == 401 for a in answers)

    await wait_until(everywhere_refused, timeout=5)
    refused = await sign_in(services["ledger"], "qian.auditor", PASSWORD)
    assert refused.status_code == 403


async def test_signing_out_or_a_new_password_ends_the_sessions_begun_before(
    services: dict[str, httpx.AsyncClient], streams: JetStreamContext
) -> None:
    ledger = services["ledger"]
    await open_account(streams, "sun.judicial", Role.JUDICIAL, "shd-judicial", PASSWORD)
    await signed_in(ledger, "sun.judicial")
    kept = ledger.cookies["leads_session_ledger"]
    assert (await ledger.delete("/v1/session")).status_code == 204
    assert "leads_session_ledger" not in ledger.cookies

    async def old_cookie_refused() -> bool:
        replayed = {"Cookie": f"leads_session_ledger={kept}"}
        return (await ledger.get("/v1/session", headers=replayed)).status_code == 401

    await wait_until(old_cookie_refused, timeout=5)

    await signed_in(ledger, "sun.judicial")
    new_password = "另一个足够长的新密码"
    await account_log(streams).append(
        PasswordSet(user="sun.judicial", password_hash=hash_password("sun.judicial", new_password))
    )

    async def session_ended() -> bool:
        return (await ledger.get("/v1/session")).status_code == 401

    await wait_until(session_ended, timeout=5)
    assert (await sign_in(ledger, "sun.judicial", PASSWORD)).status_code == 401
    await signed_in(ledger, "sun.judicial", new_password)
