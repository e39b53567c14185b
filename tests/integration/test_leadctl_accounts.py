"""`leadctl accounts`: the administrator opens, changes, disables and closes the accounts of
people and machines. What it prints once (a password, a second factor, a token) is what
signs in at a running service; the log keeps only hashes and sealed secrets; a refusal
writes nothing; and only the NATS admin may write accounts at all."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from click.testing import Result
from fastapi import FastAPI
from nats.js import JetStreamContext

from common.accounts import AccountBook
from common.credentials import open_secret, password_matches
from common.events import Role, decode, event_type_of
from common.events.accounts import PasswordSet, SecondFactorSet
from common.eventstore import read_messages
from common.subjects import Stream
from ledger.bootstrap import create_app as create_ledger
from tests.conftest import NatsTarget, wait_until
from tests.support.accounts import ACCOUNTS_KEY, accounts_key_b64, session_key_b64
from tests.support.apps import serving
from tests.support.leadctl import leadctl_beside, on, printed, succeeded
from tests.support.ledger import ledger_settings
from tests.support.nats_users import PermissionedServer

pytestmark = pytest.mark.integration

KEY = ("--accounts-key", accounts_key_b64())
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Ledger:
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def book(self) -> AccountBook:
        book: AccountBook = self.app.state.accounts
        return book


@pytest.fixture
async def ledger(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[Ledger]:
    """The ledger with the accounts key leadctl seals second factors with."""
    settings = ledger_settings(
        nats_target,
        f"sqlite:///{tmp_path / 'ledger.db'}",
        tmp_path,
        accounts_key=accounts_key_b64(),
        session_key=session_key_b64(),
    )
    app = create_ledger(settings)
    async with serving(app) as http:
        yield Ledger(app, http)


async def accounts(nats_target: NatsTarget, *args: str) -> Result:
    return await leadctl_beside(*on(nats_target), "accounts", *args)


async def done(nats_target: NatsTarget, *args: str) -> dict[str, Any]:
    """A command that hands something over, and what it handed (its JSON)."""
    found: dict[str, Any] = printed(succeeded(await accounts(nats_target, *args, "--json")))
    return found


async def opened(
    nats_target: NatsTarget, user: str, name: str, role: str, unit: str, *more: str
) -> dict[str, Any]:
    """`accounts add` for someone of ``role`` at ``unit``, and what it handed over."""
    return await done(
        nats_target, "add", user, "--name", name, "--role", role, "--unit", unit, *more
    )


async def applied(ledger: Ledger, js: JetStreamContext) -> None:
    """Until the ledger's accounts projection has every account event: a sign-in tried
    before would be refused for an account it does not know yet."""
    last = (await js.stream_info(Stream.ACCOUNTS.value)).state.last_seq
    await wait_until(lambda: ledger.book.applied(Stream.ACCOUNTS) >= last)


async def sign_in(ledger: Ledger, user: str, password: str, **code: str) -> httpx.Response:
    return await ledger.http.post("/v1/session", json={"user": user, "password": password, **code})


async def last_sequence(js: JetStreamContext) -> int:
    return int((await js.stream_info(Stream.ACCOUNTS.value)).state.last_seq)


def said(result: Result) -> str:
    """What a command said, its lines joined as a terminal wraps them."""
    return " ".join(result.output.split())


async def test_a_person_signs_in_with_what_add_printed_once_and_the_log_keeps_no_secret(
    ledger: Ledger, streams: JetStreamContext, nats_target: NatsTarget
) -> None:
    police = await opened(nats_target, "zhao.police", "赵警官", "police", "shd-police")
    custodian = await opened(
        nats_target, "sun.custodian", "孙保管员", "custodian", "shd-discipline", *KEY
    )
    assert set(police) == {"user", "password"}
    assert len(police["password"]) >= 14
    assert police["password"] != custodian["password"]
    totp = pyotp.parse_uri(custodian["otpauth_uri"])
    assert totp.secret == custodian["totp_secret"]

    await applied(ledger, streams)
    answer = await sign_in(ledger, "zhao.police", police["password"])
    assert answer.status_code == 200, answer.text
    assert (answer.json()["role"], answer.json()["display_name"]) == ("police", "赵警官")
    without_code = await sign_in(ledger, "sun.custodian", custodian["password"])
    assert without_code.status_code == 401
    assert "second-factor" in without_code.headers["WWW-Authenticate"]
    with_code = await sign_in(ledger, "sun.custodian", custodian["password"], code=totp.now())
    assert with_code.status_code == 200, with_code.text

    stored = [m async for m in read_messages(streams, Stream.ACCOUNTS.value)]
    everything = b"".join(m.data or b"" for m in stored)
    for secret in (police["password"], custodian["password"], custodian["totp_secret"]):
        assert secret.encode() not in everything
    events = [decode(m.data or b"", event_type_of(m.subject or "")) for m in stored]
    assert [(getattr(e, "user", None), e.event_type) for e in events] == [
        ("zhao.police", "AccountOpened"),
        ("zhao.police", "PasswordSet"),
        ("sun.custodian", "AccountOpened"),
        ("sun.custodian", "PasswordSet"),
        ("sun.custodian", "SecondFactorSet"),
    ]
    hashes = {e.user: e.password_hash for e in events if isinstance(e, PasswordSet)}
    assert password_matches(hashes["zhao.police"], police["password"])
    assert password_matches(hashes["sun.custodian"], custodian["password"])
    (sealed,) = (e.sealed_secret for e in events if isinstance(e, SecondFactorSet))
    assert open_secret(ACCOUNTS_KEY, "sun.custodian", sealed) == custodian["totp_secret"]
    assert {e.actor.role for e in events} == {Role.ADMIN}


async def test_disabled_nobody_signs_in_enabled_again_they_do_and_a_new_password_replaces_the_old(
    ledger: Ledger, streams: JetStreamContext, nats_target: NatsTarget
) -> None:
    first = (await opened(nats_target, "li.office", "李", "office", "shd-office"))["password"]

    succeeded(await accounts(nats_target, "disable", "li.office", "--reason", "调离岗位"))
    await applied(ledger, streams)
    refused = await sign_in(ledger, "li.office", first)
    assert refused.status_code == 403
    assert "disabled" in refused.text

    succeeded(await accounts(nats_target, "enable", "li.office"))
    await applied(ledger, streams)
    assert (await sign_in(ledger, "li.office", first)).status_code == 200

    second = (await done(nats_target, "reset-password", "li.office"))["password"]
    assert second != first
    await applied(ledger, streams)
    assert (await ledger.http.get("/v1/session")).status_code == 401  # begun before: ended
    assert (await sign_in(ledger, "li.office", first)).status_code == 401
    assert (await sign_in(ledger, "li.office", second)).status_code == 200


async def test_a_lost_phone_the_second_factor_removed_and_a_new_one_enrolled_from_its_qr_code(
    ledger: Ledger, streams: JetStreamContext, nats_target: NatsTarget
) -> None:
    made = await opened(nats_target, "wu.discipline", "吴", "discipline", "shd-discipline", *KEY)
    password, lost = made["password"], pyotp.TOTP(made["totp_secret"])

    succeeded(await accounts(nats_target, "remove-second-factor", "wu.discipline"))
    await applied(ledger, streams)
    no_factor = await sign_in(ledger, "wu.discipline", password, code=lost.now())
    assert no_factor.status_code == 403
    assert "second factor" in no_factor.text

    # As the administrator sees it: a QR code to scan, and the URI under it.
    enrolled = succeeded(await accounts(nats_target, "enrol-second-factor", "wu.discipline", *KEY))
    assert "▀" in enrolled.stdout or "█" in enrolled.stdout
    (uri,) = re.findall(r"otpauth://\S+", enrolled.stdout)
    phone = pyotp.parse_uri(uri)
    assert phone.secret != lost.secret
    await applied(ledger, streams)
    answer = await sign_in(ledger, "wu.discipline", password, code=phone.now())
    assert answer.status_code == 200, answer.text


async def test_a_machine_works_with_its_printed_tokens_until_each_is_revoked(
    ledger: Ledger, streams: JetStreamContext, nats_target: NatsTarget
) -> None:
    bot = await opened(
        nats_target,
        "export.bot",
        "月度导出",
        "auditor",
        "county",
        "--machine",
        "--label",
        "每月导出",
    )
    spare = await done(nats_target, "issue-token", "export.bot", "--label", "备用")
    assert set(bot) == set(spare) == {"user", "token", "token_sha256"}
    await applied(ledger, streams)

    async def reads(token: str) -> int:
        answer = await ledger.http.get(
            "/v1/ledger/leads", headers={"Authorization": f"Bearer {token}"}
        )
        return answer.status_code

    assert (await reads(bot["token"]), await reads(spare["token"])) == (200, 200)
    assert (await sign_in(ledger, "export.bot", bot["token"])).status_code == 401

    listed = succeeded(await accounts(nats_target, "list", "--json"))
    assert printed(listed) == [
        {
            "user": "export.bot",
            "display_name": "月度导出",
            "role": "auditor",
            "unit": "county",
            "kind": "machine",
            "disabled": False,
            "second_factor": False,
            "tokens": 2,
        }
    ]
    assert bot["token_sha256"] not in listed.output

    succeeded(await accounts(nats_target, "revoke-token", "export.bot", "--token", bot["token"]))
    await applied(ledger, streams)
    assert (await reads(bot["token"]), await reads(spare["token"])) == (401, 200)
    succeeded(
        await accounts(
            nats_target, "revoke-token", "export.bot", "--token-sha256", spare["token_sha256"]
        )
    )
    await applied(ledger, streams)
    assert await reads(spare["token"]) == 401


async def test_a_change_gives_the_full_new_role_unit_and_name_and_list_shows_them(
    ledger: Ledger, streams: JetStreamContext, nats_target: NatsTarget
) -> None:
    password = (await opened(nats_target, "qian.clerk", "钱", "clerk", "shd-office"))["password"]
    succeeded(
        await accounts(
            nats_target, "change", "qian.clerk", "--role", "police", "--unit", "shd-police"
        )
    )
    succeeded(await accounts(nats_target, "change", "qian.clerk", "--name", "钱警官"))

    await applied(ledger, streams)
    answer = await sign_in(ledger, "qian.clerk", password)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["role"], answer.json()["unit"], answer.json()["display_name"]) == (
        "police",
        "shd-police",
        "钱警官",
    )
    listed = printed(succeeded(await accounts(nats_target, "list", "--json")))
    assert [(r["user"], r["role"], r["unit"], r["display_name"]) for r in listed] == [
        ("qian.clerk", "police", "shd-police", "钱警官")
    ]
    human = succeeded(await accounts(nats_target, "list"))
    assert "qian.clerk" in human.stdout
    assert "钱警官" in human.stdout


async def test_a_refusal_says_why_in_chinese_and_english_and_writes_nothing(
    streams: JetStreamContext, nats_target: NatsTarget
) -> None:
    await opened(nats_target, "li.office", "李", "office", "shd-office")
    before = await last_sequence(streams)
    new = ("new.one", "--name", "新人")
    refusals = {
        ("add", "Wang Wei", "--name", "王", "--role", "police", "--unit", "shd-police"): (
            "user name 'Wang Wei'"
        ),
        ("add", *new, "--role", "reporter"): "reporter is not an account's role",
        ("add", *new, "--role", "system"): "system is not an account's role",
        ("add", *new, "--role", "police", "--unit", "shd-nowhere"): "there is no unit",
        ("add", *new, "--role", "screener", "--unit", "shd-police"): (
            "role screener needs a unit of kind village; given shd-police (kind police)"
        ),
        ("add", *new, "--role", "police"): "role police needs a unit of kind police; given no unit",
        ("add", *new, "--role", "admin", "--unit", "shd-office"): "role admin needs no unit",
        ("add", *new, "--role", "admin"): "the accounts key is needed",
        ("add", *new, "--role", "admin", "--accounts-key", "c2hvcnQ="): "must be 32 bytes",
        ("add", "li.office", "--name", "李", "--role", "office", "--unit", "shd-office"): (
            "there is already an account 'li.office'"
        ),
        ("reset-password", "nobody.here"): "there is no account 'nobody.here'",
        ("disable", "nobody.here", "--reason", "离职"): "there is no account 'nobody.here'",
        ("issue-token", "nobody.here"): "there is no account 'nobody.here'",
        ("enable", "li.office"): "li.office is not disabled",
        ("enrol-second-factor", "li.office", *KEY): "role office signs in without a second factor",
        ("remove-second-factor", "li.office"): "no second factor to remove",
        ("change", "li.office", "--role", "police"): (
            "role police needs a unit of kind police; given shd-office (kind office)"
        ),
        ("change", "li.office", "--name", "李"): "nothing to change",
        ("revoke-token", "li.office", "--token", "not-a-token"): "has no such token",
    }
    for args, why in refusals.items():
        result = await accounts(nats_target, *args)
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output, args
        assert why in said(result), (args, result.output)
        assert CHINESE.search(result.output), (args, result.output)
    assert await last_sequence(streams) == before


def as_nats_user(server: PermissionedServer, user: str) -> list[str]:
    return ["--nats-url", server.url, "--user", user, "--password", server.passwords[user]]


async def test_only_the_nats_admin_writes_accounts_and_the_operators_user_may_read_them(
    provisioned: PermissionedServer,
) -> None:
    opening = (
        "add",
        "zhou.judicial",
        "--name",
        "周",
        "--role",
        "judicial",
        "--unit",
        "shd-judicial",
    )
    as_leadctl = as_nats_user(provisioned, "leadctl")

    refused = await leadctl_beside(*as_leadctl, "accounts", *opening, "--json")
    assert refused.exit_code == 1, refused.output
    assert "Traceback" not in refused.output
    assert "nothing was written" in said(refused)
    assert "--user admin" in said(refused)
    assert "password" not in refused.stdout  # nothing handed over for an account not made

    made = printed(
        succeeded(
            await leadctl_beside(
                *as_nats_user(provisioned, "admin"), "accounts", *opening, "--json"
            )
        )
    )
    assert made["user"] == "zhou.judicial"
    listed = printed(succeeded(await leadctl_beside(*as_leadctl, "accounts", "list", "--json")))
    assert [row["user"] for row in listed] == ["zhou.judicial"]
