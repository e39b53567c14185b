"""Staff files on the desk (工作痕迹): the upload form of a lead's or an item's page, sent as a browser
sends a file (multipart), with the session's CSRF token, and run by the same application as
the API's upload. The body is bounded before it is read (files_api.install_files allows
the file's limit and a little for the form's other fields on this path); the file part,
spooled by the form parser, is handed over a chunk at a time. Success goes back to the
page's files (303); a refusal is said on a page of its own, with the way back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from common.errors import Gone, NotFound, NotPermitted, RuleViolation
from common.evidence import CHUNK_BYTES, EvidenceTooLarge
from common.evidence_files import ACCEPTED_WORDS, FileRefused
from common.paths import LeadId
from common.web import Language
from common.web.people import LangQuery, check_form
from ledger.application.files import StaffFiles, Upload
from ledger.application.tasks import NO_SUCH_TASK
from ledger.pages.lead import stale_page
from ledger.pages.shared import Staff, address, message, no_such_lead, render, staff
from ledger.tasks_api import TaskId

router = APIRouter(include_in_schema=False)

#: what the form's fields besides the file may add to its body
FORM_OVERHEAD: Final = 64 * 1024

Said = tuple[str, str]


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK_BYTES):
        yield chunk


def _refused(request: Request, who: Staff, lang: Language, page: str, why: Said) -> HTMLResponse:
    """The refusal, and the way back to the lead's or the item's page."""
    pick = 0 if lang == "zh" else 1
    return render(
        request,
        who,
        "message.html",
        lang,
        422,
        heading=("未能上传", "Not uploaded")[pick],
        text=why[pick],
        problem=True,
        back=address(request, lang)(page),
    )


def _why(refused: Exception) -> Said:
    """What the person is told of a refusal, in Chinese and English."""
    if isinstance(refused, RuleViolation):
        return refused.message_zh, refused.message
    if isinstance(refused, EvidenceTooLarge):
        mib = refused.limit / (1024 * 1024)
        return (
            f"文件太大：上限为 {mib:.1f} MiB。",
            f"The file is too large: the limit is {mib:.1f} MiB.",
        )
    if isinstance(refused, FileRefused):
        zh, en = ACCEPTED_WORDS
        return (
            f"不接受此类文件，只接受：{zh}",
            f"This kind of file is not accepted; accepted: {en}",
        )
    return str(refused), str(refused)


async def _received(
    request: Request,
    lang: Language,
    page: str,
    store: Callable[[StaffFiles, Upload, Staff], Awaitable[object]],
    not_found: Callable[[Staff], Response],
) -> Response:
    """The form read (its file spooled by the parser), its token checked, the file stored
    through ``store``; then back to ``page``'s files, or the refusal said."""
    who = staff(request)
    files: StaffFiles = request.app.state.staff_files
    form = await request.form(max_files=1, max_fields=10)
    try:
        try:
            check_form(who.session, str(form.get("csrf_token", "")))
        except HTTPException:
            return stale_page(request, who, lang)
        chosen = form.get("file")
        if not isinstance(chosen, UploadFile):
            return _refused(
                request, who, lang, page, ("请选择要上传的文件。", "Choose a file to upload.")
            )
        upload = Upload(
            str(form.get("title", "")),
            _chunks(chosen),
            strip_metadata=form.get("strip_metadata") == "true",
        )
        try:
            await store(files, upload, who)
        except NotFound:
            return not_found(who)
        except (RuleViolation, NotPermitted, Gone, EvidenceTooLarge, FileRefused) as refused:
            return _refused(request, who, lang, page, _why(refused))
    finally:
        await form.close()
    return RedirectResponse(address(request, lang)(page) + "#files", status_code=303)


@router.post("/desk/leads/{lead_id}/files")
async def upload_to_lead(request: Request, lead_id: LeadId, lang: LangQuery = "zh") -> Response:
    return await _received(
        request,
        lang,
        f"/desk/leads/{lead_id}",
        lambda files, upload, who: files.upload_to_lead(lead_id, upload, who.principal),
        lambda who: no_such_lead(request, who, lang),
    )


@router.post("/desk/tasks/{task_id}/files")
async def upload_to_task(request: Request, task_id: TaskId, lang: LangQuery = "zh") -> Response:
    return await _received(
        request,
        lang,
        f"/desk/tasks/{task_id}",
        lambda files, upload, who: files.upload_to_task(task_id, upload, who.principal),
        lambda who: message(request, who, lang, 404, ("未找到事项", "No such item"), NO_SUCH_TASK),
    )
