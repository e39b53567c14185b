"""The committee's part in the conflict-of-interest guard: keeping a person it knows to be
conflicted off a lead (the subject of an accountability or umbrella case: the ledger is told
the category, never the case), deciding on the office's requests for an override, and the
overrides in the leak-risk report (requested, decided, used)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field

from common.auth import Principal, require_roles
from common.events import Event, Role
from common.events.accounts import USER_NAME
from common.events.conflict import GuardReason
from common.http_errors import errors
from oversight.application import conflict as app
from oversight.application.context import Oversight

router = APIRouter(tags=["conflict of interest"])
Member = Annotated[Principal, Depends(require_roles(Role.DISCIPLINE))]
Reader = Annotated[Principal, Depends(require_roles(Role.DISCIPLINE, Role.AUDITOR, Role.ADMIN))]
LEAD_ID = r"^[A-Za-z0-9_-]{1,64}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_id: str = Field(pattern=LEAD_ID, description="线索编号 / lead id")
    account: str = Field(pattern=USER_NAME, description="人员账户 / the person's account")


class GuardIn(_In):
    reason: GuardReason = Field(
        description="accountability 问责案件当事人 / umbrella 保护伞案件当事人 / other 其他"
    )


class LiftIn(_In):
    pass


class DecisionIn(_In):
    decision: Literal["approve", "refuse"]
    note: str = Field(default="", max_length=1000)


class Recorded(BaseModel):
    event_type: str
    event_id: str


class OverrideOut(BaseModel):
    lead_id: str
    account: str
    requested_at: datetime
    requested_by: str | None
    reason: str
    grounds: list[str]
    decision: Literal["approved", "refused"] | None
    decided_at: datetime | None
    decided_by: str | None
    used_at: datetime | None


def _oversight(request: Request) -> Oversight:
    ox: Oversight = request.app.state.oversight
    return ox


def _recorded(event: Event) -> Recorded:
    return Recorded(event_type=event.event_type, event_id=event.event_id)


@router.post(
    "/v1/conflict/guards",
    summary="不得向该人员指派本线索 / Keep a person off a lead (the reason by category only)",
    response_model=Recorded,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(403, 404, 503),
)
async def set_guard(body: GuardIn, request: Request, principal: Member) -> Recorded:
    return _recorded(
        await app.set_guard(_oversight(request), principal, body.lead_id, body.account, body.reason)
    )


@router.post(
    "/v1/conflict/guards/lifted",
    summary="解除限制 / Lift the committee's guard",
    response_model=Recorded,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(403, 404, 503),
)
async def lift_guard(body: LiftIn, request: Request, principal: Member) -> Recorded:
    return _recorded(
        await app.lift_guard(_oversight(request), principal, body.lead_id, body.account)
    )


@router.post(
    "/v1/conflict/overrides",
    summary="批准或不批准扫黑办的报批 / Approve or refuse the office's request for an override",
    response_model=Recorded,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(403, 404, 422, 503),
)
async def decide(body: DecisionIn, request: Request, principal: Member) -> Recorded:
    approve = body.decision == "approve"
    return _recorded(
        await app.decide(
            _oversight(request), principal, body.lead_id, body.account, approve, body.note
        )
    )


@router.get(
    "/v1/leak-risk/conflict-overrides",
    summary="泄密风险：利害关系人员的例外指派 / Leak risk: hand-overs despite a conflict,"
    " requested, decided and used",
    response_model=list[OverrideOut],
    responses=errors(403, 503),
)
async def overrides(request: Request, principal: Reader) -> list[OverrideOut]:
    return [
        OverrideOut(
            lead_id=o.lead_id,
            account=o.account,
            requested_at=o.requested_at,
            requested_by=o.requested_by,
            reason=o.reason,
            grounds=list(o.grounds),
            decision=o.decision,
            decided_at=o.decided_at,
            decided_by=o.decided_by,
            used_at=o.used_at,
        )
        for o in await app.overrides(_oversight(request), principal)
    ]
