"""Staff files on the desk (工作痕迹): the upload form of a lead's or an item's page, sent
as a browser sends a file (multipart), with the session's CSRF token, and run by the same
application as the API's upload. The body is bounded before it is read (files_api allows
the file's limit and a little for the form's other fields on these paths).

The body is parsed as it arrives with python-multipart's callback parser, never with
``request.form()``, which spools a large file part to a temporary file in clear: a staff
file is never on a disk unencrypted. The form's short fields come first (the token is
checked before a byte of the file is taken), the file last, handed on a request chunk at a
time. Success goes back to the page's files (303); a refusal is said on a page of its own,
with the way back."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from common.errors import Gone, NotFound, NotPermitted, RuleViolation
from common.evidence import EvidenceSpoolFull, EvidenceTooLarge
from common.evidence_files import ACCEPTED_WORDS, FileRefused
from common.paths import LeadId
from common.web import Language
from common.web.people import LangQuery, check_form
from ledger.application.files import StaffFiles, Upload
from ledger.pages.lead import stale_page
from ledger.pages.shared import Staff, address, message, no_such_lead, render, staff
from ledger.pages.tasks import NO_SUCH_TASK
from ledger.tasks_api import TaskId

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

router = APIRouter(include_in_schema=False)

#: what the form's fields besides the file may add to its body
FORM_OVERHEAD: Final = 64 * 1024

Said = tuple[str, str]


class _Unreadable(Exception):
    """The body is not the page's form (not multipart, cut short, a field over its bound)."""


#: a short field's bytes (a title of 100 characters is at most 400), and how many fields
FIELD_BYTES: Final = 2 * 1024
MOST_FIELDS: Final = 8
#: one part's headers
HEADER_BYTES: Final = 4 * 1024


class _DeskForm:
    """The upload form read as it arrives: python-multipart's events pulled one at a time,
    the request read a chunk at a time only when none is waiting."""

    def __init__(self, chunks: AsyncIterable[bytes], boundary: bytes) -> None:
        self._chunks = aiter(chunks)
        self._events: deque[tuple[str, Any]] = deque()
        self._name, self._value = bytearray(), bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._header_bytes = 0
        self._finished = False
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._header(self._name, data[start:end]),
            "on_header_value": lambda data, start, end: self._header(self._value, data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": lambda: self._events.append(("part", self._headers)),
            "on_part_data": lambda data, start, end: self._events.append(
                ("data", bytes(data[start:end]))
            ),
            "on_part_end": lambda: self._events.append(("end", None)),
        }
        self._parser = MultipartParser(boundary, callbacks)

    def _begin(self) -> None:
        self._headers, self._header_bytes = {}, 0

    def _header(self, into: bytearray, data: bytes) -> None:
        self._header_bytes += len(data)
        if self._header_bytes <= HEADER_BYTES:
            into += data

    def _header_end(self) -> None:
        self._headers[bytes(self._name).lower()] = bytes(self._value)
        self._name.clear()
        self._value.clear()

    async def _next(self) -> tuple[str, Any] | None:
        while not self._events:
            if self._header_bytes > HEADER_BYTES:
                raise _Unreadable
            if self._finished:
                return None
            chunk = await anext(self._chunks, None)
            try:
                if chunk is None:
                    self._parser.finalize()
                    self._finished = True
                else:
                    self._parser.write(chunk)
            except MultipartParseError:
                raise _Unreadable from None
        return self._events.popleft()

    async def fields(self) -> tuple[dict[str, str], bool]:
        """The short fields before the file, each bounded; whether a file was chosen."""
        found: dict[str, str] = {}
        while (event := await self._next()) is not None:
            if event[0] != "part":
                continue
            _, options = parse_options_header(event[1].get(b"content-disposition", b""))
            filename = options.get(b"filename")
            if filename is not None:
                return found, bool(filename)
            if len(found) >= MOST_FIELDS:
                raise _Unreadable
            value = bytearray()
            while (part := await self._next()) is not None and part[0] == "data":
                value += part[1]
                if len(value) > FIELD_BYTES:
                    raise _Unreadable
            found[options.get(b"name", b"").decode("utf-8", "replace")] = value.decode(
                "utf-8", "replace"
            )
        return found, False

    async def file(self) -> AsyncIterator[bytes]:
        """The chosen file's bytes, as they arrive."""
        while (event := await self._next()) is not None and event[0] == "data":
            yield event[1]


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
    if isinstance(refused, EvidenceSpoolFull):
        return (
            "服务器暂时无法接收文件，请稍后重试。",
            "The server cannot take a file just now: send it again later.",
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
    """The form's fields read, its token checked, its file stored through ``store`` as it
    arrives; then back to ``page``'s files, or the refusal said."""
    who = staff(request)
    files: StaffFiles = request.app.state.staff_files
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary", b"")
    unreadable = (
        "提交的表单无法读取，请重新打开页面再提交。",
        "The form that came could not be read: open the page again and send it again.",
    )
    if kind != b"multipart/form-data" or not boundary or len(boundary) > 200:
        return _refused(request, who, lang, page, unreadable)
    form = _DeskForm(request.stream(), boundary)
    try:
        sent, chosen = await form.fields()
    except _Unreadable:
        return _refused(request, who, lang, page, unreadable)
    try:
        check_form(who.session, sent.get("csrf_token", ""))
    except HTTPException:
        return stale_page(request, who, lang)
    if not chosen:
        return _refused(
            request, who, lang, page, ("请选择要上传的文件。", "Choose a file to upload.")
        )
    upload = Upload(
        sent.get("title", ""), form.file(), strip_metadata=sent.get("strip_metadata") == "true"
    )
    try:
        await store(files, upload, who)
    except NotFound:
        return not_found(who)
    except _Unreadable:
        return _refused(request, who, lang, page, unreadable)
    except (
        RuleViolation,
        NotPermitted,
        Gone,
        EvidenceTooLarge,
        EvidenceSpoolFull,
        FileRefused,
    ) as refused:
        return _refused(request, who, lang, page, _why(refused))
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
