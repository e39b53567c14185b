"""A lead someone may not read does not exist for them: every command on it answers exactly
what a command on a lead id that was never used answers, status and body alike, whatever
state the lead is in. Before, police acting on the umbrella lead the discipline committee
holds were told "waiting for shd-discipline" or "only the unit holding the lead
(shd-discipline)": that the lead exists, who has it and how far it got."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from common.auth import Principal
from common.subjects import Stream
from common.vocabulary import Category, Flag
from ledger.projection import queries
from tests.support.apps import token
from tests.support.factories import new_lead_id
from tests.support.ledger import (
    LedgerService,
    act,
    event_types,
    in_days,
    moved_to,
    report_and_file,
)

pytestmark = pytest.mark.integration

# Every command, with a body it accepts: only the lead decides the answer.
COMMANDS: dict[str, dict[str, Any]] = {
    "transfer": {"to_unit": "shd-police", "reason": "移交派出所处理"},
    "accept": {},
    "return": {"reason": "不属本单位管辖"},
    "assign": {"assignee": "wang.police", "assignee_name": "王警官"},
    "extend-deadline": {"deadline": in_days(60).isoformat(), "reason": "案情复杂"},
    "verification": {"note": "走访群众五人"},
    "conclude": {"result": "substantiated", "summary": "查证属实"},
    "feedback": {"text": "您反映的问题已查实"},
    "archive": {},
    "reopen": {"reason": "回头看：核实整改是否到位"},
}


async def answer(http: httpx.AsyncClient, lead_id: str, user: str, command: str) -> Any:
    if command == "read":
        response = await http.get(f"/v1/ledger/leads/{lead_id}", headers=token(user))
    else:
        response = await act(http, lead_id, command, user, **COMMANDS[command])
    return response.status_code, response.json()


async def no_different_from_a_lead_never_filed(
    running: LedgerService, lead_id: str, users: tuple[str, ...]
) -> None:
    """For each user and each operation: the answer for ``lead_id`` is the answer for an
    id nobody ever used; and nothing was recorded on the lead."""
    before = await event_types(running.js, lead_id)
    nowhere = new_lead_id()
    for user in users:
        for command in ("read", *COMMANDS):
            hidden = await answer(running.http, lead_id, user, command)
            absent = await answer(running.http, nowhere, user, command)
            assert hidden == absent, (user, command)
    assert await event_types(running.js, lead_id) == before


async def test_an_umbrella_lead_is_not_there_for_police_judicial_or_another_village_in_any_state(
    service: LedgerService,
) -> None:
    http = service.http
    # Filed, then routed by the ledger itself to the committee, which has not taken it yet.
    lead = await report_and_file(
        service, category=Category.PROTECTIVE_UMBRELLA, flags=(Flag.PROTECTIVE_UMBRELLA,)
    )
    lead_id = lead["lead_id"]
    outsiders = ("police", "judicial", "screener.v02")
    await no_different_from_a_lead_never_filed(service, lead_id, outsiders)

    moved_to(await act(http, lead_id, "accept", "discipline"), "accepted")
    await no_different_from_a_lead_never_filed(service, lead_id, outsiders)

    for command in ("assign", "conclude"):
        body = COMMANDS[command] | ({"assignee": "zhao.jiwei"} if command == "assign" else {})
        assert (await act(http, lead_id, command, "discipline", **body)).status_code == 200
    await no_different_from_a_lead_never_filed(service, lead_id, outsiders)
    # The committee itself still sees and acts on it.
    assert (await answer(http, lead_id, "discipline", "read"))[0] == 200


async def test_a_lead_handed_to_the_judicial_office_is_not_there_for_the_police(
    service: LedgerService,
) -> None:
    http = service.http
    lead_id = (await report_and_file(service, village="shd-v01"))["lead_id"]
    moved_to(
        await act(http, lead_id, "transfer", "office", to_unit="shd-judicial", reason="民事调解"),
        "transferred",
    )
    await no_different_from_a_lead_never_filed(service, lead_id, ("police", "screener.v02"))

    moved_to(await act(http, lead_id, "accept", "judicial"), "accepted")
    await no_different_from_a_lead_never_filed(service, lead_id, ("police", "screener.v02"))


async def test_a_lead_handed_over_a_moment_ago_is_acted_on_by_its_new_unit_at_once(
    service: LedgerService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The read model deciding visibility may trail the stream: the unit a lead was just
    handed to must not find it missing."""
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]
    runtime = service.app.state.runtime
    [runner] = [
        r
        for r in runtime.runners
        if r.stream is Stream.LEDGER and r.tracker.projection.name == "ledger"
    ]

    found_missing = asyncio.Event()
    loop = asyncio.get_running_loop()
    look_up = queries.one

    def watched(conn: Any, principal: Principal, wanted: str) -> Any:
        # On the worker thread the read runs on: set from the event loop's side.
        row = look_up(conn, principal, wanted)
        if row is None and principal.user == "police":
            loop.call_soon_threadsafe(found_missing.set)
        return row

    monkeypatch.setattr(queries, "one", watched)

    await runner.stop(release=False)  # the read model stands still
    moved_to(
        await act(http, lead_id, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"),
        "transferred",
    )
    accepting = asyncio.ensure_future(act(http, lead_id, "accept", "police"))
    # The police's command has found no row for them; only now does the read model move.
    await asyncio.wait_for(found_missing.wait(), timeout=10)
    await runner.start()

    moved_to(await accepting, "accepted")


async def test_a_lead_id_that_is_no_lead_id_at_all_is_refused_naming_the_path(
    service: LedgerService,
) -> None:
    for lead_id in ("*", ">", "a.b", "x" * 65):
        for user in ("office", "police"):
            status, body = await answer(service.http, lead_id, user, "accept")
            assert (status, [p["field"] for p in body["detail"]]) == (422, ["lead_id"])
