"""The issued notices of criticism (通报批评) on the committee desk, each with the
accountability the committee attached: the same read the API makes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from oversight.application import notices as app
from oversight.pages.desk import DeskDep

router = APIRouter()


@router.get("/desk/notices")
async def notices_page(desk: DeskDep) -> Response:
    found = await app.issued(desk.oversight, desk.principal, "criticism", 200, 0)
    return desk.render("notices.html", notices=found)
