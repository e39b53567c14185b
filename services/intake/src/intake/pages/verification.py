"""The public's check of a signed receipt: a file chosen or its text pasted, answered with
the same verdict the API gives (valid, or why not). Nothing is recorded."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request, Response, status
from starlette.datastructures import UploadFile

from common.web import Language
from common.web.people import LangQuery
from intake.pages.forms import Problems, text_of
from intake.pages.rendering import intake_of, render
from intake.signed_receipts import MAX_BYTES, Verdict, public_key_text

router = APIRouter(include_in_schema=False)

PAGE: Final = "/verify-receipt"


def _page(
    request: Request,
    lang: Language,
    problems: Problems,
    verdict: Verdict | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "verify_receipt.html",
        lang,
        status_code,
        public_only=True,
        problems=problems,
        verdict=verdict,
        public_key=public_key_text(intake_of(request).signer.public),
    )


@router.get(PAGE)
async def verify_form(request: Request, lang: LangQuery = "zh") -> Response:
    return _page(request, lang, Problems(lang))


@router.post(PAGE)
async def verify(request: Request, lang: LangQuery = "zh") -> Response:
    form = await request.form()
    upload = form.get("file")
    document = b""
    if isinstance(upload, UploadFile) and upload.filename:
        # Past the limit it is no receipt; a byte more is enough to say so.
        document = await upload.read(MAX_BYTES + 1)
    if not document.strip():
        document = text_of(form, "text").encode()
    problems = Problems(lang)
    if not document.strip():
        problems.add(
            "请选择回执文件，或者粘贴回执文本。"
            if lang == "zh"
            else "Choose the receipt file, or paste its text.",
            "file",
        )
        return _page(request, lang, problems, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _page(request, lang, problems, intake_of(request).verify_receipt(document))
