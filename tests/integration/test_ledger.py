"""The ledger (台账) against a real JetStream server and real databases: every state a lead
passes through and every rule that refuses a step, officers acting on one lead at once,
gap-free numbering by two replicas (and its replay), who sees which leads, the export, the
missed-deadline watch, and the unanswered list and statistics.

The ledger is fed as in production: a LeadReported on INTAKE, filed by the ledger's own
registrar. Commands read the lead's events from the stream; the read model (the list, one
lead, the export) follows a little later, so reads of it wait for a condition."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from openpyxl import load_workbook
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from common.events import Actor, Event, Role, decode, event_type_of, utc_now
from common.events.catalogue import (
    DeadlineExtended,
    DeadlineMissed,
    LeadRegistered,
    LeadReported,
    LeadTransferred,
    LeadViewed,
    LedgerExported,
    ReporterRef,
    ResponsibilityAssigned,
    TransferReturned,
)
from common.eventstore import EventStore, StoredEvent
from common.streams import declare_streams
from common.subjects import Stream
from common.vocabulary import Category, Channel, Flag
from leadctl.cli import app as leadctl
from ledger.bootstrap import create_app
from ledger.projection.tables import leads
from ledger.settings import LedgerSettings
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import serving, token, write_staff
from tests.support.factories import new_lead_id

pytestmark = pytest.mark.integration

# The township's clock: years, months and the export's times turn in China time.
CHINA = timezone(timedelta(hours=8))
OFFICE_UNIT = "shd-office"
REGISTRATIONS = "ledger.lead.*.LeadRegistered"
EXPORTS = "audit.ledger.global.LedgerExported"

STATUS_LABELS = {
    "registered": "已登记",
    "transferred": "已移交",
    "returned": "已退回",
    "accepted": "已接收",
    "assigned": "已责任到人",
    "verifying": "核查中",
    "concluded": "已办结",
    "answered": "已反馈",
    "archived": "已归档",
    "reopened": "回头看",
}
HEADERS_ZH = [
    "编号",
    "受理时间",
    "来源渠道",
    "线索类别",
    "所属村",
    "简要内容",
    "移交单位",
    "责任人",
    "办理时限",
    "办理状态",
    "核查结果",
    "反馈情况",
    "归档时间",
]
HEADERS_EN = [
    "Ledger number",
    "Received",
    "Channel",
    "Category",
    "Village",
    "Summary",
    "Handled by",
    "Responsible",
    "Deadline",
    "Status",
    "Result",
    "Feedback",
    "Archived",
]
EVIDENCE = {"name": "走访笔录.pdf", "size": 20_480, "sha256": "ab" * 32}


# --- the service under test ---------------------------------------------------------------


def ledger_settings(
    nats_target: NatsTarget, database_url: str, tmp_path: Path, **changes: Any
) -> LedgerSettings:
    return LedgerSettings(
        nats_url=nats_target.url,
        database_url=database_url,
        users_file=write_staff(tmp_path / "users.toml"),
        deadline_check_seconds=0.2,
        **changes,
    )


@dataclass(frozen=True)
class LedgerService:
    app: FastAPI
    http: httpx.AsyncClient
    js: JetStreamContext


@pytest.fixture
async def streams(js: JetStreamContext) -> JetStreamContext:
    """Every stream declared up front, as the administrator does."""
    await declare_streams(js, list(Stream))
    return js


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


async def _served(js: JetStreamContext, settings: LedgerSettings) -> AsyncIterator[LedgerService]:
    app = create_app(settings)
    async with serving(app) as http:
        yield LedgerService(app, http, js)


@pytest.fixture
async def service(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    """The ledger on SQLite."""
    async for running in _served(streams, ledger_settings(nats_target, sqlite_url, tmp_path)):
        yield running


@pytest.fixture
async def service_on_each_database(
    streams: JetStreamContext, nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    """The ledger on SQLite, then on PostgreSQL."""
    async for running in _served(streams, ledger_settings(nats_target, database_url, tmp_path)):
        yield running


# --- feeding the ledger -------------------------------------------------------------------


async def report(
    js: JetStreamContext,
    *,
    village: str = "shd-v01",
    category: Category = Category.VILLAGE_TYRANT,
    flags: tuple[Flag, ...] = (),
    summary: str = "村霸强占集体土地，威胁村民",
    reported_at: datetime | None = None,
) -> str:
    """A lead reported on the hotline, as intake records it; returns its id."""
    lead_id = new_lead_id()
    await EventStore(js, Stream.INTAKE, "intake").append(
        LeadReported(
            lead_id=lead_id,
            channel=Channel.HOTLINE,
            category=category,
            summary=summary,
            village=village,
            reporter=ReporterRef(kind="anonymous"),
            flags=flags,
            actor=Actor(role=Role.CLERK, unit=OFFICE_UNIT, user="clerk"),
            **({"occurred_at": reported_at} if reported_at else {}),
        )
    )
    return lead_id


async def filed(http: httpx.AsyncClient, lead_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """The lead as the office sees it, once the registrar has filed it."""
    found: dict[str, Any] = {}

    async def registered() -> bool:
        response = await http.get(f"/v1/ledger/leads/{lead_id}", headers=token("office"))
        if response.status_code == 404:
            return False
        assert response.status_code == 200, response.text
        found.update(response.json())
        return True

    await wait_until(registered, timeout)
    return found


async def report_and_file(service: LedgerService, **details: Any) -> dict[str, Any]:
    return await filed(service.http, await report(service.js, **details))


# --- acting on a lead ---------------------------------------------------------------------


async def act(
    http: httpx.AsyncClient, lead_id: str, command: str, user: str, **body: Any
) -> httpx.Response:
    return await http.post(f"/v1/ledger/leads/{lead_id}/{command}", json=body, headers=token(user))


def moved_to(response: httpx.Response, status: str) -> dict[str, Any]:
    """The command was recorded and left the lead in ``status``, labelled in Chinese."""
    assert response.status_code == 200, response.text
    done = response.json()
    assert (done["status"], done["status_label"]) == (status, STATUS_LABELS[status])
    return done


def refused(response: httpx.Response, zh: str, en: str) -> None:
    """A 422 saying, in Chinese and in English, which rule the command breaks."""
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert zh in problem["message"], problem
    assert en in problem["message_en"], problem


def hidden(response: httpx.Response) -> None:
    """The answer for a lead that does not exist, which is also that for one the user may
    not see."""
    assert (response.status_code, response.json()) == (
        404,
        {"detail": "no such lead, or not one you may see"},
    ), response.text


def forbidden(response: httpx.Response, why: str = "") -> None:
    assert response.status_code == 403, response.text
    assert why in response.json()["detail"]


async def handed_to_police(http: httpx.AsyncClient, lead_id: str) -> None:
    moved_to(
        await act(http, lead_id, "transfer", "office", to_unit="shd-police", reason="涉嫌违法犯罪"),
        "transferred",
    )
    moved_to(await act(http, lead_id, "accept", "police"), "accepted")


async def assigned_by_police(
    http: httpx.AsyncClient, lead_id: str, deadline: datetime | None = None
) -> None:
    moved_to(
        await act(
            http,
            lead_id,
            "assign",
            "police",
            assignee="wang.police",
            assignee_name="王警官",
            **({"deadline": deadline.isoformat()} if deadline else {}),
        ),
        "assigned",
    )


def in_days(days: float) -> datetime:
    return utc_now() + timedelta(days=days)


# --- what the test reads back -------------------------------------------------------------


async def ledger_events(js: JetStreamContext, lead_id: str) -> list[Event]:
    history = await EventStore(js, Stream.LEDGER, "ledger").read_lead(lead_id)
    return [stored.event for stored in history.events]


async def event_types(js: JetStreamContext, lead_id: str) -> list[str]:
    return [event.event_type for event in await ledger_events(js, lead_id)]


async def stored_on(js: JetStreamContext, stream: Stream, subject: str) -> list[StoredEvent]:
    """Every event on ``subject`` (wildcards allowed), in stream order."""
    events: list[StoredEvent] = []
    sequence = 0
    while True:
        try:
            msg = await js.get_msg(
                stream.value, seq=sequence + 1, subject=subject, direct=True, next=True
            )
        except NotFoundError:
            return events
        sequence = msg.seq or sequence + 1
        events.append(
            StoredEvent(
                sequence,
                msg.subject or "",
                decode(msg.data or b"", event_type_of(msg.subject or "")),
            )
        )


async def count_on(js: JetStreamContext, stream: Stream, subject: str) -> int:
    info = await js.stream_info(stream.value, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def listed(http: httpx.AsyncClient, user: str = "office", **query: Any) -> dict[str, Any]:
    response = await http.get("/v1/ledger/leads", params=query, headers=token(user))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def ids_listed(http: httpx.AsyncClient, user: str = "office", **query: Any) -> set[str]:
    page = await listed(http, user, page_size=500, **query)
    return {item["lead_id"] for item in page["items"]}


async def shown(http: httpx.AsyncClient, lead_id: str, **expected: Any) -> dict[str, Any]:
    """The lead's row in the list once the read model shows ``expected`` (the list, unlike
    reading one lead, records no access)."""
    found: dict[str, Any] = {}

    async def caught_up() -> bool:
        page = await listed(http, page_size=500)
        row = next((item for item in page["items"] if item["lead_id"] == lead_id), None)
        if row is None or any(row[k] != v for k, v in expected.items()):
            return False
        found.update(row)
        return True

    await wait_until(caught_up)
    return found


def parse(moment: str) -> datetime:
    parsed = datetime.fromisoformat(moment)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def china_time(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


# --- 1. every state, and every rule that refuses a step -----------------------------------


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


async def test_only_the_unit_holding_a_lead_hands_it_on_and_only_the_unit_it_went_to_takes_it(
    service: LedgerService,
) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]

    # Not handed to the police: to them the lead is not there at all.
    hidden(
        await act(http, lead_id, "transfer", "police", to_unit="shd-judicial", reason="转司法所")
    )
    hidden(await act(http, lead_id, "accept", "police"))

    moved_to(
        await act(http, lead_id, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"),
        "transferred",
    )
    hidden(await act(http, lead_id, "accept", "judicial"))
    refused(
        await act(
            http, lead_id, "assign", "office", assignee="zhou.office", assignee_name="周主任"
        ),
        "正等待shd-police接收或退回",
        "waiting for shd-police",
    )
    moved_to(await act(http, lead_id, "accept", "police"), "accepted")
    refused(await act(http, lead_id, "accept", "police"), "该线索没有待接收的移交", "not waiting")

    assert await event_types(service.js, lead_id) == [
        "LeadRegistered",
        "LeadTransferred",
        "TransferAccepted",
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


async def test_a_lead_is_handed_only_to_a_known_handling_unit_other_than_its_holder(
    service: LedgerService,
) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]

    refused(
        await act(http, lead_id, "transfer", "office", to_unit="shd-nowhere", reason="移交"),
        "没有这个单位 'shd-nowhere'",
        "to_unit: unknown unit 'shd-nowhere'",
    )
    refused(
        await act(http, lead_id, "transfer", "office", to_unit="shd-v02", reason="移交村里"),
        "没有这个单位 'shd-v02'",
        "unknown unit",
    )
    refused(
        await act(http, lead_id, "transfer", "office", to_unit=OFFICE_UNIT, reason="移交"),
        "该线索已在该单位",
        "already held by that unit",
    )

    assert await event_types(service.js, lead_id) == ["LeadRegistered"]


async def test_a_receiving_unit_returns_a_lead_to_the_office_with_its_reason(
    service: LedgerService,
) -> None:
    http = service.http
    lead_id = (await report_and_file(service))["lead_id"]
    moved_to(
        await act(http, lead_id, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"),
        "transferred",
    )

    no_reason = await act(http, lead_id, "return", "police")
    assert no_reason.status_code == 422, no_reason.text
    assert [(p["field"], p["label"]) for p in no_reason.json()["detail"]] == [("reason", "理由")]
    moved_to(
        await act(http, lead_id, "return", "police", reason="属民事纠纷，不属公安管辖"), "returned"
    )

    # The office holds it again: the police may no longer act, the office hands it on.
    forbidden(
        await act(
            http, lead_id, "assign", "police", assignee="wang.police", assignee_name="王警官"
        ),
        "only the unit holding the lead (shd-office)",
    )
    row = await shown(http, lead_id, status="returned")
    assert (row["status_label"], row["unit"]) == ("已退回", OFFICE_UNIT)
    moved_to(
        await act(
            http,
            lead_id,
            "transfer",
            "office",
            to_unit="shd-judicial",
            reason="民事纠纷，司法所调解",
        ),
        "transferred",
    )
    moved_to(await act(http, lead_id, "accept", "judicial"), "accepted")

    [returned] = [
        e for e in await ledger_events(service.js, lead_id) if isinstance(e, TransferReturned)
    ]
    assert (returned.unit, returned.to_unit, returned.reason) == (
        "shd-police",
        OFFICE_UNIT,
        "属民事纠纷，不属公安管辖",
    )


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


# --- 2. officers acting on one lead at once -----------------------------------------------


async def test_of_eight_officers_assigning_one_lead_at_once_exactly_one_is_recorded(
    service_on_each_database: LedgerService,
) -> None:
    service = service_on_each_database
    lead_id = (await report_and_file(service))["lead_id"]
    await handed_to_police(service.http, lead_id)
    assignees = [f"officer.{n}" for n in range(8)]

    responses = await asyncio.gather(
        *(
            act(service.http, lead_id, "assign", "police", assignee=who, assignee_name=f"警官{n}")
            for n, who in enumerate(assignees)
        )
    )

    codes = Counter(r.status_code for r in responses)
    assert codes[200] == 1, codes
    assert set(codes) <= {200, 409, 422}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["detail"][0]["message"] == "该线索刚被他人修改，请刷新后重试"
    [winner] = [who for who, r in zip(assignees, responses, strict=True) if r.status_code == 200]
    recorded = [
        e for e in await ledger_events(service.js, lead_id) if isinstance(e, ResponsibilityAssigned)
    ]
    assert [e.assignee for e in recorded] == [winner]


async def test_a_transfer_accepted_twice_at_once_is_accepted_once(
    service_on_each_database: LedgerService,
) -> None:
    service = service_on_each_database
    lead_id = (await report_and_file(service))["lead_id"]
    moved_to(
        await act(
            service.http, lead_id, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"
        ),
        "transferred",
    )

    responses = await asyncio.gather(
        *(act(service.http, lead_id, "accept", "police") for _ in range(2))
    )

    assert sorted(r.status_code for r in responses)[0] == 200
    assert sorted(r.status_code for r in responses)[1] in (409, 422), [r.text for r in responses]
    assert (await event_types(service.js, lead_id)).count("TransferAccepted") == 1


# --- 3. numbering: gap-free and unique with two replicas, and the same after a replay -----

THOUSAND = 1_000


@dataclass(frozen=True)
class FiledByTwoReplicas:
    lead_ids: list[str]
    registrations: list[StoredEvent]  # the LeadRegistered events, in stream order
    live_numbers: dict[str, str]  # lead -> number, as the live read model lists them
    year: int
    # Messages each replica's NATS connection sent while filing: one filing takes about
    # five (pull, two reads, publish, ack); an idle replica sends a few dozen.
    messages_sent: tuple[int, ...]


@pytest.fixture
async def thousand_filed_by_two_replicas(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path
) -> FiledByTwoReplicas:
    """A thousand leads reported at once and filed by two ledger replicas sharing one
    database; both are stopped before the test runs its (synchronous) replay. Measured
    here: about 5.5 s from the first report to the thousandth registration."""
    js = streams
    settings = ledger_settings(nats_target, sqlite_url, tmp_path)
    first, second = create_app(settings), create_app(settings)
    year = utc_now().astimezone(CHINA).year
    lead_ids: list[str] = []

    async def all_filed() -> bool:
        return await count_on(js, Stream.LEDGER, REGISTRATIONS) == THOUSAND

    async with serving(first) as http, serving(second):

        async def all_listed() -> bool:
            return (await listed(http, page_size=1))["total"] == THOUSAND

        for _ in range(THOUSAND // 100):
            lead_ids += await asyncio.gather(
                *(report(js, village="shd-v04", category=Category.PUBLIC_ORDER) for _ in range(100))
            )
        await wait_until(all_filed, timeout=90, interval=0.2)
        sent = tuple(
            app.state.runtime.broker.connection.stats["out_msgs"] for app in (first, second)
        )
        await wait_until(all_listed, timeout=30, interval=0.2)
        live = {
            item["lead_id"]: item["ledger_number"]
            for page in (1, 2)
            for item in (await listed(http, page=page, page_size=500))["items"]
        }
    registrations = await stored_on(js, Stream.LEDGER, REGISTRATIONS)
    return FiledByTwoReplicas(lead_ids, registrations, live, year, sent)


# A plain (not async) test: the CLI runs its own event loop, as it does for an operator.
def test_two_replicas_number_a_thousand_leads_without_gap_or_repeat_and_a_replay_agrees(
    thousand_filed_by_two_replicas: FiledByTwoReplicas, nats_target: NatsTarget, tmp_path: Path
) -> None:
    filed_ = thousand_filed_by_two_replicas
    numbers = [
        s.event.ledger_number for s in filed_.registrations if isinstance(s.event, LeadRegistered)
    ]
    registered_leads = [s.event.lead_id for s in filed_.registrations]

    assert min(filed_.messages_sent) > 500, (
        f"one replica filed (almost) nothing: {filed_.messages_sent}"
    )
    # In the order they were stored: 1, 2, 3 … 1000, each lead once.
    assert numbers == [f"SHD-{filed_.year}-{n:06d}" for n in range(1, THOUSAND + 1)]
    assert sorted(registered_leads) == sorted(filed_.lead_ids)
    by_stream = dict(zip(registered_leads, numbers, strict=True))
    assert filed_.live_numbers == by_stream

    rebuilt = tmp_path / "rebuilt.db"
    result = CliRunner().invoke(
        leadctl,
        [
            "--nats-url",
            nats_target.url,
            "--user",
            "",
            "replay",
            "ledger",
            "--db",
            f"sqlite:///{rebuilt}",
            "--json",
        ],
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["malformed"] == []
    engine = create_engine(f"sqlite:///{rebuilt}")
    with engine.connect() as conn:
        replayed = {
            row.lead_id: row.ledger_number
            for row in conn.execute(select(leads.c.lead_id, leads.c.ledger_number))
        }
    engine.dispose()
    assert replayed == filed_.live_numbers


# --- 4. who sees which leads, and the record of each read ---------------------------------


async def test_each_reader_sees_their_own_part_of_the_ledger_and_each_read_is_recorded(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    own = (await report_and_file(service, village="shd-v01"))["lead_id"]
    other = (await report_and_file(service, village="shd-v02"))["lead_id"]
    flagged = (
        await report_and_file(
            service,
            village="shd-v03",
            category=Category.DUTY_CRIME,
            flags=(Flag.INVOLVES_OFFICIAL,),
        )
    )["lead_id"]
    # The registrar routes the lead involving an official to the discipline committee.
    routed = await shown(http, flagged, unit="shd-discipline", status="transferred")
    assert routed["status_label"] == "已移交"
    [transfer] = [e for e in await ledger_events(js, flagged) if isinstance(e, LeadTransferred)]
    assert (transfer.from_unit, transfer.to_unit, transfer.actor.user) == (
        OFFICE_UNIT,
        "shd-discipline",
        "registrar",
    )

    everything = {own, other, flagged}
    for user in ("office", "clerk", "auditor"):
        assert await ids_listed(http, user) == everything, user
    assert await ids_listed(http, "screener.v01") == {own}
    assert await ids_listed(http, "screener.v02") == {other}
    assert await ids_listed(http, "discipline") == {flagged}
    assert await ids_listed(http, "judicial") == set()
    assert await ids_listed(http, "police") == set()
    assert (
        await http.get(f"/v1/ledger/leads/{other}", headers=token("screener.v01"))
    ).status_code == 404
    assert (await http.get(f"/v1/ledger/leads/{own}", headers=token("police"))).status_code == 404

    moved_to(
        await act(http, own, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"),
        "transferred",
    )
    await wait_until(lambda: _listed_exactly(http, "police", {own}))
    assert (await http.get(f"/v1/ledger/leads/{own}", headers=token("police"))).status_code == 200
    assert (await http.get(f"/v1/ledger/leads/{other}", headers=token("police"))).status_code == 404

    views = f"audit.ledger.lead.{own}.LeadViewed"
    before = await stored_on(js, Stream.AUDIT, views)
    read = await http.get(
        f"/v1/ledger/leads/{own}", params={"purpose": "季度抽查"}, headers=token("auditor")
    )
    assert read.status_code == 200
    after = await stored_on(js, Stream.AUDIT, views)
    assert len(after) == len(before) + 1
    [viewed] = [s.event for s in after[len(before) :]]
    assert isinstance(viewed, LeadViewed)
    assert (viewed.lead_id, viewed.service, viewed.purpose) == (own, "ledger", "季度抽查")
    assert viewed.actor == Actor(role=Role.AUDITOR, unit="county", user="auditor")


async def _listed_exactly(http: httpx.AsyncClient, user: str, wanted: set[str]) -> bool:
    return await ids_listed(http, user) == wanted


async def test_the_list_filters_by_status_village_category_unit_and_filing_time_and_pages(
    service: LedgerService,
) -> None:
    http = service.http
    early = [
        (await report_and_file(service, village=v, category=c))["lead_id"]
        for v, c in (
            ("shd-v01", Category.VILLAGE_TYRANT),
            ("shd-v01", Category.PUBLIC_ORDER),
            ("shd-v02", Category.VILLAGE_TYRANT),
        )
    ]
    moment = utc_now()
    await wait_until(lambda: utc_now() > moment)
    late = [
        (await report_and_file(service, village=v, category=c))["lead_id"]
        for v, c in (("shd-v02", Category.PETITION), ("shd-v03", Category.VILLAGE_TYRANT))
    ]
    a, b, c, d, e = *early, *late
    moved_to(
        await act(http, e, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"),
        "transferred",
    )
    await shown(http, e, status="transferred")

    assert await ids_listed(http, status="transferred") == {e}
    assert await ids_listed(http, status="registered") == {a, b, c, d}
    assert await ids_listed(http, village="shd-v01") == {a, b}
    assert await ids_listed(http, category="village_tyrant") == {a, c, e}
    assert await ids_listed(http, village="shd-v02", category="village_tyrant") == {c}
    assert await ids_listed(http, unit="shd-police") == {e}
    assert await ids_listed(http, **{"from": moment.isoformat()}) == {d, e}
    assert await ids_listed(http, to=moment.isoformat()) == {a, b, c}
    # No lead has a deadline yet; the deadline test lists an overdue one.
    assert await ids_listed(http, overdue="true") == set()
    assert await ids_listed(http, overdue="false") == {a, b, c, d, e}

    pages = [await listed(http, page=n, page_size=2) for n in (1, 2, 3, 4)]
    assert [(p["total"], p["page"], p["page_size"], len(p["items"])) for p in pages] == [
        (5, 1, 2, 2),
        (5, 2, 2, 2),
        (5, 3, 2, 1),
        (5, 4, 2, 0),
    ]
    in_order = [item for p in pages for item in p["items"]]
    # Newest first: filed one after another, so by ledger number, descending.
    assert [i["lead_id"] for i in in_order] == [e, d, c, b, a]
    assert [i["ledger_number"] for i in in_order] == sorted(
        (i["ledger_number"] for i in in_order), reverse=True
    )

    too_small = await http.get("/v1/ledger/leads", params={"page_size": 0}, headers=token("office"))
    assert too_small.status_code == 422
    assert [(p["field"], p["label"]) for p in too_small.json()["detail"]] == [
        ("page_size", "每页条数")
    ]


# --- 5. the export ------------------------------------------------------------------------


async def test_the_export_is_the_ledger_with_chinese_headers_and_labels_and_each_export_is_recorded(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    reported_at = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)  # 09:30 in the township
    handled = await report_and_file(service, village="shd-v01", reported_at=reported_at)
    waiting = await report_and_file(
        service,
        village="shd-v02",
        category=Category.PUBLIC_ORDER,
        summary="夜间聚众赌博",
        reported_at=reported_at,
    )
    deadline = in_days(25).replace(second=0, microsecond=0)
    await handed_to_police(http, handled["lead_id"])
    await assigned_by_police(http, handled["lead_id"], deadline)
    moved_to(
        await act(
            http,
            handled["lead_id"],
            "conclude",
            "police",
            result="substantiated",
            summary="查证属实",
        ),
        "concluded",
    )
    moved_to(
        await act(http, handled["lead_id"], "feedback", "police", text="已查实，依法处理"),
        "answered",
    )
    await shown(http, handled["lead_id"], status="answered")

    xlsx = await http.get("/v1/ledger/export.xlsx", headers=token("office"))
    csv_zh = await http.get("/v1/ledger/export.csv", headers=token("office"))
    xlsx_en = await http.get(
        "/v1/ledger/export.xlsx", params={"lang": "en"}, headers=token("office")
    )
    csv_en = await http.get("/v1/ledger/export.csv", params={"lang": "en"}, headers=token("office"))
    own_village = await http.get("/v1/ledger/export.csv", headers=token("screener.v01"))

    rows = _sheet(xlsx)
    assert rows[0] == HEADERS_ZH
    assert rows[1:] == [
        [
            handled["ledger_number"],
            "2026-03-01 09:30",
            "举报电话",
            "村霸",
            "沙河店村",
            "村霸强占集体土地，威胁村民",
            "沙河店派出所",
            "王警官",
            china_time(deadline),
            "已反馈",
            "属实",
            "已查实，依法处理",
            "",
        ],
        [
            waiting["ledger_number"],
            "2026-03-01 09:30",
            "举报电话",
            "治安",
            "前营村",
            "夜间聚众赌博",
            "沙河店镇扫黑除恶领导小组办公室",
            "",
            "",
            "已登记",
            "",
            "",
            "",
        ],
    ]
    assert csv_zh.content.startswith(b"\xef\xbb\xbf")
    assert _csv(csv_zh) == rows
    en = _sheet(xlsx_en)
    assert en[0] == HEADERS_EN
    assert en[1][2:4] == ["hotline", "village tyrant"]
    assert _csv(csv_en)[0] == HEADERS_EN
    assert [r[0] for r in _csv(own_village)] == ["编号", handled["ledger_number"]]

    stored = await stored_on(js, Stream.AUDIT, EXPORTS)
    exports = [s.event for s in stored if isinstance(s.event, LedgerExported)]
    assert len(exports) == len(stored)
    assert [(e.format, e.row_count, e.actor.user) for e in exports] == [
        ("xlsx", 2, "office"),
        ("csv", 2, "office"),
        ("xlsx", 2, "office"),
        ("csv", 2, "office"),
        ("csv", 1, "screener.v01"),
    ]


def _sheet(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert response.headers["content-disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- 6. missed deadlines ------------------------------------------------------------------


async def missed(js: JetStreamContext, lead_id: str) -> list[DeadlineMissed]:
    return [e for e in await ledger_events(js, lead_id) if isinstance(e, DeadlineMissed)]


async def _missed_exactly(js: JetStreamContext, lead_id: str, times: int) -> bool:
    return len(await missed(js, lead_id)) == times


async def test_a_missed_deadline_is_recorded_once_however_often_and_by_whichever_replica_it_is_checked(
    service: LedgerService, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path
) -> None:
    http, js = service.http, service.js
    lead_id = (await report_and_file(service))["lead_id"]
    await handed_to_police(http, lead_id)
    deadline = utc_now() + timedelta(seconds=1.5)
    await assigned_by_police(http, lead_id, deadline)

    await wait_until(lambda: _missed_exactly(js, lead_id, 1), timeout=10)
    for _ in range(3):
        assert await service.app.state.ledger.mark_missed_deadlines() == 0
    replica = create_app(ledger_settings(nats_target, sqlite_url, tmp_path))
    async with serving(replica):
        assert await replica.state.ledger.mark_missed_deadlines() == 0
    [first] = await missed(js, lead_id)
    assert (first.deadline, first.unit, first.assignee) == (deadline, "shd-police", "wang.police")

    row = await shown(http, lead_id, deadline_missed=True)
    assert row["status"] == "assigned"
    assert lead_id in await ids_listed(http, overdue="true")
    assert lead_id not in await ids_listed(http, overdue="false")

    # An extended deadline that passes in turn is missed once more, for the new deadline.
    extended = utc_now() + timedelta(seconds=1.5)
    moved_to(
        await act(
            http,
            lead_id,
            "extend-deadline",
            "police",
            deadline=extended.isoformat(),
            reason="补充调查",
        ),
        "assigned",
    )
    await wait_until(lambda: _missed_exactly(js, lead_id, 2), timeout=10)
    for _ in range(3):
        assert await service.app.state.ledger.mark_missed_deadlines() == 0
    assert [m.deadline for m in await missed(js, lead_id)] == [deadline, extended]
    await shown(http, lead_id, deadline_missed=True)


async def test_a_lead_reopened_for_review_is_flagged_when_its_new_deadline_passes(
    service: LedgerService,
) -> None:
    # The rules allow it (a reopened lead has no result), so the watch must see it too.
    http, js = service.http, service.js
    lead_id = (await report_and_file(service))["lead_id"]
    await handed_to_police(http, lead_id)
    await assigned_by_police(http, lead_id, in_days(10))
    moved_to(
        await act(http, lead_id, "conclude", "police", result="substantiated", summary="查证属实"),
        "concluded",
    )
    moved_to(
        await act(http, lead_id, "reopen", "office", reason="回头看：群众反映问题反弹"), "reopened"
    )
    new_deadline = utc_now() + timedelta(seconds=1)
    moved_to(
        await act(
            http,
            lead_id,
            "assign",
            "police",
            assignee="li.police",
            assignee_name="李警官",
            deadline=new_deadline.isoformat(),
            reason="回头看另行指定",
        ),
        "assigned",
    )

    await wait_until(lambda: _missed_exactly(js, lead_id, 1), timeout=5)
    row = await shown(http, lead_id, deadline_missed=True)
    assert row["conclusion"] is None
    assert lead_id in await ids_listed(http, overdue="true")


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


# --- 7. the unanswered list and the statistics --------------------------------------------


async def filed_earlier(
    service: LedgerService, number: int, when: datetime, village: str, category: Category
) -> str:
    """A lead filed ``when``. The registrar files with the current time and the API takes
    no date, so an old filing is written to LEDGER directly, as a ledger kept before this
    service would be brought in."""
    lead_id = new_lead_id()
    await EventStore(service.js, Stream.LEDGER, "ledger").append(
        LeadRegistered(
            lead_id=lead_id,
            ledger_number=f"SHD-{when.astimezone(CHINA).year}-{number:06d}",
            unit=OFFICE_UNIT,
            reported_at=when,
            channel=Channel.WALK_IN,
            category=category,
            summary="旧台账线索",
            village=village,
            occurred_at=when,
            actor=Actor(role=Role.SYSTEM, unit=OFFICE_UNIT, user="registrar"),
        )
    )
    await filed(service.http, lead_id)
    return lead_id


@pytest.fixture
async def service_answering_within_25_days(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    settings = ledger_settings(nats_target, sqlite_url, tmp_path, unanswered_after_days=25)
    async for running in _served(streams, settings):
        yield running


async def test_unanswered_lists_old_leads_without_an_answer_or_a_result_and_stats_count_the_ledger(
    service_answering_within_25_days: LedgerService,
) -> None:
    service = service_answering_within_25_days
    http = service.http
    now = utc_now()
    silent = await filed_earlier(
        service, 1, now - timedelta(days=21), "shd-v01", Category.VILLAGE_TYRANT
    )
    unanswered_result = await filed_earlier(
        service, 2, now - timedelta(days=20), "shd-v02", Category.PETITION
    )
    done = await filed_earlier(service, 3, now - timedelta(days=20), "shd-v02", Category.PETITION)
    recent = (await report_and_file(service, village="shd-v01"))["lead_id"]
    for lead_id in (unanswered_result, done):
        moved_to(
            await act(
                http, lead_id, "assign", "office", assignee="zhou.office", assignee_name="周主任"
            ),
            "assigned",
        )
        moved_to(
            await act(
                http, lead_id, "conclude", "office", result="not_in_scope", summary="属一般信访"
            ),
            "concluded",
        )
    moved_to(await act(http, done, "feedback", "office", text="已转信访部门办理"), "answered")
    moved_to(
        await act(http, recent, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"),
        "transferred",
    )
    await shown(http, done, status="answered")
    await shown(http, recent, status="transferred")

    async def unanswered(user: str = "office", **query: Any) -> list[str]:
        response = await http.get("/v1/ledger/unanswered", params=query, headers=token(user))
        assert response.status_code == 200, response.text
        return [row["lead_id"] for row in response.json()]

    # Filed 20 and 21 days ago: inside this service's 25 days, past 15.
    assert await unanswered() == []
    assert await unanswered(days=15) == [silent, unanswered_result]
    assert await unanswered(days=21) == [silent]
    assert await unanswered(days=30) == []
    assert await unanswered("screener.v01", days=15) == [silent]
    assert await unanswered("police", days=15) == []
    # A lead filed today is not overdue for an answer even by the shortest measure.
    assert recent not in await unanswered(days=1)

    months = Counter(
        parse(row["registered_at"]).astimezone(CHINA).strftime("%Y-%m")
        for row in (await listed(http, page_size=500))["items"]
    )
    stats = await http.get("/v1/ledger/stats", headers=token("office"))
    assert stats.status_code == 200
    assert stats.json() == {
        "village": {"shd-v01": 2, "shd-v02": 2},
        "unit": {OFFICE_UNIT: 3, "shd-police": 1},
        "category": {"petition": 2, "village_tyrant": 2},
        "month": dict(sorted(months.items())),
    }
    own = (await http.get("/v1/ledger/stats", headers=token("screener.v01"))).json()
    assert own["village"] == {"shd-v01": 2}
    assert sum(own["month"].values()) == 2
    police = (await http.get("/v1/ledger/stats", headers=token("police"))).json()
    assert police["unit"] == {"shd-police": 1}
