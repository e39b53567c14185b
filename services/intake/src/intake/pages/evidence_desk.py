"""A lead's evidence files on the desk: what the reporter sent (photos, recordings, videos,
documents), listed for whoever may read the lead and downloaded decrypted, each download
recorded as the API's is. The page calls the application the API calls
(intake.application.evidence); a lead one may not read is a lead there is not."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import StreamingResponse

from common.accounts import Account
from common.errors import Gone, NotFound
from common.evidence_files import ACCEPTED, EXTENSIONS, Kind
from common.sessions import Session
from common.subjects import Service
from common.web import Language
from common.web.people import LangQuery, principal_of, signed_in
from intake.application.evidence import Evidence
from intake.evidence_api import READERS, zip_response
from intake.pages.rendering import render, renewed

router = APIRouter(include_in_schema=False)

PAGE: Final = "/desk/leads/{lead_id}/files"
LeadPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
FilePath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]

KINDS: Final[dict[Kind, tuple[str, str]]] = {
    Kind.PHOTO: ("照片", "photo"),
    Kind.VIDEO: ("视频", "video"),
    Kind.AUDIO: ("录音", "recording"),
    Kind.DOCUMENT: ("文档", "document"),
}
NO_SUCH: Final = (
    "没有这条线索，或您无权查看。",
    "There is no such lead, or it is not one you may see.",
)
GONE: Final = (
    "该线索的证据密钥已依规销毁，文件已无法恢复。",
    "The lead's evidence key was destroyed: its files can never be read again.",
)
NOT_A_READER: Final = (
    "您的岗位不查阅线索的证据材料。",
    "Your role does not read leads' evidence files.",
)


def _evidence(request: Request) -> Evidence:
    evidence: Evidence = request.app.state.evidence
    return evidence


def _pick(words: tuple[str, str], lang: Language) -> str:
    return words[0] if lang == "zh" else words[1]


def _size(size: int, lang: Language) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.0f} KiB"
    return f"{size} 字节" if lang == "zh" else f"{size} bytes"


def _message(
    request: Request, lang: Language, session: Session, account: Account, code: int, text: str
) -> Response:
    answer = render(
        request,
        "message.html",
        lang,
        code,
        person=account,
        csrf_token=session.csrf,
        heading="证据材料" if lang == "zh" else "Evidence files",
        text=text,
        problem=True,
    )
    return renewed(request, answer, session)


def _refusal(
    request: Request,
    lang: Language,
    session: Session,
    account: Account,
    refused: Exception | None = None,
) -> Response:
    """No role that reads files (403), no such lead or none the person may read (404), or
    a destroyed key (410), said on the page."""
    if refused is None:
        code, words = status.HTTP_403_FORBIDDEN, NOT_A_READER
    elif isinstance(refused, Gone):
        code, words = status.HTTP_410_GONE, GONE
    else:
        code, words = status.HTTP_404_NOT_FOUND, NO_SUCH
    return _message(request, lang, session, account, code, _pick(words, lang))


@router.get(PAGE)
async def files_page(request: Request, lead_id: LeadPath, lang: LangQuery = "zh") -> Response:
    session, account = signed_in(request)
    if account.role not in READERS:
        return _refusal(request, lang, session, account)
    try:
        held = await _evidence(request).files(lead_id, principal_of(account))
    except NotFound as refused:
        return _refusal(request, lang, session, account, refused)
    answer = render(
        request,
        "evidence_files.html",
        lang,
        person=account,
        csrf_token=session.csrf,
        lead_id=lead_id,
        ledger_number=await _evidence(request).ledger_number(lead_id),
        key_destroyed=held.key_destroyed,
        ledger_service=Service.LEDGER,
        gone=_pick(GONE, lang),
        files=[
            {
                "file_id": f.file_id,
                "kind": _pick(KINDS[ACCEPTED[f.media_type]], lang)
                if f.media_type in ACCEPTED
                else f.media_type,
                "media_type": f.media_type,
                "size": _size(f.size, lang),
                "sha256": f.sha256,
                "attached_at": f.occurred_at,
                "metadata_found": f.metadata_found,
                "metadata_stripped": f.metadata_stripped,
            }
            for f in held.files
        ],
    )
    return renewed(request, answer, session)


@router.get(PAGE + ".zip")
async def files_zip(request: Request, lead_id: LeadPath, lang: LangQuery = "zh") -> Response:
    session, account = signed_in(request)
    if account.role not in READERS:
        return _refusal(request, lang, session, account)
    try:
        answer = await zip_response(request, _evidence(request), lead_id, principal_of(account))
    except (NotFound, Gone) as refused:
        return _refusal(request, lang, session, account, refused)
    return renewed(request, answer, session)


@router.get(PAGE + "/{file_id}")
async def download(
    request: Request, lead_id: LeadPath, file_id: FilePath, lang: LangQuery = "zh"
) -> Response:
    session, account = signed_in(request)
    if account.role not in READERS:
        return _refusal(request, lang, session, account)
    try:
        found = await _evidence(request).download(lead_id, file_id, principal_of(account))
    except (NotFound, Gone) as refused:
        return _refusal(request, lang, session, account, refused)
    attached = found.attached
    name = attached.file_id + EXTENSIONS.get(attached.media_type, "")
    answer = StreamingResponse(
        found.chunks,
        media_type=attached.media_type,
        headers={
            "Content-Length": str(attached.size),
            # Saved, never shown in the page's origin: a document cannot run as the desk.
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
    return renewed(request, answer, session)
