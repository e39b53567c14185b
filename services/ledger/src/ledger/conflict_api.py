"""The office asks the discipline committee to let a lead be handed to a person the
conflict-of-interest guard refuses (ledger.application.conflict)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field

from common.auth import Principal, require_roles
from common.events import Role
from common.events.accounts import USER_NAME
from common.http_errors import errors
from common.paths import LeadId
from ledger.application import Ledger
from ledger.application.conflict import request_override

router = APIRouter(prefix="/v1/ledger/leads", tags=["conflict of interest"])
Office = Annotated[Principal, Depends(require_roles(Role.OFFICE))]


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str = Field(pattern=USER_NAME, description="拟指派人员 / the person")
    reason: str = Field(
        min_length=1, max_length=1000, description="报批理由 / why the hand-over is needed"
    )


class OverrideAsked(BaseModel):
    lead_id: str
    assignee: str
    grounds: list[str]
    event_id: str


@router.post(
    "/{lead_id}/conflict-override",
    summary="报请纪委批准指派存在利害关系的人员 / Ask the committee to let a refused"
    " hand-over through",
    response_model=OverrideAsked,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(403, 404, 422, 503),
)
async def ask_override(
    lead_id: LeadId, body: OverrideIn, request: Request, principal: Office
) -> OverrideAsked:
    ledger: Ledger = request.app.state.ledger
    event = await request_override(ledger, lead_id, body.assignee, body.reason, principal)
    return OverrideAsked(
        lead_id=lead_id,
        assignee=event.account,
        grounds=list(event.grounds),
        event_id=event.event_id,
    )
