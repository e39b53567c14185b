"""The discipline committee's API: cases (umbrella first), supervision, escalation, joint
investigation, accountability, outcomes, the responsibility trace, the access audit, the
leak-risk report and the assessment. Only discipline, auditor and admin roles; auditors
read, they do not decide. Routes translate: the decisions and the reads are the
application's (oversight.application)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from common.auth import Principal, require_roles
from common.events import Event, Role
from common.http_errors import errors
from common.paths import CaseId, LeadId
from oversight.application import Oversight
from oversight.commands import (
    Escalate,
    LinkUmbrella,
    ListSupervision,
    RecordAccountability,
    RecordOutcome,
    Supervise,
)
from oversight.reports import XLSX
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
    return await oversight.cases(status)


@router.get(
    "/cases/{case_id}", summary="One case in full (the read is recorded)", responses=errors(404)
)
async def get_case(
    case_id: CaseId,
    principal: Reader,
    oversight: OversightDep,
    purpose: Annotated[str, Query(max_length=200)] = "",
) -> dict[str, Any]:
    return await oversight.case(case_id, principal, purpose)


def _done(event: Event) -> dict[str, str]:
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "lead_id": event.lead_id or "",
    }


@router.post("/cases/{case_id}/supervise", summary="Open supervision (督办)", responses=ON_A_CASE)
async def supervise(
    case_id: CaseId, body: SuperviseIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    return _done(await oversight.execute(Supervise(case_id, body.reason), principal))


@router.post(
    "/cases/{case_id}/list-supervision",
    summary="Listed supervision (挂牌督办): a directive to the handling unit, with a deadline",
    responses=ON_A_CASE,
)
async def list_supervision(
    case_id: CaseId, body: ListSupervisionIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    command = ListSupervision(case_id, body.unit, body.deadline, body.level)
    return _done(await oversight.execute(command, principal))


@router.post(
    "/cases/{case_id}/escalate", summary="Escalate to the county level", responses=ON_A_CASE
)
async def escalate(
    case_id: CaseId, body: EscalateIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    return _done(await oversight.execute(Escalate(case_id, body.reason), principal))


@router.post(
    "/cases/{case_id}/link",
    summary="Link an umbrella case to the gang lead it shields (同步侦办)",
    responses=ON_A_CASE,
)
async def link(
    case_id: CaseId, body: LinkIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    return _done(await oversight.execute(LinkUmbrella(case_id, body.gang_lead_id), principal))


@router.post(
    "/cases/{case_id}/accountability",
    summary="Record criticism or accountability (四种形态)",
    responses=ON_A_CASE,
)
async def hold_accountable(
    case_id: CaseId, body: AccountabilityIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    command = RecordAccountability(
        case_id, body.person, body.unit, body.kind, body.form, body.reason
    )
    return _done(await oversight.execute(command, principal))


@router.post(
    "/cases/{case_id}/outcome",
    summary="The discipline outcome of a lead transferred to the committee (category only)",
    responses=ON_A_CASE,
)
async def outcome(
    case_id: CaseId, body: OutcomeIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    return _done(await oversight.execute(RecordOutcome(case_id, body.result), principal))


@router.get(
    "/leads/{lead_id}/responsibility-trace",
    summary="Who held the lead and who was responsible, when (责任倒查)",
    responses=errors(404),
)
async def trace(
    lead_id: LeadId, principal: Reader, oversight: OversightDep
) -> list[dict[str, Any]]:
    return [p.__dict__ for p in await oversight.responsibility_trace(lead_id, principal)]


@router.get("/access-log", summary="Who read what, and whether they had reason to")
async def access_log(
    principal: Reader,
    oversight: OversightDep,
    lead_id: str | None = None,
    outsiders_only: bool = False,
) -> list[dict[str, Any]]:
    return await oversight.access_log(lead_id, outsiders_only)


@router.get(
    "/leak-risk", summary="Reads by outsiders shortly before a lead's key moments (通风报信)"
)
async def leak_risk(
    principal: Reader,
    oversight: OversightDep,
    hours: Annotated[float | None, Query(gt=0, le=24 * 30)] = None,
) -> list[dict[str, Any]]:
    return await oversight.leak_risk(hours)


@router.get(
    "/assessments", summary="Per unit and month: response times, rates, overdue count, score (考核)"
)
async def assessments(principal: Reader, oversight: OversightDep) -> list[dict[str, Any]]:
    return [a.__dict__ for a in await oversight.assessments()]


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
    sheet = await oversight.assessment_spreadsheet(lang)
    return Response(
        sheet.content,
        media_type=sheet.media_type,
        headers={"Content-Disposition": f'attachment; filename="{sheet.filename}"'},
    )
