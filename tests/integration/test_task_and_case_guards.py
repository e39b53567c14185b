"""The conflict-of-interest guard on tasks and rectification items, and the guards the
committee's cases set by themselves: a person declared tied to the village a finding names
is refused as its responsible person, with the reason, as a lead's assignee is; the person
a case holds to account is kept off the case's lead (and off every item) until the case
closes, once however often the guard is brought in line."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from common.events.conflict import ConflictGuardLifted, ConflictGuardSet
from common.eventstore import EventStore
from common.subjects import Stream
from common.vocabulary import Category
from oversight.application.cases import align_guards
from tests.conftest import wait_until
from tests.integration.test_ledger_tasks import finding
from tests.support.apps import token
from tests.support.ledger import LedgerService, act, filed, moved_to
from tests.support.oversight import DISCIPLINE, POLICE, OversightService, case_of, decided, report

pytestmark = pytest.mark.integration


async def open_finding(http: httpx.AsyncClient, **changes: Any) -> httpx.Response:
    return await http.post("/v1/ledger/tasks", json=finding(**changes), headers=token("office"))


def refused_as_conflicted(response: httpx.Response, why: str) -> None:
    """The lead's refusal: 422 on the assignee, the reasons in both languages."""
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["field"] == "assignee"
    assert "存在利害关系，不得指派" in problem["message"], problem
    assert why in problem["message"], problem
    assert "conflict of interest" in problem["message_en"]


async def test_a_person_tied_to_the_village_a_finding_names_is_not_made_responsible(
    service: LedgerService,
) -> None:
    http = service.http
    tie = await http.post(
        "/v1/me/declarations/relationships",
        json={"kind": "village", "name": "shd-v01", "note": "妻子娘家在该村"},
        headers=token("li.police"),
    )
    assert tie.status_code == 202, tie.text
    names_the_village = {"problem": "沙河店村集体土地被违规占用问题整改不到位"}

    async def refused() -> bool:
        response = await open_finding(
            http, assignee="li.police", assignee_name="李警官", **names_the_village
        )
        if response.status_code == 201:
            raise AssertionError("made responsible despite the declared tie")
        if "申报过与本事项涉及的村" not in response.text:
            return False
        refused_as_conflicted(response, "责任人申报过与本事项涉及的村存在利害关系")
        return True

    # The declaration reaches the ledger's accounts projection within seconds.
    await wait_until(refused)
    # The finding's own words never come back in a refusal.
    assert (
        "违规占用" not in (await open_finding(http, assignee="li.police", **names_the_village)).text
    )
    # An unrelated person is made responsible for it.
    accepted = await open_finding(http, **names_the_village)
    assert accepted.status_code == 201, accepted.text
    task_id = accepted.json()["task"]["task_id"]

    # Reassigning it to the tied person is refused the same way; the item stays as it was.
    again = {
        "unit": POLICE,
        "assignee": "li.police",
        "assignee_name": "李警官",
        "deadline": finding()["deadline"],
        "reason": "调整责任人",
    }
    moved = await http.post(
        f"/v1/ledger/tasks/{task_id}/reassign", json=again, headers=token("office")
    )
    refused_as_conflicted(moved, "申报过与本事项涉及的村")
    shown = await http.get(f"/v1/ledger/tasks/{task_id}", headers=token("office"))
    assert shown.json()["assignee"] == "wang.police"
    # A village's finding with no village named in it: a tie to that village refuses too.
    village_unit = await open_finding(
        http, unit="shd-v01", assignee="li.police", problem="台账不全"
    )
    assert village_unit.status_code == 422, village_unit.text


async def guards_on(js: JetStreamContext, lead_id: str) -> list[Any]:
    history = await EventStore(js, Stream.DIRECTIVES, "directive").read_lead(lead_id)
    return [
        e.event
        for e in history.events
        if isinstance(e.event, ConflictGuardSet | ConflictGuardLifted)
    ]


async def test_the_person_a_case_holds_to_account_is_kept_off_its_lead_until_it_closes(
    service: LedgerService, oversight: OversightService, streams: JetStreamContext
) -> None:
    http, committee = service.http, oversight.http
    lead = await report(streams, category=Category.DUTY_CRIME, summary="村会计挪用扶贫款")
    # A duty crime goes to the committee when the ledger files it; the committee takes it.
    await filed(http, lead.lead_id)
    moved_to(await act(http, lead.lead_id, "accept", "discipline"), "accepted")
    case = await case_of(committee, lead.lead_id)
    case_path = f"/v1/oversight/cases/{case['case_id']}"
    held = {"unit": DISCIPLINE, "kind": "accountability", "form": 2, "reason": "监管失职"}

    # A name that is nobody's account sets no guard; the account of a person of the unit does.
    await decided(committee, f"{case_path}/accountability", {**held, "person": "赵副所长"})
    assert await guards_on(streams, lead.lead_id) == []
    await decided(committee, f"{case_path}/accountability", {**held, "person": "zhao.jiwei"})
    [guard] = await guards_on(streams, lead.lead_id)
    assert isinstance(guard, ConflictGuardSet)
    assert (guard.account, guard.reason) == ("zhao.jiwei", "accountability")

    assigned = await act(
        http,
        lead.lead_id,
        "assign",
        "discipline",
        assignee="zhao.jiwei",
        assignee_name="zhao.jiwei",
        reason="调整承办人",
    )
    refused_as_conflicted(assigned, "被指派人是纪委问责案件的当事人")
    # Kept off every item too, while the case is open.
    refused_as_conflicted(
        await open_finding(service.http, unit=DISCIPLINE, assignee="zhao.jiwei"),
        "责任人是纪委问责案件的当事人",
    )
    # Brought in line again (a retry, a second replica): nothing is added.
    assert await align_guards(oversight.oversight, lead.lead_id) == []
    assert len(await guards_on(streams, lead.lead_id)) == 1

    # The case closes with its outcome: the guard lifts (the lead is concluded by it, so the
    # person is seen accepted on an item).
    async def outcome_recorded() -> bool:
        response = await committee.post(
            f"{case_path}/outcome", json={"result": "substantiated"}, headers=token("discipline")
        )
        return response.status_code == 200

    # The committee learns of the ledger's transfer from the ledger's stream.
    await wait_until(outcome_recorded)
    _, lifted = await guards_on(streams, lead.lead_id)
    assert isinstance(lifted, ConflictGuardLifted)
    assert lifted.account == "zhao.jiwei"
    assert await align_guards(oversight.oversight, lead.lead_id) == []
    accepted = await open_finding(
        service.http, unit=DISCIPLINE, assignee="zhao.jiwei", assignee_name="赵纪委"
    )
    assert accepted.status_code == 201, accepted.text
