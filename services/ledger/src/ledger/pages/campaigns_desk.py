"""Campaigns on the desk (自查自纠, 回头看): the campaigns the person may see, a form to open one
(office and clerks), and each campaign with its checklist: a unit's people answer every item
for their unit; the office sees every unit's answers, turns open ones into rectification
items, samples and reviews a look-back's leads, and closes it. Forms are read with the API's
own input models and run by the same calls the API makes (ledger.campaigns_api.perform); a
refusal is shown at its form, success goes back to the campaign (303)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from common.errors import NotFound, NotPermitted, RuleViolation, Settled
from common.events.campaigns import CAMPAIGN_ID
from common.eventstore import ConcurrencyConflict
from common.http_errors import describe_errors, describe_violation
from common.web import Language
from common.web.people import LangQuery, check_form
from ledger.application import campaigns as app
from ledger.application.tasks import town_of
from ledger.campaign_schemas import AnswersIn, CampaignIn, CloseIn, FindingIn, SampleIn, TurnIn
from ledger.campaigns_api import detail, opening, perform
from ledger.domain.campaign import ANSWER_LABELS, KIND_LABELS, OPEN_ANSWERS
from ledger.domain.task import OFFICE_ROLES, STATUS_LABELS, WHOLE_TOWN
from ledger.pages.campaign import NO_SUCH_CAMPAIGN
from ledger.pages.lead import stale_page
from ledger.pages.shared import Staff, address, message, render, staff
from ledger.pages.tasks import LABELS

router = APIRouter(include_in_schema=False)

PAGE_SIZE: Final = 200
CampaignId = Annotated[str, Path(pattern=CAMPAIGN_ID, max_length=64)]
FormName = Annotated[str, Path(pattern=r"^[a-z-]{2,20}$")]
NOT_FOUND: Final = ("未找到", "Not found")
# Each act's form: its heading, and the API's input model it is read with.
FORMS: Final[dict[str, tuple[tuple[str, str], type[BaseModel]]]] = {
    "answers": (("填报自查情况", "Answer the checklist"), AnswersIn),
    "tasks": (("转为整改事项", "Turn into rectification items"), TurnIn),
    "sample": (("抽取已办结线索", "Sample concluded leads"), SampleIn),
    "findings": (("记录复查结论", "Record a finding"), FindingIn),
    "close": (("结束", "Close"), CloseIn),
}
# The fields that send several values (checkboxes).
LISTS: Final = frozenset({"units", "answer_pick", "lead_pick"})
NUMBERED: Final = re.compile(r"^(answer|remark|evidence_(?:name|size|sha256))-(\d{1,2})$")


def _sent(form: Any) -> dict[str, Any]:
    """The form's fields: one text each, and a list for those that send several."""
    sent: dict[str, Any] = {name: [] for name in LISTS}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            continue
        if name in LISTS:
            sent[name].append(value)
        else:
            sent[name] = value
    return sent


async def _received(request: Request, who: Staff) -> dict[str, Any] | None:
    """The form's fields, if it carries the session's CSRF token (else None: stale)."""
    sent = _sent(await request.form())
    try:
        check_form(who.session, sent.get("csrf_token", ""))
    except HTTPException:
        return None
    return sent


def _answers(sent: Mapping[str, Any], unit: str | None) -> dict[str, Any]:
    """A unit's answers, item by item: ``answer-N``, ``remark-N`` and one piece of evidence
    (``evidence_name-N`` with its size and hash) for checklist item N."""
    items: dict[int, dict[str, Any]] = {}
    for name, value in sent.items():
        found = NUMBERED.match(name)
        if found is None or not isinstance(value, str) or value == "":
            continue
        field, number = found.group(1), int(found.group(2))
        one = items.setdefault(number, {"item": number})
        if field.startswith("evidence_"):
            piece = one.setdefault("evidence", [{}])[0]
            piece[field.removeprefix("evidence_")] = value
        else:
            one[field] = value
    return {"unit": unit or "", "answers": [items[n] for n in sorted(items)]}


