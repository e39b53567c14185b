"""The campaigns' HTTP API (自查自纠, 回头看): open, list, one campaign with every unit's
answers, a unit's answers, turning answers into rectification items, a look-back's sample
and findings, closing, and the report as XLSX. Included in the ledger's router
(``/v1/ledger/campaigns``); the printable page is the desk's (ledger.pages.campaign)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.types import DecoratedCallable
from pydantic import BaseModel

from common.auth import Principal
from common.events import Event, utc_now
from common.events.campaigns import CAMPAIGN_ID, ItemAnswer
from common.http_errors import errors
from common.organisation import Organisation
from common.vocabulary import Language
from ledger.application import Ledger
from ledger.application import campaigns as app
from ledger.application.campaigns import CampaignRead, Rectify
from ledger.campaign_report import rows, to_xlsx
from ledger.campaign_schemas import (
    AnswersIn,
    CampaignDetail,
    CampaignIn,
    CampaignOut,
    CloseIn,
    EvidenceOut,
    FindingIn,
    ItemAnswerOut,
    ReviewOut,
    SampleIn,
    SampleOut,
    TurnIn,
    UnitOut,
)
from ledger.domain.campaign import ANSWER_LABELS, KIND_LABELS, Campaign, Pick
from ledger.notices_api import LedgerDep, Reader

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

CampaignId = Annotated[
    str, Path(pattern=CAMPAIGN_ID, max_length=64, description="工作编号 / The campaign's id")
]
LARGEST_PAGE: Final = 200
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _summary(campaign: Campaign) -> dict[str, Any]:
    opened = campaign.opened
    zh, en = KIND_LABELS[opened.kind]
    return {
        "campaign_id": opened.campaign_id,
        "campaign_kind": opened.kind,
        "kind_label": zh,
        "kind_label_en": en,
        "title": opened.title,
        "period_from": opened.period_from,
        "period_to": opened.period_to,
        "checklist": list(opened.items),
        "deadline": opened.deadline,
        "closed": campaign.closed is not None,
        "unit_count": len(opened.units),
        "answered_count": len(campaign.answers),
        "turned_count": len(campaign.turned),
    }


def _unit_out(
    campaign: Campaign, unit: str, org: Organisation, states: dict[str, dict[str, Any]]
) -> UnitOut:
    known = org.unit(unit)
    given = campaign.answers.get(unit)
    answers = []
    for one in given.answers if given else ():
        turned = campaign.turned_for(unit, one.item, None)
        state = states.get(turned.task_id) if turned else None
        zh, en = ANSWER_LABELS[one.answer]
        answers.append(
            ItemAnswerOut(
                item=one.item,
                answer=one.answer,
                answer_label=zh,
                answer_label_en=en,
                remark=one.note,
                evidence=[EvidenceOut(**e.model_dump()) for e in one.evidence],
                task_id=turned.task_id if turned else None,
                task_status=state["status"] if state else None,
            )
        )
    return UnitOut(
        unit=unit,
        unit_name=known.name if known else unit,
        answered=given is not None,
        answered_at=given.occurred_at if given else None,
        answered_late=campaign.answered_late(unit),
        answered_by=given.actor.user if given else None,
        answers=answers,
    )


def _review(campaign: Campaign, lead_id: str, outcomes: app.Outcomes) -> ReviewOut:
    found = campaign.findings.get(lead_id)
    turned = campaign.turned_for("", None, lead_id)
    state = outcomes.states.get(turned.task_id) if turned else None
    return ReviewOut(
        lead_id=lead_id,
        ledger_number=outcomes.numbers.get(lead_id),
        finding=found.finding if found else None,
        decision_stands=found.decision_stands if found else None,
        task_id=turned.task_id if turned else None,
        task_status=state["status"] if state else None,
    )


async def detail(
    ledger: LedgerDep, principal: Principal, read: CampaignRead, *, viewed: bool = True
) -> CampaignDetail:
    """The campaign for this reader: every unit's answers for the office and the
    committee, one's own unit's for a unit's people. Recorded as read (the API's and the
    desk's alike) unless it is only the answer to a command of the reader's."""
    campaign = read.campaign
    outcomes = await app.outcomes(ledger, campaign)
    if viewed:
        await app.viewed(ledger, principal, campaign, "campaign")
    every = read.whole
    units = [u for u in campaign.opened.units if every or u == principal.unit]
    sampled = campaign.sample
    return CampaignDetail(
        **_summary(campaign),
        units=[_unit_out(campaign, u, ledger.runtime.org, outcomes.states) for u in units],
        sample=SampleOut(
            seed=sampled.seed,
            size=sampled.size,
            population=sampled.population,
            lead_ids=list(sampled.lead_ids),
        )
        if sampled and every
        else None,
        reviews=[_review(campaign, lead, outcomes) for lead in sampled.lead_ids]
        if sampled and every
        else [],
    )


async def _answer(ledger: LedgerDep, principal: Principal, event: Event) -> CampaignDetail:
    read = await app.read(ledger, principal, event.subject_id or "")
    return await detail(ledger, principal, read, viewed=False)


async def opening(ledger: Ledger, principal: Principal, body: CampaignIn) -> Event:
    """A campaign opened as the body asks (the API's and the desk's form alike)."""
    return await app.open_campaign(
        ledger,
        principal,
        kind=body.campaign_kind,
        title=body.title,
        period=(body.period_from, body.period_to),
        items=body.checklist,
        units=body.units,
        deadline=body.deadline,
    )


async def perform(ledger: Ledger, principal: Principal, campaign_id: str, body: BaseModel) -> Event:
    """One act on a campaign, by the body that asks for it."""
    match body:
        case AnswersIn():
            given = [
                ItemAnswer(
                    item=a.item,
                    answer=a.answer,
                    note=a.remark,
                    evidence=tuple(e.recorded() for e in a.evidence),
                )
                for a in body.answers
            ]
            return await app.answer(ledger, principal, campaign_id, body.unit, given)
        case TurnIn():
            chosen = [
                Rectify(
                    pick=Pick(unit=r.unit, item=r.item, lead_id=r.lead_id),
                    measures=tuple(r.measures),
                    assignee=r.assignee,
                    assignee_name=r.assignee_name,
                    deadline=r.deadline,
                )
                for r in body.rectify
            ]
            return await app.turn_into_tasks(ledger, principal, campaign_id, chosen)
        case SampleIn():
            return await app.sample(ledger, principal, campaign_id, body.size, body.seed)
        case FindingIn():
            return await app.record_finding(
                ledger, principal, campaign_id, body.lead_id, body.finding, body.decision_stands
            )
        case CloseIn():
            return await app.close(ledger, principal, campaign_id, body.closing_remark)
    raise TypeError(f"no act is asked for by {type(body).__name__}")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignDetail,
    summary="开展自查自纠或回头看 / Open a self-inspection or look-back campaign (office, clerks)",
    responses=errors(403),
)
async def open_campaign(
    body: CampaignIn, principal: Reader, ledger: LedgerDep, response: Response
) -> CampaignDetail:
    event = await opening(ledger, principal, body)
    response.headers["Location"] = f"/v1/ledger/campaigns/{event.subject_id}"
    return await _answer(ledger, principal, event)


@router.get(
    "",
    response_model=list[CampaignOut],
    summary="自查自纠、回头看列表 / The campaigns: all for the office, those asking one's unit",
)
async def list_campaigns(
    principal: Reader,
    ledger: LedgerDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=LARGEST_PAGE)] = 50,
) -> list[CampaignOut]:
    found = await app.listed(ledger, principal, limit=page_size, offset=(page - 1) * page_size)
    return [
        CampaignOut(
            **{k: v for k, v in row.items() if k in CampaignOut.model_fields},
            campaign_kind=row["kind"],
            kind_label=KIND_LABELS[row["kind"]][0],
            kind_label_en=KIND_LABELS[row["kind"]][1],
            checklist=row["items"],
        )
        for row in found
    ]


@router.get(
    "/{campaign_id}",
    response_model=CampaignDetail,
    summary="一项工作及各单位填报情况 / One campaign with the units' answers and progress",
    responses=errors(404),
)
async def get_campaign(
    campaign_id: CampaignId, principal: Reader, ledger: LedgerDep
) -> CampaignDetail:
    return await detail(ledger, principal, await app.read(ledger, principal, campaign_id))


def _command(path: str, summary: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    return router.post(
        f"/{{campaign_id}}/{path}",
        response_model=CampaignDetail,
        summary=summary,
        responses=errors(403, 404, 409),
    )


@_command("answers", "填报自查情况 / A unit answers every item (its own people, for it)")
async def answer(
    campaign_id: CampaignId, body: AnswersIn, principal: Reader, ledger: LedgerDep
) -> CampaignDetail:
    return await _answer(ledger, principal, await perform(ledger, principal, campaign_id, body))


@_command("tasks", "转为整改事项 / Turn open answers into rectification items (office)")
async def turn_into_tasks(
    campaign_id: CampaignId, body: TurnIn, principal: Reader, ledger: LedgerDep
) -> CampaignDetail:
    return await _answer(ledger, principal, await perform(ledger, principal, campaign_id, body))


@_command("sample", "回头看抽取已办结线索 / Sample concluded leads for re-review (seed recorded)")
async def sample(
    campaign_id: CampaignId, body: SampleIn, principal: Reader, ledger: LedgerDep
) -> CampaignDetail:
    return await _answer(ledger, principal, await perform(ledger, principal, campaign_id, body))


@_command("findings", "记录复查结论 / Record what the re-review of a sampled lead found")
async def record_finding(
    campaign_id: CampaignId, body: FindingIn, principal: Reader, ledger: LedgerDep
) -> CampaignDetail:
    return await _answer(ledger, principal, await perform(ledger, principal, campaign_id, body))


@_command("close", "结束 / Close the campaign: final from now on (office)")
async def close(
    campaign_id: CampaignId, body: CloseIn, principal: Reader, ledger: LedgerDep
) -> CampaignDetail:
    return await _answer(ledger, principal, await perform(ledger, principal, campaign_id, body))


async def report_of(
    ledger: LedgerDep,
    principal: Principal,
    campaign_id: str,
    lang: Language,
    *,
    viewed: Literal["report", "print"] | None = "print",
) -> tuple[Campaign, Any]:
    """The report's rows, for those who see every unit (the office, clerks, auditors and
    the committee); a unit's people are refused (403) once the campaign is known theirs.
    Recorded as read as ``viewed`` says (the print page's, unless told; None for the
    download, which is recorded as an export)."""
    read = await app.read(ledger, principal, campaign_id)
    app.whole(read)
    found = await app.outcomes(ledger, read.campaign)
    if viewed is not None:
        await app.viewed(ledger, principal, read.campaign, viewed)
    return read.campaign, rows(read.campaign, found, ledger.runtime.org, lang)


@router.get(
    "/{campaign_id}/report.xlsx",
    response_class=Response,
    summary="情况表（XLSX） / The campaign report as XLSX (the download is recorded)",
    responses={
        200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}},
        **errors(403, 404),
    },
)
async def report_xlsx(
    campaign_id: CampaignId,
    principal: Reader,
    ledger: LedgerDep,
    lang: Literal["zh", "en"] = "zh",
) -> Response:
    campaign, report = await report_of(ledger, principal, campaign_id, lang, viewed=None)
    title = f"{campaign.opened.title}情况表" if lang == "zh" else f"{campaign.opened.title}: report"
    body = to_xlsx(report, lang, title, campaign.kind == "look_back")
    await app.exported(ledger, principal, campaign, len(report.answers) + len(report.reviews))
    stamp = utc_now().strftime("%Y%m%d")
    return Response(
        body,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-{stamp}.xlsx"'
        },
    )
