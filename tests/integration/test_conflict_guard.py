"""The conflict-of-interest guard (通风报信, 保护伞): a lead is not handed to a person it names,
who declared a tie to what it concerns, who recused themselves, or whom the committee keeps
off it; the committee's approval of the office's request lets one hand-over through, and the
leak-risk report shows it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from common.events import Role
from common.events.accounts import AccountOpened
from common.events.catalogue import ResponsibilityAssigned
from tests.conftest import wait_until
from tests.support.accounts import account_log
from tests.support.apps import token
from tests.support.ledger import (
    LedgerService,
    act,
    handed_to_police,
    ledger_events,
    moved_to,
    report_and_file,
)
from tests.support.oversight import OversightService

pytestmark = pytest.mark.integration

SECRET_DETAIL = "陈建国收了村霸的好处，每次检查前都通风报信"


async def assign(http: httpx.AsyncClient, lead_id: str, who: str) -> httpx.Response:
    return await act(
        http, lead_id, "assign", "police", assignee=who, assignee_name=who, reason="调整承办人"
    )


def conflicted(response: httpx.Response, why: str) -> None:
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["field"] == "assignee"
    assert "存在利害关系，不得指派" in problem["message"], problem
    assert why in problem["message"], problem
    assert "conflict of interest" in problem["message_en"]
    # The lead's own words never come back in a refusal.
    assert "通风报信" not in response.text
    assert "好处" not in response.text


async def declare(http: httpx.AsyncClient, user: str, path: str, **body: Any) -> httpx.Response:
    return await http.post(f"/v1/me/{path}", json=body, headers=token(user))


async def test_a_lead_is_not_handed_to_the_person_it_names(
    service: LedgerService, streams: JetStreamContext
) -> None:
    http = service.http
    await account_log(streams).append(
        AccountOpened(
            user="chen.police", display_name="陈建国", role=Role.POLICE, unit="shd-police"
        )
    )
    lead_id = (await report_and_file(service, details=SECRET_DETAIL))["lead_id"]
    await handed_to_police(http, lead_id)

    async def refused_by_name() -> bool:
        response = await assign(http, lead_id, "chen.police")
        if response.status_code == 422 and "出现被指派人" in response.text:
            conflicted(response, "线索的详细情况中出现被指派人的姓名或别名")
            return True
        return False

    await wait_until(refused_by_name)
    moved_to(await assign(http, lead_id, "wang.police"), "assigned")


async def test_ties_recusals_and_the_committees_guard_refuse_until_an_override_is_approved(
    service: LedgerService, oversight: OversightService, streams: JetStreamContext
) -> None:
    http, committee = service.http, oversight.http
    lead_id = (await report_and_file(service, village="shd-v01"))["lead_id"]
    await handed_to_police(http, lead_id)

    # A declared tie to the lead's village; withdrawn, it no longer stops the hand-over.
    tie = await declare(
        http,
        "li.police",
        "declarations/relationships",
        kind="village",
        name="shd-v01",
        note="妻子娘家在该村",
    )
    assert tie.status_code == 202, tie.text

    async def refused_for(who: str, why: str) -> bool:
        response = await assign(http, lead_id, who)
        if response.status_code == 422 and why in response.text:
            conflicted(response, why)
            return True
        return False

    await wait_until(lambda: refused_for("li.police", "申报过与本线索涉及的村"))
    mine = (await http.get("/v1/me/declarations", headers=token("li.police"))).json()
    assert [(d["kind"], d["name"]) for d in mine] == [("village", "shd-v01")]

    # A recusal.
    recusal = await declare(
        http, "officer.1", "recusals", lead_id=lead_id, reason="与被举报人是同学"
    )
    assert recusal.status_code == 202, recusal.text
    await wait_until(lambda: refused_for("officer.1", "已申请回避"))

    # The committee keeps a person off the lead, telling the category, not the case.
    guard_body = {"lead_id": lead_id, "account": "officer.2", "reason": "umbrella"}
    assert (
        await committee.post("/v1/conflict/guards", json=guard_body, headers=token("police"))
    ).status_code == 403
    guard = await committee.post(
        "/v1/conflict/guards", json=guard_body, headers=token("discipline")
    )
    assert guard.status_code == 202, guard.text
    await wait_until(lambda: refused_for("officer.2", "保护伞案件的当事人"))

    # The override: only the office asks, only for a refused hand-over, with a reason.
    ask = {"assignee": "officer.2", "reason": "全所仅此一人熟悉该村情况"}
    path = f"/v1/ledger/leads/{lead_id}/conflict-override"
    assert (await http.post(path, json=ask, headers=token("police"))).status_code == 403
    needless = await http.post(
        path, json={**ask, "assignee": "wang.police"}, headers=token("office")
    )
    assert needless.status_code == 422
    assert "无需报批" in needless.text
    decision = {"lead_id": lead_id, "account": "officer.2", "decision": "approve"}
    unasked = await committee.post(
        "/v1/conflict/overrides", json=decision, headers=token("discipline")
    )
    assert unasked.status_code == 422
    assert "未就该人员和线索报批" in unasked.text
    asked = await http.post(path, json=ask, headers=token("office"))
    assert asked.status_code == 202, asked.text
    assert asked.json()["grounds"] == ["guard"]

    # Refused by the committee: still refused.
    refused = await committee.post(
        "/v1/conflict/overrides",
        json={**decision, "decision": "refuse"},
        headers=token("discipline"),
    )
    assert refused.status_code == 202, refused.text
    conflicted(await assign(http, lead_id, "officer.2"), "保护伞")
    assert (
        await committee.post("/v1/conflict/overrides", json=decision, headers=token("office"))
    ).status_code == 403

    # Approved: the hand-over goes through, recorded as an override, and is reported.
    approved = await committee.post(
        "/v1/conflict/overrides", json=decision, headers=token("discipline")
    )
    assert approved.status_code == 202, approved.text
    moved_to(await assign(http, lead_id, "officer.2"), "assigned")
    [handed] = [
        e for e in await ledger_events(streams, lead_id) if isinstance(e, ResponsibilityAssigned)
    ]
    assert (handed.assignee, handed.conflict_override) == ("officer.2", True)

    report = await committee.get("/v1/leak-risk/conflict-overrides", headers=token("auditor"))
    assert report.status_code == 200, report.text
    [shown] = report.json()
    assert (shown["lead_id"], shown["account"], shown["decision"]) == (
        lead_id,
        "officer.2",
        "approved",
    )
    assert shown["requested_by"] == "office"
    assert shown["decided_by"] == "discipline"
    assert shown["used_at"] is not None
    assert (
        await committee.get("/v1/leak-risk/conflict-overrides", headers=token("police"))
    ).status_code == 403

    # The others stay refused: the approval was for one person.
    conflicted(await assign(http, lead_id, "officer.1"), "已申请回避")
    withdrawn = await declare(
        http, "li.police", "declarations/withdrawals", kind="village", name="shd-v01"
    )
    assert withdrawn.status_code == 202

    async def taken_once_withdrawn() -> bool:
        return (await assign(http, lead_id, "li.police")).status_code == 200

    await wait_until(taken_once_withdrawn)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("declarations/relationships", {"kind": "person", "name": "名" * 101}),
        ("declarations/relationships", {"kind": "person", "name": "<script>x</script>"}),
        ("declarations/relationships", {"kind": "village", "name": "no-such-village"}),
        ("declarations/relationships", {"kind": "family", "name": "王五"}),
        ("declarations/aliases", {"name": ""}),
        ("recusals", {"lead_id": "../../etc", "reason": "x"}),
        ("recusals", {"lead_id": "abc", "reason": "长" * 501}),
        ("declarations/aliases", {"name": "王五", "extra": 1}),
    ],
)
async def test_hostile_declarations_are_refused(
    service: LedgerService, path: str, body: dict[str, Any]
) -> None:
    response = await declare(service.http, "wang.police", path, **body)
    assert response.status_code == 422, response.text
    mine = await service.http.get("/v1/me/declarations", headers=token("wang.police"))
    assert mine.json() == []


async def test_declarations_need_a_signed_in_person(service: LedgerService) -> None:
    response = await service.http.post("/v1/me/declarations/aliases", json={"name": "王五"})
    assert response.status_code == 401