def _rectify(sent: Mapping[str, Any]) -> dict[str, Any]:
    """Each chosen answer (``unit/item``) or sampled lead, with the one responsible person,
    deadline and measures the form gives for them all."""
    shared = {
        "measures": [line for line in sent.get("measures", "").splitlines() if line.strip()],
        "assignee": sent.get("assignee", ""),
        "assignee_name": sent.get("assignee_name", ""),
        "deadline": sent.get("deadline", ""),
    }
    picks: list[dict[str, Any]] = []
    for value in sent["answer_pick"]:
        unit, _, item = value.partition("/")
        picks.append({"unit": unit, "item": item, **shared})
    for lead_id in sent["lead_pick"]:
        picks.append({"unit": sent.get("lead_unit", ""), "lead_id": lead_id, **shared})
    return {"rectify": picks}


def _body(sent: Mapping[str, Any], name: str, who: Staff) -> dict[str, Any]:
    """A form's fields as the API's body for the act."""
    if name == "answers":
        return _answers(sent, who.principal.unit)
    if name == "tasks":
        return _rectify(sent)
    body = {k: v for k, v in sent.items() if k != "csrf_token" and k not in LISTS and v != ""}
    if name == "open":
        body["checklist"] = [
            line for line in sent.get("checklist", "").splitlines() if line.strip()
        ]
        body["units"] = list(sent["units"])
    return body


def _refusal(error: Exception) -> tuple[int, list[dict[str, str]]]:
    """A refused act as its status and what to say at the form."""
    if isinstance(error, ValidationError):
        return 422, describe_errors(error.errors(), LABELS)
    if isinstance(error, RuleViolation):
        return (409 if isinstance(error, Settled) else 422), describe_violation(error, LABELS)
    if isinstance(error, ConcurrencyConflict):
        return 409, [
            {
                "field": "",
                "message": "该项工作刚被他人修改，以下是它现在的情况，请核对后重试。",
                "message_en": "Someone else changed this campaign just now: check it and try again.",
            }
        ]
    return 403, [
        {
            "field": "",
            "message": f"您的角色或单位不能进行此项操作（{error}）。",
            "message_en": f"Not yours to do: {error}.",
        }
    ]


REFUSED: Final = (ValidationError, RuleViolation, NotPermitted, ConcurrencyConflict)


def _units(who: Staff, lang: Language) -> list[tuple[str, str]]:
    """The units the person may ask: their town's (the county's office, every unit)."""
    mine = app.viewer(who.ledger, who.principal)
    return [
        (u.code, u.label(lang))
        for u in who.runtime.org.units
        if mine.county or town_of(who.ledger, u.code) == mine.town
    ]


def _kinds(lang: Language) -> list[tuple[str, str]]:
    pick = 0 if lang == "zh" else 1
    return [(code, names[pick]) for code, names in KIND_LABELS.items()]


# --- the list -----------------------------------------------------------------------------


async def _list_page(
    request: Request,
    who: Staff,
    lang: Language,
    status_code: int = 200,
    *,
    problems: Sequence[dict[str, str]] = (),
    sent: Mapping[str, Any] | None = None,
) -> Response:
    rows = await app.listed(who.ledger, who.principal, limit=PAGE_SIZE, offset=0)
    return render(
        request,
        who,
        "campaigns.html",
        lang,
        status_code,
        campaigns=rows,
        kinds=dict(_kinds(lang)),
        may_open=who.principal.role in OFFICE_ROLES,
        # those who see campaigns whole read how many units answered; a unit's people, theirs
        counts=who.principal.role in WHOLE_TOWN,
        choices=_kinds(lang),
        units=_units(who, lang),
        problems=list(problems),
        sent=sent or {"units": []},
    )


@router.get("/desk/campaigns")
async def campaigns_page(request: Request, lang: LangQuery = "zh") -> Response:
    return await _list_page(request, staff(request), lang)


