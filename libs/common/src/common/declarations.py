"""A person's own declarations, served by every service: the villages, people and businesses
they are tied to, the other names they go by, and the leads they withdraw from (回避).

Each is an event on SESSIONS written by the service the person used (as a sign-in is): a
person speaks for themselves only, and what they declare never gives them anything. The
ledger reads the declarations from its accounts projection when it hands a lead to
someone (the conflict-of-interest guard)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Final, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from common.auth import Principal, current_principal
from common.errors import RuleViolation
from common.events import Event
from common.events.accounts import (
    DECLARED_NAME,
    AliasDeclared,
    Recused,
    RelationshipDeclared,
    RelationshipKind,
    RelationshipWithdrawn,
)
from common.eventstore import Appended
from common.http_errors import errors
from common.organisation import UnitKind
from common.signin import sessions_log_of

if TYPE_CHECKING:
    from common.service import ServiceRuntime

# A person with more standing declarations than this is asked to withdraw some first: the
# guard reads them all at every hand-over.
MOST_DECLARATIONS: Final = 200

Person = Annotated[Principal, Depends(current_principal)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RelationshipIn(_In):
    kind: RelationshipKind = Field(description="village 村 / person 人 / business 企业")
    name: str = Field(
        pattern=DECLARED_NAME,
        description="村的代码，或人、企业的名称 / the village's code, or the name",
    )
    note: str = Field(default="", max_length=500, description="关系说明 / what the tie is")


class AliasIn(_In):
    name: str = Field(pattern=DECLARED_NAME, description="曾用名、别名 / another name")


class WithdrawalIn(_In):
    kind: Literal["village", "person", "business", "alias"]
    name: str = Field(pattern=DECLARED_NAME)


class RecusalIn(_In):
    lead_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="线索编号 / lead id")
    reason: str = Field(min_length=1, max_length=500, description="回避理由 / why")


class DeclarationOut(BaseModel):
    kind: str
    name: str
    note: str
    declared_at: datetime


async def standing(runtime: ServiceRuntime, user: str) -> list[DeclarationOut]:
    """What the person declared and still stands by, oldest first."""
    found = await asyncio.to_thread(runtime.accounts.declarations_of, user)
    return [
        DeclarationOut(kind=d.kind, name=d.name, note=d.note, declared_at=d.declared_at)
        for d in found
    ]


async def _record(runtime: ServiceRuntime, principal: Principal, event: Event) -> Appended:
    if len(await standing(runtime, principal.user)) >= MOST_DECLARATIONS:
        raise RuleViolation(
            f"at most {MOST_DECLARATIONS} declarations stand at once: withdraw some first",
            f"申报事项最多 {MOST_DECLARATIONS} 项，请先撤回不再成立的",
            field="name",
        )
    return await sessions_log_of(runtime).append(event)


# The person's own declarations, each an event on SESSIONS; for the API and the pages alike.


async def declare_relationship(
    runtime: ServiceRuntime, principal: Principal, body: RelationshipIn
) -> Appended:
    name = body.name.strip()
    if body.kind == "village":
        unit = runtime.org.unit(name)
        if unit is None or unit.kind is not UnitKind.VILLAGE:
            raise RuleViolation(
                f"{name!r} is not the code of a village of the organisation",
                "村请填写本组织内村的代码",
                field="name",
            )
    event = RelationshipDeclared(
        user=principal.user, kind=body.kind, name=name, note=body.note, actor=principal.actor
    )
    return await _record(runtime, principal, event)


async def declare_alias(runtime: ServiceRuntime, principal: Principal, body: AliasIn) -> Appended:
    event = AliasDeclared(user=principal.user, name=body.name.strip(), actor=principal.actor)
    return await _record(runtime, principal, event)


async def withdraw_declaration(
    runtime: ServiceRuntime, principal: Principal, body: WithdrawalIn
) -> Appended:
    event = RelationshipWithdrawn(
        user=principal.user, kind=body.kind, name=body.name.strip(), actor=principal.actor
    )
    return await sessions_log_of(runtime).append(event)


async def recuse_from_lead(
    runtime: ServiceRuntime, principal: Principal, body: RecusalIn
) -> Appended:
    event = Recused(
        user=principal.user, lead_id=body.lead_id, reason=body.reason, actor=principal.actor
    )
    return await _record(runtime, principal, event)


def declaration_routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/v1/me", tags=["declarations"])

    @router.get(
        "/declarations",
        summary="本人申报的关系、别名与回避 / What I declared: ties, aliases, recusals",
        response_model=list[DeclarationOut],
    )
    async def mine(principal: Person) -> list[DeclarationOut]:
        return await standing(runtime, principal.user)

    @router.post(
        "/declarations/relationships",
        summary="申报利害关系 / Declare a tie to a village, a person or a business",
        response_model=list[DeclarationOut],
        status_code=status.HTTP_202_ACCEPTED,
        responses=errors(422, 503),
    )
    async def relationship(body: RelationshipIn, principal: Person) -> list[DeclarationOut]:
        await declare_relationship(runtime, principal, body)
        return await standing(runtime, principal.user)

    @router.post(
        "/declarations/aliases",
        summary="申报曾用名、别名 / Declare another name I go by",
        response_model=list[DeclarationOut],
        status_code=status.HTTP_202_ACCEPTED,
        responses=errors(422, 503),
    )
    async def alias(body: AliasIn, principal: Person) -> list[DeclarationOut]:
        await declare_alias(runtime, principal, body)
        return await standing(runtime, principal.user)

    @router.post(
        "/declarations/withdrawals",
        summary="撤回一项申报 / Withdraw a tie or an alias that no longer holds",
        response_model=list[DeclarationOut],
        status_code=status.HTTP_202_ACCEPTED,
        responses=errors(503),
    )
    async def withdraw(body: WithdrawalIn, principal: Person) -> list[DeclarationOut]:
        await withdraw_declaration(runtime, principal, body)
        return await standing(runtime, principal.user)

    @router.post(
        "/recusals",
        summary="申请回避某条线索 / Withdraw from a lead (回避)",
        response_model=list[DeclarationOut],
        status_code=status.HTTP_202_ACCEPTED,
        responses=errors(422, 503),
    )
    async def recuse(body: RecusalIn, principal: Person) -> list[DeclarationOut]:
        await recuse_from_lead(runtime, principal, body)
        return await standing(runtime, principal.user)

    return router
