"""The discipline committee's API: cases (umbrella first), supervision, escalation, joint
investigation, accountability, outcomes, the responsibility trace, the access audit, the
leak-risk report and the assessment. Only discipline, auditor and admin roles; auditors
read, they do not decide."""

from __future__ import annotations

import io
from datetime import UTC, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from openpyxl import Workbook

from common.auth import Principal, require_roles
from common.errors import NotFound, RuleViolation
from common.events import Actor, Event, Role, utc_now
from common.http_errors import errors, field_error
from common.organisation import UnitKind
from common.paths import CaseId, LeadId
from oversight.domain import cases as rules
from oversight.handlers import Oversight
from oversight.projection import queries
from oversight.schemas import (
    AccountabilityIn,
    EscalateIn,
    LinkIn,
    ListSupervisionIn,
    OutcomeIn,
    SuperviseIn,
)


def get_oversight(request: Request) -> Oversight:
    oversight: Oversight = request.app.state.oversight
    return oversight


OversightDep = Annotated[Oversight, Depends(get_oversight)]
Reader = Annotated[Principal, Depends(require_roles(Role.DISCIPLINE, Role.AUDITOR, Role.ADMIN))]
Decider = Annotated[Principal, Depends(require_roles(Role.DISCIPLINE, Role.ADMIN))]

router = APIRouter(prefix="/v1/oversight", tags=["oversight"], responses=errors(503))
# What every decision on a case may answer besides a refused body.
ON_A_CASE = errors(404, 409)


@router.get("/cases", summary="Cases, protective-umbrella cases first")
async def list_cases(
    principal: Reader, oversight: OversightDep, status: str | None = None
) -> list[dict[str, Any]]:
    async with oversight.runtime.database.async_engine.connect() as conn:
        return await queries.case_list(conn, status)


@router.get(
    "/cases/{case_id}", summary="One case in full (the read is recorded)", responses=errors(404)
)
async def get_case(
    case_id: CaseId,
    principal: Reader,
    oversight: OversightDep,
    purpose: Annotated[str, Query(max_length=200)] = "",
) -> dict[str, Any]:
    async with oversight.runtime.database.async_engine.connect() as conn:
        found = await queries.case(conn, case_id)
    if found is None:
        raise NotFound("no such case")
    await oversight.viewed(found["lead_id"], principal, purpose)
    return found


async def _lead_of(oversight: Oversight, case_id: str) -> str:
    async with oversight.runtime.database.async_engine.connect() as conn:
        found = await queries.case(conn, case_id)
    if found is None:
        raise NotFound("no such case")
    return str(found["lead_id"])


def _done(event: Event | None) -> dict[str, str]:
    assert event is not None  # noqa: S101 - these decisions always record something
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "lead_id": event.lead_id or "",
    }


def _unit_actor(principal: Principal) -> Actor:
    # What leaves oversight as a directive names the committee, not the officer.
    return Actor(role=principal.role, unit=principal.unit)