@router.post("/desk/campaigns")
async def open_form(request: Request, lang: LangQuery = "zh") -> Response:
    who = staff(request)
    sent = await _received(request, who)
    if sent is None:
        return stale_page(request, who, lang)
    try:
        body = CampaignIn.model_validate(_body(sent, "open", who))
        event = await opening(who.ledger, who.principal, body)
    except REFUSED as refused:
        code, problems = _refusal(refused)
        return await _list_page(request, who, lang, code, problems=problems, sent=sent)
    return RedirectResponse(
        address(request, lang)(f"/desk/campaigns/{event.subject_id}?done=open"), status_code=303
    )


# --- one campaign -------------------------------------------------------------------------


def offered(found: app.CampaignRead, who: Staff) -> list[str]:
    """The acts the person may take on the campaign now (the rules decide again when sent)."""
    campaign = found.campaign
    if campaign.closed is not None:
        return []
    acts = ["answers"] if who.principal.unit in campaign.opened.units else []
    if found.whole and who.principal.role in OFFICE_ROLES:
        acts.append("tasks")
        if campaign.kind == "look_back":
            acts.append("findings" if campaign.sample else "sample")
        acts.append("close")
    return acts


async def _campaign_page(
    request: Request,
    who: Staff,
    campaign_id: str,
    lang: Language,
    status_code: int = 200,
    *,
    done: str = "",
    failed: str = "",
    problems: Sequence[dict[str, str]] = (),
    sent: Mapping[str, Any] | None = None,
) -> Response:
    try:
        found = await app.read(who.ledger, who.principal, campaign_id)
    except NotFound:
        return message(request, who, lang, 404, NOT_FOUND, NO_SUCH_CAMPAIGN)
    shown = await detail(who.ledger, who.principal, found)
    pick = 0 if lang == "zh" else 1
    acts = offered(found, who)
    headings = {name: heading[pick] for name, (heading, _) in FORMS.items()}
    mine = next((u for u in shown.units if u.unit == who.principal.unit), None)
    return render(
        request,
        who,
        "campaign.html",
        lang,
        status_code,
        campaign=shown,
        whole=found.whole,
        mine=mine,
        given={a.item: a for a in mine.answers} if mine else {},
        forms={name: headings[name] for name in acts},
        answer_choices=[(code, names[pick]) for code, names in ANSWER_LABELS.items()],
        open_answers=OPEN_ANSWERS,
        task_states={code.value: names[pick] for code, names in STATUS_LABELS.items()},
        done=headings.get(done, "开展工作" if lang == "zh" else "Opened") if done else "",
        failed=failed if failed in acts else "",
        problems=list(problems),
        sent=sent or {},
        units=_units(who, lang),
    )


@router.get("/desk/campaigns/{campaign_id}")
async def campaign_page(
    request: Request,
    campaign_id: CampaignId,
    lang: LangQuery = "zh",
    done: Annotated[str, Query(max_length=20, description="the form just recorded")] = "",
) -> Response:
    return await _campaign_page(request, staff(request), campaign_id, lang, done=done)


@router.post("/desk/campaigns/{campaign_id}/{name}")
async def send_form(
    request: Request, campaign_id: CampaignId, name: FormName, lang: LangQuery = "zh"
) -> Response:
    who = staff(request)
    sent = await _received(request, who)
    if sent is None:
        return stale_page(request, who, lang)
    if name not in FORMS:
        return message(request, who, lang, 404, NOT_FOUND, NO_SUCH_CAMPAIGN)
    try:
        body = FORMS[name][1].model_validate(_body(sent, name, who))
        await perform(who.ledger, who.principal, campaign_id, body)
    except NotFound:
        return message(request, who, lang, 404, NOT_FOUND, NO_SUCH_CAMPAIGN)
    except REFUSED as refused:
        code, problems = _refusal(refused)
        return await _campaign_page(
            request, who, campaign_id, lang, code, failed=name, problems=problems, sent=sent
        )
    return RedirectResponse(
        address(request, lang)(f"/desk/campaigns/{campaign_id}?done={name}"), status_code=303
    )
