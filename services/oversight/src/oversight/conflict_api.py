"""The committee's part in the conflict-of-interest guard: keeping a person it knows to be
conflicted off a lead (the subject of an accountability or umbrella case: the ledger is told
the category, never the case), deciding on the office's requests for an override, and the
overrides in the leak-risk report (requested, decided, used)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field

from common.auth import Principal, require_roles
from common.errors import RuleViolation
from common.events import Event, Role
from common.events.accounts import USER_NAME
from common.events.catalogue import ResponsibilityAssigned
from common.events.conflict import (
    ConflictGuardLifted,
    ConflictGuardSet,
    ConflictOverrideApproved,
    ConflictOverrideRefused,
    ConflictOverrideRequested,
    GuardReason,
)
from common.http_errors import errors
from common.service import ServiceRuntime
from common.subjects import Stream, check_token

router = APIRouter(tags=["conflict of interest"])
Member = Annotated[Principal, Depends(require_roles(Role.DISCIPLINE))]
Reader = Annotated[Principal, Depends(require_roles(Role.DISCIPLINE, Role.AUDITOR, Role.ADMIN))]
# The report shows the newest requests; overrides are rare, each one a decision of the
# committee's.
MOST_SHOWN: Final = 200
LEAD_ID = r"^[A-Za-z0-9_-]{1,64}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_id: str = Field(pattern=LEAD_ID, description="线索编号 / lead id")
    account: str = Field(pattern=USER_NAME, description="人员账户 / the person's account")


class GuardIn(_In):
    reason: GuardReason = Field(
        description="accountability 问责案件当事人 / umbrella 保护伞案件当事人 / other 其他"
    )


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


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.oversight.runtime
    return runtime


async def _append(request: Request, event: Event) -> Recorded:
    await _runtime(request).store(Stream.DIRECTIVES).append(event)
    return Recorded(event_type=event.event_type, event_id=event.event_id)


async def _events(request: Request, stream: Stream, subject: str) -> list[Event]:
    history = await _runtime(request).store(stream).read_subject(subject)
    return [e.event for e in history.events]


@router.post(
    "/v1/conflict/guards",
    summary="不得向该人员指派本线索 / Keep a person off a lead (the reason by category only)",
    response_model=Recorded,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(403, 503),
)
async def set_guard(body: GuardIn, request: Request, principal: Member) -> Recorded:
    return await _append(
        request,
        ConflictGuardSet(
            lead_id=body.lead_id, account=body.account, reason=body.reason, actor=principal.actor
        ),
    )


@router.post(
    "/v1/conflict/guards/lifted",
    summary="解除限制 / Lift the committee's guard",
    response_model=Recorded,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(403, 503),
)
async def lift_guard(body: _In, request: Request, principal: Member) -> Recorded:
    return await _append(
        request,
        ConflictGuardLifted(lead_id=body.lead_id, account=body.account, actor=principal.actor),
    )


@router.post(
    "/v1/conflict/overrides",
    summary="批准或不批准扫黑办的报批 / Approve or refuse the office's request for an override",
    response_model=Recorded,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(403, 422, 503),
)
async def decide(body: DecisionIn, request: Request, principal: Member) -> Recorded:
    asked = await _events(
        request, Stream.LEDGER, f"ledger.lead.{check_token(body.lead_id)}.ConflictOverrideRequested"
    )
    if not any(
        isinstance(e, ConflictOverrideRequested) and e.account == body.account for e in asked
    ):
        raise RuleViolation(
            "the office asked for no override for this person on this lead",
            "扫黑办未就该人员和线索报批",
            field="account",
        )
    kind = ConflictOverrideApproved if body.decision == "approve" else ConflictOverrideRefused
    return await _append(
        request,
        kind(lead_id=body.lead_id, account=body.account, note=body.note, actor=principal.actor),
    )


@router.get(
    "/v1/leak-risk/conflict-overrides",
    summary="泄密风险：利害关系人员的例外指派 / Leak risk: hand-overs despite a conflict,"
    " requested, decided and used",
    response_model=list[OverrideOut],
    responses=errors(403, 503),
)
async def overrides(request: Request, principal: Reader) -> list[OverrideOut]:
    asked = await _events(request, Stream.LEDGER, "ledger.lead.*.ConflictOverrideRequested")
    shown: list[OverrideOut] = []
    for ask in reversed(asked[-MOST_SHOWN:]):
        assert isinstance(ask, ConflictOverrideRequested)  # noqa: S101 - the subject says so
        lead = check_token(ask.lead_id)
        decisions = [
            e
            for e in await _events(request, Stream.DIRECTIVES, f"directive.lead.{lead}.>")
            if isinstance(e, ConflictOverrideApproved | ConflictOverrideRefused)
            and e.account == ask.account
            and e.occurred_at >= ask.occurred_at
        ]
        last = decisions[-1] if decisions else None
        used = [
            e
            for e in await _events(
                request, Stream.LEDGER, f"ledger.lead.{lead}.ResponsibilityAssigned"
            )
            if isinstance(e, ResponsibilityAssigned)
            and e.conflict_override
            and e.assignee == ask.account
            and e.occurred_at >= ask.occurred_at
        ]
        shown.append(
            OverrideOut(
                lead_id=ask.lead_id,
                account=ask.account,
                requested_at=ask.occurred_at,
                requested_by=ask.actor.user,
                reason=ask.reason,
                grounds=list(ask.grounds),
                decision=None
                if last is None
                else ("approved" if isinstance(last, ConflictOverrideApproved) else "refused"),
                decided_at=last.occurred_at if last else None,
                decided_by=last.actor.user if last else None,
                used_at=used[0].occurred_at if used else None,
            )
        )
    return shown
