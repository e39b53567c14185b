"""The public's pages: report (by name or anonymously), and follow a report with its receipt.

Each form carries a solved proof of work (common.work) in its ``work`` field, solved in the
browser by ``static/work.js``, and checked here as the API checks its X-Work header. The
receipt is never put in a URL or a cookie: it is shown once in the answer to the report,
and every later step is a POST carrying it in the form.

The report's form and the receipt holder's file form send files: their bodies are read as
they arrive (pages.uploads), the text fields first, the files each handed to the evidence
store a chunk at a time, never spooled to disk (pages.sent_files)."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request, Response, status
from starlette.datastructures import FormData

from common.errors import RuleViolation
from common.eventstore import AppendOutcomeUnknown, LogUnavailable
from common.evidence_files import ACCEPTED_WORDS
from common.service import ServiceRuntime
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
from intake.pages.sent_files import Sent, kind_words, send_files, size_words
from intake.pages.uploads import (
    FORM_ENVELOPE,
    FormRefused,
    StreamedForm,
    is_multipart,
    plain_form,
    streamed_form,
)
from intake.schemas import PublicReport, ReporterMessage

router = APIRouter(include_in_schema=False)

#: the pages whose forms carry files
REPORT: Final = "/report"
ADD_FILES: Final = "/my-report/files"
#: the checkbox asking for a photo's location and author data to be taken out
STRIP: Final = "strip_metadata"


def allow_files(runtime: ServiceRuntime) -> None:
    """The pages that take files take a body of one file at its limit and the form around
    it; a declared length over that is refused before a byte is read. Several smaller files
    go in one sending; larger sets in several."""
    intake: Intake = runtime.app.state.intake
    for path in (REPORT, ADD_FILES):
        runtime.allow_body(path, intake.settings.evidence_max_bytes + FORM_ENVELOPE)


async def _read_form(request: Request) -> tuple[FormData, StreamedForm | None]:
    """The text fields, read and bounded; and, for a form with files, the rest of the body
    still unread, to be read file by file."""
    content_type = request.headers.get("content-type", "")
    if not is_multipart(content_type):
        return await plain_form(request.stream()), None
    streamed = streamed_form(content_type, request.stream())
    return await streamed.fields(), streamed


def _file_limits(request: Request, lang: Language) -> dict[str, Any]:
    """What the file inputs say of their limits."""
    settings = intake_of(request).settings
    zh, en = ACCEPTED_WORDS
    return {
        "max_files": settings.evidence_max_files,
        "max_bytes": settings.evidence_max_bytes,
        "max_mib": settings.evidence_max_bytes // (1024 * 1024),
        "photo_max_mib": settings.evidence_photo_max_bytes // (1024 * 1024),
        "accepted_words": zh if lang == "zh" else en,
    }


def _sent_words(lang: Language) -> dict[str, Any]:
    return {"kind_words": lambda media_type: kind_words(media_type, lang), "size": size_words}


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
        strip_checked=values.get(STRIP, True),
        **_file_limits(request, lang),
    )


@router.get("/report")
async def report_form(request: Request, lang: LangQuery = "zh") -> Response:
    blank = {"category": "", "village": "", "summary": "", "details": "", "name": "", "phone": ""}
    return _report_page(request, lang, blank | {"flags": []}, new_key(), Problems(lang))


@router.post(REPORT)
async def report(request: Request, lang: LangQuery = "zh") -> Response:
    intake = intake_of(request)
    problems = Problems(lang)
    try:
        form, streamed = await _read_form(request)
    except FormRefused as exc:
        problems.add(exc.words(lang), exc.field)
        refused_values = lead_values(exc.so_far) | {STRIP: bool(exc.so_far.get(STRIP))}
        return _report_page(
            request, lang, refused_values, key_of(exc.so_far), problems, exc.status_code
        )
    values, key = lead_values(form) | {STRIP: bool(form.get(STRIP))}, key_of(form)

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
    sent: list[Sent] = []
    if streamed is not None and accepted.receipt is not None:
        sent = await send_files(
            request.app.state.evidence,
            accepted.receipt,
            streamed.files(),
            strip_metadata=bool(values[STRIP]),
            lead_id=accepted.lead_id,
        )
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
        sent=sent,
        **_sent_words(lang),
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
    sent: list[Sent] | None = None,
    strip_checked: bool = True,
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
        sent=sent or [],
        strip_checked=strip_checked,
        **_file_limits(request, lang),
        **_sent_words(lang),
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


@router.post(ADD_FILES)
async def add_files(request: Request, lang: LangQuery = "zh") -> Response:
    """Files added later with the receipt, which comes in the form (never the URL): the
    work is checked, then the receipt, before a byte of a file is read."""
    intake = intake_of(request)
    problems = Problems(lang)
    try:
        form, streamed = await _read_form(request)
    except FormRefused as exc:
        problems.add(exc.words(lang), "files" if exc.field == "form" else exc.field)
        receipt = text_of(exc.so_far, "receipt").strip()
        return _no_store(
            _followed_page(request, lang, receipt, None, problems, status_code=exc.status_code)
        )
    receipt, strip = text_of(form, "receipt").strip(), bool(form.get(STRIP))
    if not await _work_done(intake, form, Purpose.RECEIPT, problems):
        return _no_store(
            _followed_page(
                request,
                lang,
                receipt,
                None,
                problems,
                strip_checked=strip,
                status_code=status.HTTP_428_PRECONDITION_REQUIRED,
            )
        )
    try:
        followed = await intake.follow(receipt)
        sent: list[Sent] = []
        if streamed is not None:
            sent = await send_files(
                request.app.state.evidence, receipt, streamed.files(), strip_metadata=strip
            )
        if not sent:
            problems.add(
                "请先选择要添加的文件。" if lang == "zh" else "Choose the files to add first.",
                "files",
            )
        else:
            followed = await intake.follow(receipt)
    except ReceiptUnknown:
        _unknown_receipt(problems)
        return _no_store(_lookup_page(request, lang, receipt, problems, status.HTTP_404_NOT_FOUND))
    except (LogUnavailable, AppendOutcomeUnknown) as exc:
        code = _unsaved(problems, exc, keyed=False)
        return _no_store(_followed_page(request, lang, receipt, None, problems, status_code=code))
    stored = any(s.stored is not None for s in sent)
    return _no_store(
        _followed_page(
            request,
            lang,
            receipt,
            followed,
            problems,
            sent=sent,
            strip_checked=strip,
            status_code=200 if stored else status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    )


def _no_store(answer: Response) -> Response:
    """An answer that shows the receipt is kept by no cache."""
    answer.headers["Cache-Control"] = "no-store"
    return answer
