"""A lead's life in the ledger (台账): from registration through handling to the archive and
back for review (回头看), and the rules on the way: archiving waits for a result and an
answer, nothing is concluded or given more time before someone is responsible, a new
responsible person needs a reason, and an answer before the result changes no state.

The ledger is fed as in production: a LeadReported on INTAKE, filed by its own registrar."""

from __future__ import annotations

from datetime import timedelta

import pytest

from common.events.catalogue import DeadlineExtended, ResponsibilityAssigned
from tests.support.ledger import (
    OFFICE_UNIT,
    LedgerService,
    act,
    assigned_by_police,
    event_types,
    filed,
    handed_to_police,
    ids_listed,
    in_days,
    ledger_events,
    moved_to,
    refused,
    report_and_file,
    shown,
)

pytestmark = pytest.mark.integration

EVIDENCE = {"name": "走访笔录.pdf", "size": 20_480, "sha256": "ab" * 32}

WALK = (
    (
        "transfer",
        "office",
        {"to_unit": "shd-police", "reason": "涉嫌寻衅滋事，移交派出所"},
        "transferred",
    ),
    ("accept", "police", {}, "accepted"),
    ("assign", "police", {"assignee": "wang.police", "assignee_name": "王警官"}, "assigned"),
    (
        "verification",
        "police",
        {"note": "走访群众五人，调取监控", "evidence": [EVIDENCE]},
        "verifying",
    ),
    (
        "conclude",
        "police",
        {"result": "substantiated", "summary": "查证属实，已立案侦查"},
        "concluded",
    ),
    ("feedback", "police", {"text": "您反映的问题已查实，依法处理"}, "answered"),
    ("archive", "office", {}, "archived"),
    ("reopen", "office", {"reason": "回头看：核实整改是否到位"}, "reopened"),
)


async def test_a_lead_walks_from_registration_through_handling_to_archive_and_back_for_review(
    service_on_each_database: LedgerService,
) -> None:
    service = service_on_each_database
    lead = await report_and_file(service)
    lead_id, number = lead["lead_id"], lead["ledger_number"]
    assert (lead["status"], lead["status_label"]) == ("registered", "已登记")
    assert (lead["unit"], lead["village"], lead["category"]) == (
        OFFICE_UNIT,
        "shd-v01",
        "village_tyrant",
    )

    for command, user, body, status in WALK:
        done = moved_to(await act(service.http, lead_id, command, user, **body), status)
        assert (done["lead_id"], done["ledger_number"]) == (lead_id, number), command

    events = await ledger_events(service.js, lead_id)
    assert [e.event_type for e in events] == [
        "LeadRegistered",
        "LeadTransferred",
        "TransferAccepted",
        "ResponsibilityAssigned",
        "VerificationRecorded",
        "LeadConcluded",
        "FeedbackGiven",
        "LeadArchived",
        "LeadReopened",
    ]
    # No deadline given: the category's (村霸: 30 days) from the moment of assignment.
    [assigned] = [e for e in events if isinstance(e, ResponsibilityAssigned)]
    assert abs(assigned.deadline - (assigned.occurred_at + timedelta(days=30))) < timedelta(
        seconds=5
    )
    assert (assigned.unit, assigned.actor.user) == ("shd-police", "police")

    row = await shown(service.http, lead_id, status="reopened")
    assert (row["status_label"], row["unit"], row["archived_at"]) == ("回头看", "shd-police", None)
    history = (await filed(service.http, lead_id))["history"]
    assert [entry["event_type"] for entry in history] == [e.event_type for e in events]


