"""Staff files on the desk (工作痕迹): the upload form of a lead's page, sent as a browser
sends a file (multipart), with the session's CSRF token, and run by the same application as
the API's upload. The body is bounded before it is read (files_api.install_files allows
the file's limit and a little for the form's other fields on this path); the file part,
spooled by the form parser, is handed over a chunk at a time. Success goes back to the
lead's files (303); a refusal is said on a page of its own, with the way back."""

from __future__ import annotations

from collections.abc import AsyncIterator
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
from ledger.pages.lead import stale_page
from ledger.pages.shared import Staff, address, no_such_lead, render, staff

router = APIRouter(include_in_schema=False)

#: what the form's fields besides the file may add to its body
FORM_OVERHEAD: Final = 64 * 1024


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK_BYTES):
        yield chunk


def _refused(
    request: Request, who: Staff, lang: Language, lead_id: str, why: tuple[str, str]
) -> HTMLResponse:
    """The refusal, and the way back to the lead."""
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
        back=address(request, lang)(f"/desk/leads/{lead_id}"),
    )


@router.post("/desk/leads/{lead_id}/files")
async def upload_to_lead(request: Request, lead_id: LeadId, lang: LangQuery = "zh") -> Response:
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
                request, who, lang, lead_id, ("请选择要上传的文件。", "Choose a file to upload.")
            )
        upload = Upload(
            str(form.get("title", "")),
            _chunks(chosen),
            strip_metadata=form.get("strip_metadata") == "true",
        )
        try:
            await files.upload_to_lead(lead_id, upload, who.principal)
        except NotFound:
            return no_such_lead(request, who, lang)
        except (RuleViolation, NotPermitted, Gone) as refused:
            said = refused.message_zh if isinstance(refused, RuleViolation) else str(refused)
            said_en = refused.message if isinstance(refused, RuleViolation) else str(refused)
            return _refused(request, who, lang, lead_id, (said, said_en))
        except EvidenceTooLarge as large:
            mib = large.limit / (1024 * 1024)
            return _refused(
                request,
                who,
                lang,
                lead_id,
                (
                    f"文件太大：上限为 {mib:.1f} MiB。",
                    f"The file is too large: the limit is {mib:.1f} MiB.",
                ),
            )
        except FileRefused:
            zh, en = ACCEPTED_WORDS
            return _refused(
                request,
                who,
                lang,
                lead_id,
                (
                    f"不接受此类文件，只接受：{zh}",
                    f"This kind of file is not accepted; accepted: {en}",
                ),
            )
    finally:
        await form.close()
    return RedirectResponse(
        address(request, lang)(f"/desk/leads/{lead_id}") + "#files", status_code=303
    )