@router.post("/cases/{case_id}/supervise", summary="Open supervision (督办)", responses=ON_A_CASE)
async def supervise(
    case_id: CaseId, body: SuperviseIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    lead_id = await _lead_of(oversight, case_id)
    return _done(
        await oversight.decide(
            lead_id, lambda lead: rules.supervise(lead, body.reason, principal.actor)
        )
    )


@router.post(
    "/cases/{case_id}/list-supervision",
    summary="Listed supervision (挂牌督办): a directive to the handling unit, with a deadline",
    responses=ON_A_CASE,
)
async def list_supervision(
    case_id: CaseId, body: ListSupervisionIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    unit = oversight.runtime.org.unit(body.unit)
    if unit is None or unit.kind is UnitKind.VILLAGE:
        raise RuleViolation(
            f"unit: unknown handling unit {body.unit!r}", f"承办单位不存在：{body.unit}"
        )
    lead_id = await _lead_of(oversight, case_id)
    now = utc_now()
    return _done(
        await oversight.decide(
            lead_id,
            lambda lead: rules.list_supervision(
                lead, body.unit, body.deadline, body.level, _unit_actor(principal), now
            ),
        )
    )


@router.post(
    "/cases/{case_id}/escalate", summary="Escalate to the county level", responses=ON_A_CASE
)
async def escalate(
    case_id: CaseId, body: EscalateIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    lead_id = await _lead_of(oversight, case_id)
    county = oversight.county.code
    return _done(
        await oversight.decide(
            lead_id, lambda lead: rules.escalate(lead, county, body.reason, principal.actor)
        )
    )


@router.post(
    "/cases/{case_id}/link",
    summary="Link an umbrella case to the gang lead it shields (同步侦办)",
    responses=ON_A_CASE,
)
async def link(
    case_id: CaseId, body: LinkIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    lead_id = await _lead_of(oversight, case_id)
    if await oversight.reported(body.gang_lead_id) is None:
        raise field_error(
            "gang_lead_id",
            f"no lead {body.gang_lead_id!r} was ever reported",
            f"没有编号为 {body.gang_lead_id} 的线索",
        )
    return _done(
        await oversight.decide(
            lead_id, lambda lead: rules.link_umbrella(lead, body.gang_lead_id, principal.actor)
        )
    )


@router.post(
    "/cases/{case_id}/accountability",
    summary="Record criticism or accountability (四种形态)",
    responses=ON_A_CASE,
)
async def hold_accountable(
    case_id: CaseId, body: AccountabilityIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    lead_id = await _lead_of(oversight, case_id)
    return _done(
        await oversight.decide(
            lead_id,
            lambda lead: rules.hold_accountable(
                lead, body.person, body.unit, body.kind, body.form, body.reason, principal.actor
            ),
        )
    )


@router.post(
    "/cases/{case_id}/outcome",
    summary="The discipline outcome of a lead transferred to the committee (category only)",
    responses=ON_A_CASE,
)
async def outcome(
    case_id: CaseId, body: OutcomeIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    lead_id = await _lead_of(oversight, case_id)
    transfers = await oversight.ledger_transfers(lead_id)
    discipline = oversight.discipline.code
    return _done(
        await oversight.decide(
            lead_id,
            lambda lead: rules.discipline_outcome(
                lead, body.result, transfers, discipline, _unit_actor(principal)
            ),
        )
    )


@router.get(
    "/leads/{lead_id}/responsibility-trace",
    summary="Who held the lead and who was responsible, when (责任倒查)",
    responses=errors(404),
)
async def trace(
    lead_id: LeadId, principal: Reader, oversight: OversightDep
) -> list[dict[str, Any]]:
    async with oversight.runtime.database.async_engine.connect() as conn:
        periods = await queries.responsibility_trace(conn, lead_id)
    if not periods:
        raise NotFound("no custody is known for this lead")
    await oversight.viewed(lead_id, principal, "responsibility trace")
    return [p.__dict__ for p in periods]


@router.get("/access-log", summary="Who read what, and whether they had reason to")
async def access_log(
    principal: Reader,
    oversight: OversightDep,
    lead_id: str | None = None,
    outsiders_only: bool = False,
) -> list[dict[str, Any]]:
    async with oversight.runtime.database.async_engine.connect() as conn:
        return await queries.access_log(conn, lead_id, outsiders_only)


@router.get(
    "/leak-risk", summary="Reads by outsiders shortly before a lead's key moments (通风报信)"
)
async def leak_risk(
    principal: Reader,
    oversight: OversightDep,
    hours: Annotated[float | None, Query(gt=0, le=24 * 30)] = None,
) -> list[dict[str, Any]]:
    window = timedelta(hours=hours or oversight.settings.leak_window_hours)
    async with oversight.runtime.database.async_engine.connect() as conn:
        return await queries.leak_risk(conn, window)


@router.get(
    "/assessments", summary="Per unit and month: response times, rates, overdue count, score (考核)"
)
async def assessments(principal: Reader, oversight: OversightDep) -> list[dict[str, Any]]:
    async with oversight.runtime.database.async_engine.connect() as conn:
        return [a.__dict__ for a in await queries.assessments(conn)]


ASSESSMENT_HEADERS = (
    ("单位", "Unit"),
    ("月份", "Month"),
    ("线索数", "Leads"),
    ("平均登记用时(小时)", "Avg hours to register"),
    ("按时办结率", "On-time rate"),
    ("反馈率", "Feedback rate"),
    ("办结率", "Conclusion rate"),
    ("逾期次数", "Deadlines missed"),
    ("得分", "Score"),
)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/assessments.xlsx",
    summary="The assessment as a spreadsheet",
    response_class=Response,
    responses={
        200: {
            "description": "The assessment as a file to save",
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def assessments_xlsx(
    principal: Reader, oversight: OversightDep, lang: str = "zh"
) -> Response:
    async with oversight.runtime.database.async_engine.connect() as conn:
        rows = await queries.assessments(conn)
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101
    sheet.title = "考核" if lang == "zh" else "Assessment"
    sheet.append([zh if lang == "zh" else en for zh, en in ASSESSMENT_HEADERS])
    for a in rows:
        unit = oversight.runtime.org.unit(a.unit)
        sheet.append(
            [
                unit.label("zh" if lang == "zh" else "en") if unit else a.unit,
                a.month,
                a.leads,
                a.avg_hours_to_register,
                a.on_time_rate,
                a.feedback_rate,
                a.conclusion_rate,
                a.overdue,
                a.score,
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    stamp = utc_now().astimezone(UTC).strftime("%Y%m%d")
    return Response(
        buffer.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="assessment-{stamp}.xlsx"'},
    )
