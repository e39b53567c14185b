"""The committee's lists and reports on the desk: every supervision, the access log (a
person's repeated reads of a lead counted as one view), the leak-risk report and the
assessment with its spreadsheet. The same reads the API makes."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BeforeValidator

from common.errors import RuleViolation
from common.http_errors import describe_violation
from common.vocabulary import ROLES
from oversight.application import conflict
from oversight.application.towns import units_named
from oversight.domain.cases import BY_HAND, BY_HAND_LABEL, SUPERVISION_RULES
from oversight.pages.conflict import GROUNDS
from oversight.pages.desk import ACCESS_KINDS, MOMENTS, DeskDep
from oversight.schemas import FIELD_LABELS, RuleFilter, supervision_out

router = APIRouter()

PAGE_SIZE: Final = 50
# Far past any township's supervisions, as the API's limit.
MAX_PAGE: Final = 1_000_000


def _blank_is_none(value: object) -> object:
    # A filter form sends every field, the empty ones as "": nothing chosen.
    return None if value == "" else value


Blank = BeforeValidator(_blank_is_none)


@router.get("/desk/supervisions")
async def supervisions_page(
    desk: DeskDep,
    rule: Annotated[
        RuleFilter | None,
        Blank,
        Query(description="自动规则，manual 为人工督办 / The rule, manual for by hand"),
    ] = None,
    unit: Annotated[
        str | None,
        Blank,
        Query(min_length=2, max_length=40, description="现承办单位 / The unit holding the lead"),
    ] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="页码 / The page")] = 1,
) -> Response:
    problems = []
    try:
        total, rows = await desk.oversight.supervisions(
            desk.principal, rule=rule, unit=unit, page=page, page_size=PAGE_SIZE
        )
    except RuleViolation as violation:
        problems, total, rows = describe_violation(violation, FIELD_LABELS), 0, []
    rules = {**SUPERVISION_RULES, BY_HAND: BY_HAND_LABEL}
    return desk.render(
        "supervisions.html",
        items=[supervision_out(r) for r in rows],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        rule=rule or "",
        unit=unit or "",
        rules=rules,
        units=units_named(desk.oversight.runtime.org, desk.principal),
        problems=problems,
    )


@router.get("/desk/access-log")
async def access_log_page(
    desk: DeskDep,
    lead_id: Annotated[
        str | None,
        Blank,
        Query(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="线索编号 / The lead"),
    ] = None,
    outsiders_only: Annotated[bool, Query(description="仅看无关人员 / Outsiders only")] = False,
) -> Response:
    views = await desk.oversight.access_log(desk.principal, lead_id, outsiders_only)
    return desk.render(
        "access_log.html",
        views=views,
        lead_id=lead_id or "",
        outsiders_only=outsiders_only,
        kinds=ACCESS_KINDS,
        roles=ROLES,
    )


@router.get("/desk/leak-risk")
async def leak_risk_page(
    desk: DeskDep,
    hours: Annotated[
        float | None,
        Blank,
        Query(gt=0, le=24 * 30, description="时间窗口（小时）/ The window in hours"),
    ] = None,
) -> Response:
    risks = await desk.oversight.leak_risk(desk.principal, hours)
    # The hand-overs made despite a conflict are part of the report (requested, decided,
    # used), whatever the window: each is a decision of the committee's.
    overrides = await conflict.overrides(desk.oversight, desk.principal)
    return desk.render(
        "leak_risk.html",
        risks=risks,
        overrides=overrides,
        grounds=GROUNDS,
        hours=hours,
        window=hours or desk.oversight.settings.leak_window_hours,
        moments=MOMENTS,
        roles=ROLES,
    )


@router.get("/desk/assessments")
async def assessments_page(desk: DeskDep) -> Response:
    rows = await desk.oversight.assessments(desk.principal)
    return desk.render("assessments.html", rows=rows)
