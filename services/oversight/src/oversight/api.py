"""The discipline committee's API: cases (umbrella first; one case in full with what was
reported and the exchange with the reporter), supervision and the list of every supervision,
escalation, joint investigation, accountability, outcomes, the responsibility trace, the
access audit, the leak-risk report and the assessment. Only discipline, auditor and admin
roles; auditors read, they do not decide. In a county of several towns a town's committee and
auditors read and decide on their town's alone (another town's case or lead is 404), the
county's own units on every town's (oversight.application.towns). Routes translate: the
decisions and the reads are the application's (oversight.application)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime

from common.auth import Principal, require_roles
from common.events import Event, Role
from common.http_errors import errors
from common.paths import CaseId, LeadId
from oversight.application import Oversight
from oversight.notices_api import router as notices
from oversight.reports import XLSX
from oversight.schemas import (
    AccessOut,
    AccountabilityIn,
    CaseDetail,
    EscalateIn,
    LeakRiskOut,
    LinkIn,
    ListSupervisionIn,
    OutcomeIn,
    RuleFilter,
    SuperviseIn,
    SupervisionPage,
    case_detail,
    supervision_out,
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
# Far past any township's supervisions (500 a page), and small enough that the offset it
# makes stays a number every database takes.
MAX_PAGE: Final = 1_000_000
LEAD_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"


@router.get("/cases", summary="案件列表（保护伞优先）/ Cases, protective-umbrella cases first")
async def list_cases(
    principal: Reader, oversight: OversightDep, status: str | None = None
) -> list[dict[str, Any]]:
    return await oversight.cases(principal, status)


@router.get(
    "/cases/{case_id}",
    summary="一个案件的全部内容（查阅留痕） / One case in full: what was reported and the exchange"
    " with the reporter (the read is recorded)",
    description="案件本身、举报内容（详情、附件、渠道、类别、涉及村、摘要）、与举报人的往来"
    "（举报人的补充材料和留言、承办单位的反馈，按时间先后，注明由举报人还是工作人员所写）、"
    "督办和批评问责。纪委可查阅其全部案件，审计人员只读；每次查阅都有记录。不含举报人身份。"
    "\n\nThe case, what was reported (details, attachments, channel, category, village,"
    " summary), the exchange with the reporter (their supplements and messages and the answers"
    " given, oldest first, each marked as the reporter's or staff's), supervision and"
    " accountability. The committee reads all its cases, auditors read only; every read is"
    " recorded. Never who reported.",
    responses=errors(404),
)
async def get_case(
    case_id: CaseId,
    principal: Reader,
    oversight: OversightDep,
    purpose: Annotated[
        str, Query(max_length=200, description="查阅事由 / Why you read the case")
    ] = "",
) -> CaseDetail:
    return case_detail(await oversight.case(case_id, principal, purpose))


def _done(event: Event) -> dict[str, str]:
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "lead_id": event.lead_id or "",
    }


@router.post(
    "/cases/{case_id}/supervise",
    summary="督办 / Open supervision",
    description="纪委对案件线索启动督办；同时以督办通知（SupervisionNoticed）告知现承办单位督办理由，"
    "不含案件内容。\n\nThe committee presses the handling of the case's lead; the unit holding the"
    " lead is told, as a directive (SupervisionNoticed), why, and nothing of the case.",
    responses=ON_A_CASE,
)
async def supervise(
    case_id: CaseId, body: SuperviseIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    return _done(await oversight.execute(body.command(case_id), principal))


@router.post(
    "/cases/{case_id}/list-supervision",
    summary="Listed supervision (挂牌督办): a directive to the handling unit, with a deadline",
    responses=ON_A_CASE,
)
async def list_supervision(
    case_id: CaseId, body: ListSupervisionIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    return _done(await oversight.execute(body.command(case_id), principal))


@router.post(
    "/cases/{case_id}/escalate",
    summary="提级办理 / Escalate to the county level",
    responses=ON_A_CASE,
)
async def escalate(
    case_id: CaseId, body: EscalateIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    return _done(await oversight.execute(body.command(case_id), principal))


@router.post(
    "/cases/{case_id}/link",
    summary="Link an umbrella case to the gang lead it shields (同步侦办)",
    responses=ON_A_CASE,
)
async def link(
    case_id: CaseId, body: LinkIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    return _done(await oversight.execute(body.command(case_id), principal))


@router.post(
    "/cases/{case_id}/accountability",
    summary="Record criticism or accountability (四种形态)",
    responses=ON_A_CASE,
)
async def hold_accountable(
    case_id: CaseId, body: AccountabilityIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    return _done(await oversight.execute(body.command(case_id), principal))


@router.post(
    "/cases/{case_id}/outcome",
    summary="纪律处理结果 / The discipline outcome of a lead transferred to the committee (category only)",
    responses=ON_A_CASE,
)
async def outcome(
    case_id: CaseId, body: OutcomeIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    return _done(await oversight.execute(body.command(case_id), principal))


@router.get(
    "/leads/{lead_id}/responsibility-trace",
    summary="Who held the lead and who was responsible, when (责任倒查)",
    responses=errors(404),
)
async def trace(
    lead_id: LeadId, principal: Reader, oversight: OversightDep
) -> list[dict[str, Any]]:
    return [p.__dict__ for p in await oversight.responsibility_trace(lead_id, principal)]


@router.get(
    "/supervisions",
    summary="督办清单 / Every supervision, the newest first",
    description="全部督办：纪委人工督办和自动规则督办（逾期、同一事项多次举报、久拖未结），无论是否立案；"
    "每条列出线索编号、台账编号（已登记的）、案件编号（如有）、规则、理由、时间、现承办单位，"
    "以及承办单位何时收到督办通知。可按规则（manual 为人工督办）、现承办单位、起始时间筛选，分页。"
    "\n\nEvery supervision, by a member's decision or by an automatic rule (overdue, repeated"
    " reports on the same matter, open too long), with or without a case: the lead, its ledger"
    " number once filed, the case if any, the rule, the reason, when, the unit holding the lead"
    " now, and when that unit was told. Filtered by rule (manual: by hand), by the unit"
    " holding the lead, and from a time on; paged.",
)
async def list_supervisions(
    principal: Reader,
    oversight: OversightDep,
    rule: Annotated[
        RuleFilter | None,
        Query(description="自动规则，manual 为人工督办 / The rule, manual for by hand"),
    ] = None,
    unit: Annotated[
        str | None,
        Query(
            min_length=2,
            max_length=40,
            description="现承办单位代码 / The code of the unit holding the lead",
        ),
    ] = None,
    since: Annotated[
        AwareDatetime | None,
        Query(description="自此时间起（须带时区）/ From this time on (with its zone)"),
    ] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="页码 / The page")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=500, description="每页条数（至多 500）/ Per page (at most 500)")
    ] = 50,
) -> SupervisionPage:
    total, rows = await oversight.supervisions(
        principal, rule=rule, unit=unit, since=since, page=page, page_size=page_size
    )
    return SupervisionPage(
        total=total, page=page, page_size=page_size, items=[supervision_out(r) for r in rows]
    )


@router.get(
    "/access-log",
    summary="访问记录 / Who read what, and whether they had reason to",
    description="每次查阅都有记录；同一人在数分钟内（OVERSIGHT_VIEW_MINUTES，默认 10 分钟）"
    "反复查阅同一线索计为一次查看，列出次数及第一次、最后一次时间。最新的在前。"
    "\n\nEvery read is recorded; one person's repeated reads of one lead within minutes of the"
    " first (OVERSIGHT_VIEW_MINUTES, 10 by default) are one view, with how many reads and the"
    " first and last. The latest first.",
)
async def access_log(
    principal: Reader,
    oversight: OversightDep,
    lead_id: Annotated[str | None, Query(pattern=LEAD_ID_PATTERN)] = None,
    outsiders_only: bool = False,
) -> list[AccessOut]:
    return [AccessOut(**e) for e in await oversight.access_log(principal, lead_id, outsiders_only)]


@router.get(
    "/leak-risk",
    summary="通风报信风险 / Views by outsiders shortly before a lead's key moments",
    description="无关人员在线索关键节点（移交、指派、立案、督办、办结等）前若干小时内的查看；"
    "反复刷新计为一次查看。\n\nViews by outsiders within hours before one of the lead's key"
    " moments (a transfer, an assignment, a case, supervision, a result); a view refreshed"
    " many times counts once.",
)
async def leak_risk(
    principal: Reader,
    oversight: OversightDep,
    hours: Annotated[float | None, Query(gt=0, le=24 * 30)] = None,
) -> list[LeakRiskOut]:
    return [LeakRiskOut(**r) for r in await oversight.leak_risk(principal, hours)]


@router.get(
    "/assessments", summary="Per unit and month: response times, rates, overdue count, score (考核)"
)
async def assessments(principal: Reader, oversight: OversightDep) -> list[dict[str, Any]]:
    return [a.__dict__ for a in await oversight.assessments(principal)]


@router.get(
    "/assessments/towns",
    summary="各乡镇考核 / Per town and month: its units' facts taken together (unit: the town)",
)
async def assessments_by_town(principal: Reader, oversight: OversightDep) -> list[dict[str, Any]]:
    return [a.__dict__ for a in await oversight.assessments_by_town(principal)]


@router.get(
    "/assessments.xlsx",
    summary="考核表导出 / The assessment as a spreadsheet",
    response_class=Response,
    responses={
        200: {
            "description": "The assessment as a file to save",
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def assessments_xlsx(
    principal: Reader,
    oversight: OversightDep,
    lang: str = "zh",
    town: Annotated[
        str | None,
        Query(pattern=r"^[a-z0-9-]{1,40}$", description="只导出一个乡镇 / one town's units alone"),
    ] = None,
) -> Response:
    sheet = await oversight.assessment_spreadsheet(principal, lang, town)
    return Response(
        sheet.content,
        media_type=sheet.media_type,
        headers={"Content-Disposition": f'attachment; filename="{sheet.filename}"'},
    )


router.include_router(notices)
