"""A campaign's report on the desk, to print (自查自纠 / 回头看 情况表): each unit's answer to each
checklist item and what came of it, and a look-back's sampled leads with their findings. The
same rows as the XLSX, for the same readers (the office, clerks, auditors and the
committee); for anyone else the campaign does not exist, or the report is not theirs."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from common.errors import NotFound, NotPermitted
from common.events.campaigns import CAMPAIGN_ID
from common.web.people import LangQuery
from ledger.campaign_report import ANSWER_HEADERS, REVIEW_HEADERS, headers
from ledger.campaigns_api import report_of
from ledger.domain.campaign import KIND_LABELS
from ledger.pages.shared import message, render, staff

router = APIRouter(include_in_schema=False)

CampaignId = Annotated[str, Path(pattern=CAMPAIGN_ID, max_length=64)]
NO_SUCH_CAMPAIGN: Final = (
    "没有这项工作，或您无权查看。",
    "There is no such campaign, or it is not one you may see.",
)


@router.get("/desk/campaigns/{campaign_id}/report")
async def report_page(
    request: Request, campaign_id: CampaignId, lang: LangQuery = "zh"
) -> HTMLResponse:
    who = staff(request)
    try:
        campaign, report = await report_of(who.ledger, who.principal, campaign_id, lang)
    except NotFound:
        return message(request, who, lang, 404, ("未找到", "Not found"), NO_SUCH_CAMPAIGN)
    except NotPermitted:
        return message(
            request,
            who,
            lang,
            403,
            ("不能查看情况表", "The report is not for your role"),
            (
                "情况表供扫黑办、审计和纪委查阅。",
                "The report is for the office, auditors and the committee.",
            ),
        )
    kind = KIND_LABELS[campaign.kind]
    return render(
        request,
        who,
        "campaign_report.html",
        lang,
        campaign=campaign.opened,
        kind_label=kind[0] if lang == "zh" else kind[1],
        closed=campaign.closed is not None,
        answer_headers=headers(lang, ANSWER_HEADERS),
        review_headers=headers(lang, REVIEW_HEADERS),
        report=report,
        look_back=campaign.kind == "look_back",
    )
