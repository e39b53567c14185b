"""Ending a sign-in from the list of one's own: nobody ends another person's session, and
nobody ends one without the form's token."""

from __future__ import annotations

import re

import httpx
import pytest
from nats.js import JetStreamContext

from common.events import Role
from common.events.accounts import SignedIn
from common.subjects import Stream
from tests.conftest import wait_until
from tests.integration.test_accounts_signin import PASSWORD, services, signed_in  # noqa: F401
from tests.support.accounts import open_account
from tests.support.streams import events_on

pytestmark = pytest.mark.integration


async def test_a_person_cannot_end_someone_elses_session(
    services: dict[str, httpx.AsyncClient],  # noqa: F811 - the fixture imported above
    streams: JetStreamContext,
) -> None:
    ledger, intake = services["ledger"], services["intake"]
    await open_account(streams, "li.office", Role.OFFICE, "shd-office", PASSWORD)
    await open_account(streams, "zhao.police", Role.POLICE, "shd-police", PASSWORD)
    await signed_in(intake, "li.office")
    [theirs] = [
        e
        for e in await events_on(streams, Stream.SESSIONS, "sessions.intake.>")
        if isinstance(e, SignedIn) and e.user == "li.office"
    ]
    await signed_in(ledger, "zhao.police")
    page = await ledger.get("/sessions")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None

    # Without the form's token: refused. With it, someone else's session: nothing happens.
    stale = await ledger.post(
        "/sessions/end", data={"session_id": theirs.session_id, "csrf_token": "x"}
    )
    assert stale.status_code == 403
    await ledger.post(
        "/sessions/end", data={"session_id": theirs.session_id, "csrf_token": token.group(1)}
    )
    assert [
        e
        for e in await events_on(streams, Stream.SESSIONS, "sessions.*.>")
        if e.event_type == "SessionEnded"
    ] == []
    assert (await intake.get("/v1/session")).status_code == 200
    # Their own list does not show the other person's sign-ins either.
    assert "线索受理" not in (await ledger.get("/sessions")).text

    async def listed() -> bool:
        return "本次登录" in (await ledger.get("/sessions")).text

    await wait_until(listed)
