"""The committee's view of the rectification ledger (整改台账): the items past their deadline
and not closed (销号), watched like overdue leads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from common.auth import Principal, require_roles
from common.events import Role
from common.http_errors import errors
from oversight.application import Oversight
from oversight.application.tasks import overdue_items

router = APIRouter(prefix="/v1/oversight/tasks", tags=["oversight"], responses=errors(503))
Reader = Annotated[Principal, Depends(require_roles(Role.DISCIPLINE, Role.AUDITOR, Role.ADMIN))]


class OverdueTask(BaseModel):
    task_id: str
    source: str
    problem: str
    unit: str
    unit_name: str
    assignee: str
    assignee_name: str
    deadline: datetime
    #: whole days past the deadline
    days_overdue: int
    status: str
    town: str | None
    opened_at: datetime


@router.get(
    "/overdue",
    summary="超期未销号的整改事项 / Rectification items past their deadline and not closed",
    response_model=list[OverdueTask],
)
async def overdue_tasks(
    request: Request,
    principal: Reader,
    unit: Annotated[str | None, Query(pattern=r"^[a-z0-9-]{2,40}$")] = None,
) -> list[OverdueTask]:
    oversight: Oversight = request.app.state.oversight
    return [OverdueTask(**row) for row in await overdue_items(oversight, principal, unit)]
