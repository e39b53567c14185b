"""A lead id that no subject could carry is the request's fault, answered before any look-up:
never a 500 from deep inside the event store."""

from __future__ import annotations

import httpx
import pytest

from tests.support.apps import token

pytestmark = pytest.mark.integration

NOT_LEAD_IDS = ["a.b", "x" * 65, "名字", "a b", "*", ">"]


@pytest.mark.parametrize("lead_id", NOT_LEAD_IDS)
@pytest.mark.parametrize("action", ["disclose", "shred"])
async def test_a_lead_id_outside_the_subject_alphabet_is_refused_naming_it(
    intake: httpx.AsyncClient, lead_id: str, action: str
) -> None:
    answer = await intake.post(
        f"/v1/leads/{lead_id}/identity/{action}",
        json={"reason": "依法核查需要联系举报人"},
        headers=token("custodian"),
    )
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["field"] == "path.lead_id" or problem["field"].endswith("lead_id")
