"""The public's pages: report (by name or anonymously), and follow a report with its receipt.

Each form carries a solved proof of work (common.work) in its ``work`` field, solved in the
browser by ``static/work.js``, and checked here as the API checks its X-Work header. The
receipt is never put in a URL or a cookie: it is shown once in the answer to the report,
and every later step is a POST carrying it in the form."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request, Response, status
from starlette.datastructures import FormData

from common.errors import RuleViolation
from common.eventstore import AppendOutcomeUnknown, LogUnavailable
from common.vocabulary import AdditionKind, Flag, label
from common.web import Language
from common.web.people import LangQuery
from common.work import Purpose, WorkRefused
from intake.api import PROGRESS_LABELS
from intake.application import FollowedReport, Intake, ReceiptUnknown
from intake.commands import AddToReport, ReportPublicly
from intake.idempotency import StillInProgress
from intake.pages.forms import (
    Problems,
    choices,
    key_of,
    lead_body,
    lead_values,
    new_key,
    parsed,
    text_of,
)
from intake.pages.rendering import intake_of, render
from intake.schemas import PublicReport, ReporterMessage

router = APIRouter(include_in_schema=False)

#: the flags worth asking a villager, in plain words
PUBLIC_QUESTIONS: Final[dict[Flag, tuple[str, str]]] = {
    Flag.INVOLVES_OFFICIAL: (
        "这件事牵涉到村干部、党员或其他公职人员吗？",
        "Is a village cadre, a party member or another official involved?",
    ),
    Flag.PROTECTIVE_UMBRELLA: (
        "有没有干部或公职人员在背后给他们撑腰、包庇他们（“保护伞”）？",
        "Does an official shield or cover for them (a “protective umbrella”)?",
    ),
}


async def _work_done(intake: Intake, form: FormData, purpose: Purpose, problems: Problems) -> bool:
    """Spend the form's proof of work, as the API spends X-Work; say why not if refused."""
    proof = text_of(form, "work") or None
    try:
        await intake.work.spend(proof, purpose)
    except WorkRefused as exc:
        if problems.lang == "zh":
            why = (
                "提交前，浏览器需要先完成一步防滥用的计算。"
                if proof is None
                else f"防滥用计算未通过（{exc.reason_zh}）。"
            )
            problems.add(why + "页面已重新准备，请再提交一次。", "work")
        else:
            why = (
                "Your browser must first finish an anti-abuse computation."
                if proof is None
                else f"The anti-abuse check failed ({exc.reason})."
            )
            problems.add(why + " The page has prepared a new one: send the form again.", "work")
        return False
    return True


def _unsaved(problems: Problems, exc: Exception, *, keyed: bool = True) -> int:
    """The log could not take it now. A keyed report is never filed twice by sending it
    again; an addition (which has no key) may have been kept, as the page says."""
    if not keyed:
        problems.add(
            "暂时无法确认是否已保存。请稍后用查询码查看，如果没有看到您刚写的内容，再提交一次。"
            if problems.lang == "zh"
            else "It could not be confirmed as saved. Look again with your code shortly, and"
            " send it again if what you wrote is not there.",
        )
        return status.HTTP_503_SERVICE_UNAVAILABLE
    if isinstance(exc, StillInProgress):
        problems.add(
            "刚才的提交还在处理中，请稍候再提交一次（不会重复登记）。"
            if problems.lang == "zh"
            else "Your first sending is still being handled: send again shortly (it will not"
            " be filed twice).",
        )
        return status.HTTP_409_CONFLICT
    problems.add(
        "暂时无法保存，请稍后再提交一次（不会重复登记）。"
        if problems.lang == "zh"
        else "It cannot be saved just now: send it again shortly (it will not be filed twice).",
    )
    return status.HTTP_503_SERVICE_UNAVAILABLE


# --- reporting ---------------------------------------------------------------------------


def _report_page(
    request: Request,
    lang: Language,
    values: dict[str, Any],
    key: str,
    problems: Problems,
    status_code: int = 200,
) -> Response:
    intake = intake_of(request)
    days = intake.settings.identity_retention_days
    return render(
        request,
        "report.html",
        lang,
        status_code,
        public_only=True,
        values=values,
        key=key,
        problems=problems,
        choices=choices(intake.org, lang),
        questions=[
            (f.value, zh if lang == "zh" else en) for f, (zh, en) in PUBLIC_QUESTIONS.items()
        ],
        hotline=intake.settings.hotline,
        retention_years=round(days / 365.25),
    )


@router.get("/report")
async def report_form(request: Request, lang: LangQuery = "zh") -> Response:
    blank = {"category": "", "village": "", "summary": "", "details": "", "name": "", "phone": ""}
    return _report_page(request, lang, blank | {"flags": []}, new_key(), Problems(lang))


