"""The committee's side of the notices (通报): a criticism notice the office issues in the
ledger reaches oversight, which lists it; the committee attaches accountability to it (its
own event, on its private stream) and sees it there. Drafts and praise notices are not the
committee's to act on; other roles are refused; hostile input is refused naming the field;
and nothing of the committee's decision is stored in the ledger's database."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy import create_engine, inspect

from common.events import Role
from common.events.notices import NoticeAccountabilityRecorded, NoticeFacts, NoticeIssued
from common.eventstore import EventStore
from common.subjects import Stream
from tests.conftest import NatsTarget, wait_until
from tests.integration.test_ledger_notices import around_today
from tests.support.apps import token
from tests.support.ledger import LedgerService
from tests.support.oversight import (
    DISCIPLINE,
    OFFICE_ACTOR,
    POLICE,
    OversightService,
    desk_settings,
    ledger_log,
    person,
    serving_oversight,
    sign_in_on_page,
)

pytestmark = pytest.mark.integration

LEDGER_NOTICES = "/v1/ledger/notices"
NOTICES = "/v1/oversight/notices"


async def issued_in_ledger(ledger: httpx.AsyncClient, kind: str = "criticism") -> str:
    body = {"kind": kind, "unit": "shd-police", **around_today()}
    response = await ledger.post(LEDGER_NOTICES, json=body, headers=token("clerk"))
    assert response.status_code == 201, response.text
    notice_id: str = response.json()["notice_id"]
    issued = await ledger.post(
        f"{LEDGER_NOTICES}/{notice_id}/issue", json={}, headers=token("office")
    )
    assert issued.status_code == 200, issued.text
    return notice_id


async def committee_sees(http: httpx.AsyncClient, notice_id: str, **query: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def listed() -> bool:
        response = await http.get(NOTICES, params=query, headers=token("discipline"))
        assert response.status_code == 200, response.text
        found.update({n["notice_id"]: n for n in response.json()})
        return notice_id in found

    await wait_until(listed, timeout=10)
    return found[notice_id]


def accountable(**changes: Any) -> dict[str, Any]:
    return {
        "person": "wang.police",
        "kind": "public_criticism",
        "form": 1,
        "reason": "线索办理超期、推诿退回，态度消极",
        **changes,
    }


async def test_the_committee_attaches_accountability_to_an_issued_criticism_and_sees_it(
    service: LedgerService, oversight: OversightService, tmp_path: Path
) -> None:
    ledger, http = service.http, oversight.http
    notice_id = await issued_in_ledger(ledger)

    shown = await committee_sees(http, notice_id)
    assert (shown["unit"], shown["kind"], shown["accountability"]) == (
        "shd-police",
        "criticism",
        [],
    )

    # The auditor reads, the committee decides; the ledger's roles have no say here.
    assert (await http.get(f"{NOTICES}/{notice_id}", headers=token("auditor"))).status_code == 200
    for user in ("auditor", "office", "clerk", "police"):
        response = await http.post(
            f"{NOTICES}/{notice_id}/accountability", json=accountable(), headers=token(user)
        )
        assert response.status_code == 403, (user, response.text)

    response = await http.post(
        f"{NOTICES}/{notice_id}/accountability", json=accountable(), headers=token("discipline")
    )
    assert response.status_code == 201, response.text
    event_id = response.json()["event_id"]

    async def attached() -> bool:
        one = await http.get(f"{NOTICES}/{notice_id}", headers=token("discipline"))
        assert one.status_code == 200, one.text
        return [a["event_id"] for a in one.json()["accountability"]] == [event_id]

    await wait_until(attached, timeout=10)
    listed = await committee_sees(http, notice_id)
    [decision] = listed["accountability"]
    assert (decision["person"], decision["unit"], decision["form"], decision["decided_by"]) == (
        "wang.police",
        "shd-police",
        1,
        "discipline",
    )

    # The committee's own event, on its private stream under the notice's subject.
    history = await EventStore(service.js, Stream.OVERSIGHT, "oversight").read_item(
        "notice", notice_id
    )
    [stored] = history.events
    assert stored.subject == f"oversight.notice.{notice_id}.NoticeAccountabilityRecorded"
    assert isinstance(stored.event, NoticeAccountabilityRecorded)

    # The ledger shows the notice as issued and knows nothing of the decision.
    in_ledger = await ledger.get(f"{LEDGER_NOTICES}/{notice_id}", headers=token("office"))
    assert "accountability" not in in_ledger.text
    assert "wang.police" not in in_ledger.text
    engine = create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert "ledger_notices" in tables
    assert not [t for t in tables if "oversight" in t or "accountab" in t], tables


async def test_praise_drafts_unknown_notices_and_hostile_input_are_refused(
    service: LedgerService, oversight: OversightService
) -> None:
    ledger, http = service.http, oversight.http
    praise = await issued_in_ledger(ledger, "praise")
    await committee_sees(http, praise, kind="praise")
    response = await http.post(
        f"{NOTICES}/{praise}/accountability", json=accountable(), headers=token("discipline")
    )
    assert response.status_code == 422, response.text
    assert "通报表扬不适用" in response.text

    # A draft is the office's: the committee acts on what was issued.
    draft = await ledger.post(
        LEDGER_NOTICES,
        json={"kind": "criticism", "unit": "shd-police", **around_today()},
        headers=token("clerk"),
    )
    draft_id = draft.json()["notice_id"]
    for notice_id in (draft_id, "f" * 32):
        response = await http.post(
            f"{NOTICES}/{notice_id}/accountability",
            json=accountable(),
            headers=token("discipline"),
        )
        assert response.status_code == 404, response.text
        response = await http.get(f"{NOTICES}/{notice_id}", headers=token("discipline"))
        assert response.status_code == 404, response.text

    criticism = await issued_in_ledger(ledger)
    await committee_sees(http, criticism)
    for body, field in (
        (accountable(form=5), "form"),
        (accountable(form=0), "form"),
        (accountable(kind="execution"), "kind"),
        (accountable(person="p" * 101), "person"),
        (accountable(person="王\x00"), "person"),
        (accountable(reason="理" * 501), "reason"),
        ({**accountable(), "unit": "shd-judicial"}, "unit"),
    ):
        response = await http.post(
            f"{NOTICES}/{criticism}/accountability", json=body, headers=token("discipline")
        )
        assert response.status_code == 422, response.text
        assert [p["field"] for p in response.json()["detail"]] == [field], response.text
    response = await http.get(f"{NOTICES}/{criticism}", headers=token("discipline"))
    assert response.json()["accountability"] == []
    response = await http.get(NOTICES, params={"page_size": 201}, headers=token("discipline"))
    assert response.status_code == 422, response.text


async def test_the_committee_desk_lists_issued_criticism_with_its_text_escaped(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    criticism, praise = (
        NoticeIssued(
            notice_id=uuid.uuid4().hex,
            kind=kind,
            unit="shd-police",
            period_from=date(2026, 11, 1),
            period_to=date(2026, 11, 30),
            title=title,
            body="正文",
            facts=NoticeFacts(overdue=3, returns=1),
            actor=OFFICE_ACTOR,
        )
        for kind, title in (("criticism", "<b>派出所</b>通报批评"), ("praise", "司法所通报表扬"))
    )
    for issued in (criticism, praise):
        await ledger_log(streams).append(issued, expected_sequence=0)
    settings = desk_settings(nats_target, f"sqlite:///{tmp_path / 'oversight.db'}", tmp_path)
    async with serving_oversight(settings) as desk:
        member = await person(streams, desk.app, "sun.jiwei", Role.DISCIPLINE, DISCIPLINE)
        await sign_in_on_page(desk.http, member)

        async def listed() -> bool:
            page = await desk.http.get("/desk/notices")
            assert page.status_code == 200, page.text
            return criticism.notice_id in page.text

        await wait_until(listed, timeout=10)
        page = await desk.http.get("/desk/notices")
        assert "&lt;b&gt;派出所&lt;/b&gt;通报批评" in page.text
        assert "<b>派出所" not in page.text
        assert "3 / 0 / 1" in page.text
        assert praise.notice_id not in page.text
        assert "尚未问责" in page.text

        officer = await person(streams, desk.app, "zhao.police", Role.POLICE, POLICE)
        await sign_in_on_page(desk.http, officer)
        assert (await desk.http.get("/desk/notices")).status_code == 403
