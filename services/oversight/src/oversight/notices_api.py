"""The committee's side of the notices (通报): the notices the office issued (criticism
first of all: 对工作开展不力、态度消极、简单应付的，进行通报批评并追究责任), each with the
accountability attached, and the decision that attaches it. Included in oversight's router
(``/v1/oversight/notices``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from common.auth import Principal, require_roles
from common.events import Role
from common.events.notices import LONGEST_REASON, NoticeFacts
from common.http_errors import errors
from common.paths import NoticeId
from oversight.application import Oversight
from oversight.application import notices as app

router = APIRouter(prefix="/notices", tags=["notices"])

Reader = Annotated[Principal, Depends(require_roles(Role.DISCIPLINE, Role.AUDITOR, Role.ADMIN))]
Decider = Annotated[Principal, Depends(require_roles(Role.DISCIPLINE, Role.ADMIN))]
LARGEST_PAGE: Final = 200


async def _oversight(request: Request) -> Oversight:
    oversight: Oversight = request.app.state.oversight
    return oversight


OversightDep = Annotated[Oversight, Depends(_oversight)]


class NoticeAccountabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    person: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")
    kind: Literal["public_criticism", "accountability"]
    form: int = Field(ge=1, le=4)
    reason: str = Field(
        min_length=2, max_length=LONGEST_REASON, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
    )


class NoticeAccountabilityOut(BaseModel):
    event_id: str
    person: str
    unit: str
    kind: str
    form: int
    reason: str
    decided_by: str | None
    at: datetime


class IssuedNoticeOut(BaseModel):
    notice_id: str
    kind: str
    unit: str
    period_from: date
    period_to: date
    title: str
    body: str
    facts: NoticeFacts
    issued_at: datetime
    issued_by: str | None
    accountability: list[NoticeAccountabilityOut]


@router.get(
    "",
    response_model=list[IssuedNoticeOut],
    summary="已印发的通报（默认通报批评）及问责 / Issued notices (criticism unless asked), with the"
    " accountability attached",
)
async def list_notices(
    principal: Reader,
    oversight: OversightDep,
    kind: Literal["praise", "criticism"] = "criticism",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=LARGEST_PAGE)] = 50,
) -> list[dict[str, Any]]:
    return await app.issued(oversight, principal, kind, page_size, (page - 1) * page_size)


@router.get(
    "/{notice_id}",
    response_model=IssuedNoticeOut,
    summary="一份已印发的通报及问责 / One issued notice, with its accountability",
    responses=errors(404),
)
async def get_notice(
    notice_id: NoticeId, principal: Reader, oversight: OversightDep
) -> dict[str, Any]:
    return await app.one(oversight, principal, notice_id)


@router.post(
    "/{notice_id}/accountability",
    status_code=status.HTTP_201_CREATED,
    summary="对通报批评追究责任（四种形态） / Attach accountability to an issued criticism notice",
    responses=errors(404, 409),
)
async def hold_accountable(
    notice_id: NoticeId, body: NoticeAccountabilityIn, principal: Decider, oversight: OversightDep
) -> dict[str, str]:
    event = await app.hold_accountable(
        oversight,
        principal,
        notice_id,
        person=body.person,
        kind=body.kind,
        form=body.form,
        reason=body.reason,
    )
    return {"event_id": event.event_id, "event_type": event.event_type, "notice_id": notice_id}
