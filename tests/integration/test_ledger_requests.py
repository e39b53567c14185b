"""What a request to the ledger must be: made by a unit that acts on leads (clerks,
screeners, auditors, administrators and the custodian read the ledger but act on nothing),
and a form the clerk can correct, each problem named by its field in the clerk's words."""

from __future__ import annotations

import pytest

from tests.support.ledger import (
    LedgerService,
    act,
    event_types,
    forbidden,
    ids_listed,
    report_and_file,
)

pytestmark = pytest.mark.integration

COMMANDS = (
    ("transfer", {"to_unit": "shd-police", "reason": "移交"}),
    ("accept", {}),
    ("assign", {"assignee": "wang.police", "assignee_name": "王警官"}),
    ("conclude", {"result": "substantiated", "summary": "属实"}),
    ("feedback", {"text": "已处理"}),
    ("archive", {}),
    ("reopen", {"reason": "回头看"}),
)


async def test_clerks_screeners_auditors_and_administrators_read_the_ledger_but_do_not_act(
    service: LedgerService,
) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]

    for user in ("clerk", "screener.v01", "auditor", "admin", "custodian"):
        for command, body in COMMANDS:
            forbidden(await act(http, lead_id, command, user, **body), "may not do this")
    for user in ("clerk", "screener.v01", "auditor", "admin"):
        assert await ids_listed(http, user) == {lead_id}, user

    assert await event_types(service.js, lead_id) == ["LeadRegistered"]


async def test_a_bad_form_is_refused_naming_the_field_in_the_clerks_words(
    service: LedgerService,
) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]

    maybe = await act(http, lead_id, "conclude", "office", result="maybe", summary="说不清")
    naive = await act(
        http,
        lead_id,
        "assign",
        "office",
        assignee="wang.police",
        assignee_name="王警官",
        deadline="2030-01-01T00:00:00",
    )
    extra = await act(
        http, lead_id, "transfer", "office", to_unit="shd-police", reason="移交", urgent=True
    )

    assert maybe.status_code == naive.status_code == extra.status_code == 422
    assert maybe.json()["detail"] == [
        {
            "field": "result",
            "label": "核查结果",
            "message": "核查结果不是可选的值",
            "message_en": "result is not one of the allowed values",
        }
    ]
    assert [(p["field"], p["label"], p["message"]) for p in naive.json()["detail"]] == [
        ("deadline", "办理时限", "办理时限时间必须带时区")
    ]
    assert [(p["field"], p["message"]) for p in extra.json()["detail"]] == [
        ("urgent", "urgent不是可填写的项目")
    ]
    assert await event_types(service.js, lead_id) == ["LeadRegistered"]
