"""Identity access on request (two-person rule): a handler asks with a reason, a custodian
other than the asker approves or refuses, the requester reads the identity once.

What a principal may not see is 404 before anything else: a lead they may not read
(common.visibility: a handler asks about the leads their unit holds, a custodian decides on
their own town's), and someone else's request, to anyone but a custodian, do not exist."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from common.auth import Principal, require_roles
from common.events import Role
from common.events.custody import LONGEST_REASON, LONGEST_VALIDITY_HOURS, REQUEST_ID, ReasonCategory
from common.http_errors import errors
from common.paths import LeadId
from intake.api import IntakeDep
from intake.commands import AskForIdentity, DecideOnIdentity, ReadIdentity
from intake.domain.custody import MAY_ASK, REASON_LABELS, AccessRequest
from intake.vault import Identity

Asker = Annotated[Principal, Depends(require_roles(*MAY_ASK))]
Custodian = Annotated[Principal, Depends(require_roles(Role.CUSTODIAN))]
RequestId = Annotated[str, Field(pattern=REQUEST_ID)]

router = APIRouter(prefix="/v1", tags=["identity requests"], responses=errors(503))


class IdentityRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason_category: ReasonCategory = Field(
        description="理由类别（会告知举报人）/ Why, as a category (the reporter is told it)"
    )
    reason: str = Field(
        min_length=4,
        max_length=LONGEST_REASON,
        description="简要理由，委员会可见；勿写入举报人信息 / A short reason, seen by the"
        " committee; write nothing about the reporter in it",
    )


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    valid_hours: int = Field(
        default=24,
        ge=1,
        le=LONGEST_VALIDITY_HOURS,
        description="批准后多少小时内可查阅一次 / How many hours the one read is allowed for",
    )


class RefusalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=4, max_length=LONGEST_REASON)


class IdentityRequestOut(BaseModel):
    request_id: str
    lead_id: str
    status: str = Field(description="pending 待审批、approved 已批准、refused 已拒绝")
    reason_category: ReasonCategory
    reason_label: str
    reason_label_en: str
    reason: str
    requester: str | None
    requester_role: str
    requester_unit: str | None
    asked_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    valid_until: datetime | None
    reads_left: int


def _out(lead_id: str, request: AccessRequest) -> IdentityRequestOut:
    zh, en = REASON_LABELS[request.reason_category]
    return IdentityRequestOut(
        request_id=request.request_id,
        lead_id=lead_id,
        status=request.status,
        reason_category=request.reason_category,
        reason_label=zh,
        reason_label_en=en,
        reason=request.reason,
        requester=request.requester.user,
        requester_role=request.requester.role.value,
        requester_unit=request.requester.unit,
        asked_at=request.asked_at,
        decided_by=request.decided_by.user if request.decided_by else None,
        decided_at=request.decided_at,
        valid_until=request.valid_until,
        reads_left=max(request.uses - request.reads, 0),
    )


@router.post(
    "/leads/{lead_id}/identity/requests",
    status_code=status.HTTP_201_CREATED,
    summary="申请查阅举报人身份 / Ask to read a named reporter's identity (with a reason)",
    responses=errors(403, 404, 410),
)
async def ask(
    lead_id: LeadId, body: IdentityRequestIn, principal: Asker, intake: IntakeDep
) -> IdentityRequestOut:
    command = AskForIdentity(lead_id, body.reason_category, body.reason)
    return _out(lead_id, await intake.ask_for_identity(command, principal))


@router.get(
    "/leads/{lead_id}/identity/requests",
    summary="查阅申请 / A lead's identity requests (every one for a custodian, one's own otherwise)",
    responses=errors(403, 404),
)
async def listed(lead_id: LeadId, principal: Asker, intake: IntakeDep) -> list[IdentityRequestOut]:
    return [_out(lead_id, r) for r in await intake.identity_requests(lead_id, principal)]


@router.post(
    "/leads/{lead_id}/identity/requests/{request_id}/approve",
    summary="批准查阅申请 / Approve a request (a custodian other than the asker)",
    responses=errors(403, 404, 409, 410),
)
async def approve(
    lead_id: LeadId,
    request_id: RequestId,
    body: ApprovalIn,
    principal: Custodian,
    intake: IntakeDep,
) -> IdentityRequestOut:
    command = DecideOnIdentity(lead_id, request_id, approve=True, valid_hours=body.valid_hours)
    return _out(lead_id, await intake.decide_on_identity(command, principal))


@router.post(
    "/leads/{lead_id}/identity/requests/{request_id}/refuse",
    summary="拒绝查阅申请 / Refuse a request, with a reason (a custodian other than the asker)",
    responses=errors(403, 404, 409, 410),
)
async def refuse(
    lead_id: LeadId,
    request_id: RequestId,
    body: RefusalIn,
    principal: Custodian,
    intake: IntakeDep,
) -> IdentityRequestOut:
    command = DecideOnIdentity(lead_id, request_id, approve=False, reason=body.reason)
    return _out(lead_id, await intake.decide_on_identity(command, principal))


@router.post(
    "/leads/{lead_id}/identity/requests/{request_id}/read",
    summary="查阅举报人身份 / Read the identity an approved request allows (the asker, once)",
    responses=errors(403, 404, 409, 410),
)
async def read(
    lead_id: LeadId, request_id: RequestId, principal: Asker, intake: IntakeDep
) -> Identity:
    return await intake.read_identity(ReadIdentity(lead_id, request_id), principal)
