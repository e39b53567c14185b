"""The rectification items (整改台账) past their deadline and not closed, on the committee
desk: the same read the API makes, of the reader's towns alone."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Query
from fastapi.responses import Response

from common.vocabulary import TASK_STATUSES
from oversight.application.tasks import overdue_items
from oversight.application.towns import units_named
from oversight.pages.desk import DeskDep

router = APIRouter()

#: Where an overdue item stands (never closed: a closed item is not overdue).
TASK_STATUS: Final[dict[str, tuple[str, str]]] = {
    code: text for code, text in TASK_STATUSES.items() if code != "closed"
}


@router.get("/desk/tasks/overdue")
async def overdue_page(
    desk: DeskDep,
    unit: Annotated[
        str, Query(pattern=r"^([a-z0-9-]{2,40})?$", description="责任单位 / Responsible unit")
    ] = "",
) -> Response:
    items = await overdue_items(desk.oversight, desk.principal, unit or None)
    units = units_named(desk.oversight.runtime.org, desk.principal)
    return desk.render(
        "overdue_tasks.html", items=items, unit=unit, units=units, statuses=TASK_STATUS
    )
