"""A lead is handed to a person who exists: someone of the unit holding it, whose account
works. Before, the assignee was free text: a typo, a colleague of another unit or someone
who had left was recorded as responsible, and the lead had nobody."""

from __future__ import annotations

import httpx
import pytest
from nats.js import JetStreamContext

from common.events import Role
from common.events.accounts import AccountDisabled
from common.events.catalogue import ResponsibilityAssigned
from tests.conftest import wait_until
from tests.support.accounts import account_log, open_account
from tests.support.ledger import (
    LedgerService,
    act,
    handed_to_police,
    ledger_events,
    moved_to,
    report_and_file,
)

pytestmark = pytest.mark.integration


def refused_naming_the_assignee(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["field"] == "assignee"
    assert "不是承办单位 shd-police 的在岗人员" in problem["message"]


async def test_only_a_working_person_of_the_holding_unit_is_made_responsible(
    service: LedgerService, streams: JetStreamContext
) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]
    await handed_to_police(http, lead_id)

    async def assign(who: str) -> httpx.Response:
        return await act(
            http, lead_id, "assign", "police", assignee=who, assignee_name="某人", reason="调整"
        )

    # A name nobody has, and a person of another unit (the office's).
    refused_naming_the_assignee(await assign("wang.polise"))
    refused_naming_the_assignee(await assign("zhou.office"))

    # A person with an account of the police station: taken, until the account is disabled.
    await open_account(streams, "chen.police", Role.POLICE, "shd-police", "派出所陈警官的登录密码")

    async def taken() -> bool:
        return (await assign("chen.police")).status_code == 200

    await wait_until(taken)
    await account_log(streams).append(AccountDisabled(user="chen.police", reason="调离"))

    async def refused_once_disabled() -> bool:
        return (await assign("chen.police")).status_code == 422

    await wait_until(refused_once_disabled, timeout=5)
    moved_to(await assign("wang.police"), "assigned")
    # Polling for the refusal assigns chen.police again until the disabling reaches the
    # ledger: how often is the machine's timing; who was made responsible is not.
    assigned = [
        e.assignee
        for e in await ledger_events(service.js, lead_id)
        if isinstance(e, ResponsibilityAssigned)
    ]
    assert set(assigned) == {"chen.police", "wang.police"}
    assert assigned[-1] == "wang.police"