async def test_archiving_waits_for_a_result_and_an_answer_and_an_archived_lead_is_closed(
    service: LedgerService,
) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]
    await handed_to_police(http, lead_id)
    await assigned_by_police(http, lead_id)

    refused(
        await act(http, lead_id, "archive", "office"),
        "线索办结后才能归档",
        "only after it is concluded",
    )
    moved_to(
        await act(
            http, lead_id, "conclude", "police", result="unsubstantiated", summary="经核查不属实"
        ),
        "concluded",
    )
    refused(
        await act(http, lead_id, "archive", "office"), "尚未向举报人反馈", "give feedback first"
    )
    moved_to(
        await act(http, lead_id, "feedback", "office", text="经核查，反映问题不属实"), "answered"
    )
    moved_to(await act(http, lead_id, "archive", "office"), "archived")
    refused(
        await act(
            http,
            lead_id,
            "assign",
            "police",
            assignee="li.police",
            assignee_name="李警官",
            reason="换人",
        ),
        "该线索已归档",
        "the lead is archived",
    )

    # Refused commands record nothing.
    assert await event_types(service.js, lead_id) == [
        "LeadRegistered",
        "LeadTransferred",
        "TransferAccepted",
        "ResponsibilityAssigned",
        "LeadConcluded",
        "FeedbackGiven",
        "LeadArchived",
    ]


async def test_a_lead_is_concluded_or_its_deadline_extended_only_once_someone_is_responsible(
    service: LedgerService,
) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]
    await handed_to_police(http, lead_id)

    refused(
        await act(http, lead_id, "conclude", "police", result="substantiated", summary="属实"),
        "尚未责任到人",
        "no one is responsible",
    )
    refused(
        await act(http, lead_id, "verification", "police", note="走访"),
        "尚未责任到人",
        "no one is responsible",
    )
    refused(
        await act(
            http,
            lead_id,
            "extend-deadline",
            "police",
            deadline=in_days(40).isoformat(),
            reason="案情复杂",
        ),
        "尚未责任到人",
        "no one is responsible",
    )

    deadline = in_days(20)
    await assigned_by_police(http, lead_id, deadline)
    for earlier_or_same in (deadline - timedelta(days=1), deadline):
        refused(
            await act(
                http,
                lead_id,
                "extend-deadline",
                "police",
                deadline=earlier_or_same.isoformat(),
                reason="案情复杂",
            ),
            "新的时限必须晚于原时限",
            "later than the current one",
        )
    later = deadline + timedelta(days=10)
    moved_to(
        await act(
            http,
            lead_id,
            "extend-deadline",
            "police",
            deadline=later.isoformat(),
            reason="案情复杂",
        ),
        "assigned",
    )

    extensions = [
        e for e in await ledger_events(service.js, lead_id) if isinstance(e, DeadlineExtended)
    ]
    assert [(e.deadline, e.reason) for e in extensions] == [(later, "案情复杂")]
    assert "LeadConcluded" not in await event_types(service.js, lead_id)


async def test_changing_the_responsible_person_needs_a_reason(service: LedgerService) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]
    await handed_to_police(http, lead_id)
    await assigned_by_police(http, lead_id)

    refused(
        await act(http, lead_id, "assign", "police", assignee="li.police", assignee_name="李警官"),
        "更换责任人须说明理由",
        "a reassignment needs a reason",
    )
    moved_to(
        await act(
            http,
            lead_id,
            "assign",
            "police",
            assignee="li.police",
            assignee_name="李警官",
            reason="王警官调岗",
        ),
        "assigned",
    )

    assignments = [
        (e.assignee, e.reason)
        for e in await ledger_events(service.js, lead_id)
        if isinstance(e, ResponsibilityAssigned)
    ]
    assert assignments == [("wang.police", ""), ("li.police", "王警官调岗")]


async def test_an_answer_before_the_result_leaves_the_lead_in_the_state_the_command_reported(
    service: LedgerService,
) -> None:
    # 条条有回音: the reporter may be told of progress before there is a result.
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]
    await handed_to_police(http, lead_id)
    await assigned_by_police(http, lead_id)

    done = await act(http, lead_id, "feedback", "police", text="您的举报已受理，正在核查")
    moved_to(done, "assigned")
    row = await shown(http, lead_id, feedback="您的举报已受理，正在核查")
    assert (row["status"], row["status_label"]) == ("assigned", "已责任到人")
    assert lead_id in await ids_listed(http, status="assigned")
