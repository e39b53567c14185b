"""The notices (通报) on the ledger desk: the list a person may see and one notice laid out
to print. The same application as the API's; a notice the person may not see is the page
of one that does not exist."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from common.errors import NotFound
from common.web.people import LangQuery
from ledger.application import notices as app
from ledger.notices_api import listed_out, notice_out
from ledger.pages.shared import may_not_read, message, render, staff

router = APIRouter()

NO_SUCH_NOTICE: Final = (
    "没有这份通报，或您无权查看。",
    "There is no such notice, or it is not one you may see.",
)
PageNoticeId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


@router.get("/desk/notices")
async def notices(request: Request, lang: LangQuery = "zh") -> HTMLResponse:
    who = staff(request)
    if not who.may_read:
        return may_not_read(request, who, lang)
    rows = await app.listed(
        who.ledger, who.principal, status=None, unit=None, kind=None, limit=200, offset=0
    )
    return render(
        request,
        who,
        "notices.html",
        lang,
        notices=[listed_out(who.ledger, r) for r in rows],
    )


@router.get("/desk/notices/{notice_id}")
async def notice(request: Request, notice_id: PageNoticeId, lang: LangQuery = "zh") -> HTMLResponse:
    who = staff(request)
    if not who.may_read:
        return may_not_read(request, who, lang)
    try:
        read = await app.read(who.ledger, who.principal, notice_id)
    except NotFound:
        return message(request, who, lang, 404, ("未找到通报", "No such notice"), NO_SUCH_NOTICE)
    return render(request, who, "notice.html", lang, notice=notice_out(who.ledger, read))