@router.post("/report")
async def report(request: Request, lang: LangQuery = "zh") -> Response:
    intake = intake_of(request)
    form = await request.form()
    values, key, problems = lead_values(form), key_of(form), Problems(lang)

    def refused(status_code: int) -> Response:
        return _report_page(request, lang, values, key, problems, status_code)

    if not await _work_done(intake, form, Purpose.REPORT, problems):
        return refused(status.HTTP_428_PRECONDITION_REQUIRED)
    body = parsed(PublicReport, lead_body(values), problems)
    if body is None:
        return refused(status.HTTP_422_UNPROCESSABLE_CONTENT)
    try:
        accepted = await intake.report_public(ReportPublicly(body.content(), key))
    except RuleViolation as exc:
        problems.add_violation(exc)
        return refused(status.HTTP_422_UNPROCESSABLE_CONTENT)
    except (StillInProgress, LogUnavailable, AppendOutcomeUnknown) as exc:
        return refused(_unsaved(problems, exc))
    # Shown in this answer only (no redirect: a receipt never goes in a URL or a cookie).
    answer = render(
        request,
        "report_received.html",
        lang,
        public_only=True,
        receipt=accepted.receipt,
        named=body.identity is not None,
        signed_receipt=accepted.signed_receipt,
        receipt_file=f"signed-receipt-{accepted.lead_id[:8]}.json",
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


# --- following a report with its receipt --------------------------------------------------


def _lookup_page(
    request: Request, lang: Language, receipt: str, problems: Problems, status_code: int = 200
) -> Response:
    return render(
        request,
        "my_report_lookup.html",
        lang,
        status_code,
        public_only=True,
        receipt=receipt,
        problems=problems,
        hotline=intake_of(request).settings.hotline,
    )


def _followed_page(
    request: Request,
    lang: Language,
    receipt: str,
    followed: FollowedReport | None,
    problems: Problems,
    *,
    added: bool = False,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    progress = None
    if followed is not None:
        zh, en = PROGRESS_LABELS[followed.view.progress]
        progress = zh if lang == "zh" else en
    return render(
        request,
        "my_report.html",
        lang,
        status_code,
        public_only=True,
        receipt=receipt,
        followed=followed,
        progress=progress,
        kinds={kind.value: label(kind, lang) for kind in AdditionKind},
        problems=problems,
        added=added,
        values=values or {"kind": AdditionKind.SUPPLEMENT.value, "text": ""},
        hotline=intake_of(request).settings.hotline,
    )


@router.get("/my-report")
async def my_report_form(request: Request, lang: LangQuery = "zh") -> Response:
    return _lookup_page(request, lang, "", Problems(lang))


def _unknown_receipt(problems: Problems) -> None:
    problems.add(
        "没有找到这个查询码对应的举报，请核对是否抄写正确。"
        if problems.lang == "zh"
        else "No report has this code: check that it was copied correctly.",
        "receipt",
    )


@router.post("/my-report")
async def my_report(request: Request, lang: LangQuery = "zh") -> Response:
    intake = intake_of(request)
    form = await request.form()
    receipt, problems = text_of(form, "receipt").strip(), Problems(lang)
    if not await _work_done(intake, form, Purpose.RECEIPT, problems):
        return _lookup_page(request, lang, receipt, problems, status.HTTP_428_PRECONDITION_REQUIRED)
    try:
        followed = await intake.follow(receipt)
    except ReceiptUnknown:
        _unknown_receipt(problems)
        return _lookup_page(request, lang, receipt, problems, status.HTTP_404_NOT_FOUND)
    return _followed_page(request, lang, receipt, followed, problems)


@router.post("/my-report/add")
async def add_to_report(request: Request, lang: LangQuery = "zh") -> Response:
    intake = intake_of(request)
    form = await request.form()
    receipt, problems = text_of(form, "receipt").strip(), Problems(lang)
    values = {"kind": text_of(form, "kind"), "text": text_of(form, "text")}
    if not await _work_done(intake, form, Purpose.RECEIPT, problems):
        # Nothing of the report is shown without the work: only the form, kept filled.
        return _followed_page(
            request,
            lang,
            receipt,
            None,
            problems,
            values=values,
            status_code=status.HTTP_428_PRECONDITION_REQUIRED,
        )
    message = parsed(ReporterMessage, values, problems)
    added = False
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    try:
        if message is not None:
            await intake.add(AddToReport(receipt, message.text, message.kind))
            added, values, code = True, {"kind": message.kind, "text": ""}, status.HTTP_200_OK
        followed = await intake.follow(receipt)
    except ReceiptUnknown:
        _unknown_receipt(problems)
        return _lookup_page(request, lang, receipt, problems, status.HTTP_404_NOT_FOUND)
    except (LogUnavailable, AppendOutcomeUnknown) as exc:
        code = _unsaved(problems, exc, keyed=False)
        followed = None
    return _followed_page(
        request, lang, receipt, followed, problems, added=added, values=values, status_code=code
    )
