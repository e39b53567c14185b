"""The two-person rule over a named reporter's identity: who may ask to read it, who may
decide, and when the requester may read it (once, before the approval lapses).

Folded from the lead's own events, so a replay decides as the first run did."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Literal

from common.errors import NotFound, NotPermitted, Settled
from common.events import Actor, Event, Role
from common.events.catalogue import IdentityDisclosed
from common.events.custody import (
    IdentityAccessApproved,
    IdentityAccessRefused,
    IdentityAccessRequested,
    ReasonCategory,
)
from common.vocabulary import IDENTITY_REASONS
from intake.domain.lead import IntakeLead, disclose, identity_still_held

#: The roles that handle leads and so may need to reach the reporter; a custodian may ask
#: too, and is then decided on by another.
MAY_ASK: Final = frozenset(
    {Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE, Role.OFFICE, Role.CUSTODIAN}
)

Status = Literal["pending", "approved", "refused"]

#: Why, in words: shown to the custodian deciding, the committee, and the reporter.
REASON_LABELS: Final[dict[ReasonCategory, tuple[str, str]]] = {
    ReasonCategory(code): text for code, text in IDENTITY_REASONS.items()
}
#: A read before requests existed: a custodian's own, with no category.
UNCATEGORISED: Final = ("依规核查", "a check under the rules")


def reason_label(category: str | None) -> tuple[str, str]:
    """A recorded category in words (zh, en); one this code does not know reads as a check."""
    try:
        return REASON_LABELS[ReasonCategory(category or "")]
    except ValueError:
        return UNCATEGORISED


class RequestNotFound(NotFound):
    """No such request on this lead, or not one the principal may see."""

    def __init__(self) -> None:
        super().__init__("no such identity request")


class MayNotAsk(NotPermitted):
    def __init__(self) -> None:
        super().__init__("only a person handling leads may ask for a reporter's identity")


class OwnRequest(NotPermitted):
    """Two people, always: whoever asked may not decide."""

    def __init__(self) -> None:
        super().__init__("a request is decided by a custodian other than the one who asked")


class NotDecidable(Settled):
    def __init__(self, status: Status) -> None:
        super().__init__(
            f"the request is already {status}: only a pending request is decided",
            f"该申请已{STATUS_ZH[status]}，只能审批待审批的申请",
            field="request_id",
        )


class NotReadable(NotPermitted):
    """Not approved, already read, or lapsed: the requester must ask again."""


class DirectReadEnded(NotPermitted):
    def __init__(self) -> None:
        super().__init__(
            "an identity is read only through a request another custodian approved:"
            " POST /v1/leads/{lead_id}/identity/requests"
        )


STATUS_ZH: Final[dict[Status, str]] = {"pending": "待审批", "approved": "批准", "refused": "拒绝"}


@dataclass(frozen=True)
class AccessRequest:
    request_id: str
    requester: Actor
    asked_at: datetime
    reason_category: ReasonCategory
    reason: str
    status: Status = "pending"
    decided_by: Actor | None = None
    decided_at: datetime | None = None
    valid_until: datetime | None = None
    uses: int = 0
    reads: int = 0

    def asked_by(self, actor: Actor) -> bool:
        return actor.user is not None and actor.user == self.requester.user


def requests_of(events: Iterable[Event]) -> dict[str, AccessRequest]:
    found: dict[str, AccessRequest] = {}
    for event in events:
        if isinstance(event, IdentityAccessRequested):
            found[event.request_id] = AccessRequest(
                event.request_id,
                event.actor,
                event.occurred_at,
                event.reason_category,
                event.reason,
            )
        elif isinstance(event, IdentityAccessApproved) and event.request_id in found:
            found[event.request_id] = replace(
                found[event.request_id],
                status="approved",
                decided_by=event.actor,
                decided_at=event.occurred_at,
                valid_until=event.valid_until,
                uses=event.uses,
            )
        elif isinstance(event, IdentityAccessRefused) and event.request_id in found:
            found[event.request_id] = replace(
                found[event.request_id],
                status="refused",
                decided_by=event.actor,
                decided_at=event.occurred_at,
            )
        elif isinstance(event, IdentityDisclosed) and event.request_id in found:
            read = found[event.request_id]
            found[event.request_id] = replace(read, reads=read.reads + 1)
    return found


def ask(
    lead: IntakeLead,
    request_id: str,
    category: ReasonCategory,
    reason: str,
    actor: Actor,
) -> IdentityAccessRequested:
    if actor.role not in MAY_ASK:
        raise MayNotAsk
    identity_still_held(lead)
    return IdentityAccessRequested(
        lead_id=lead.reported.lead_id,
        request_id=request_id,
        reason_category=category,
        reason=reason,
        actor=actor,
        **lead.reported.caused(),
    )


def approve(
    lead: IntakeLead, request: AccessRequest, custodian: Actor, now: datetime, hours: int
) -> IdentityAccessApproved:
    _decidable(lead, request, custodian)
    return IdentityAccessApproved(
        lead_id=lead.reported.lead_id,
        request_id=request.request_id,
        valid_until=now + timedelta(hours=hours),
        actor=custodian,
        occurred_at=now,
        **lead.reported.caused(),
    )


def refuse(
    lead: IntakeLead, request: AccessRequest, custodian: Actor, reason: str
) -> IdentityAccessRefused:
    _decidable(lead, request, custodian)
    return IdentityAccessRefused(
        lead_id=lead.reported.lead_id,
        request_id=request.request_id,
        reason=reason,
        actor=custodian,
        **lead.reported.caused(),
    )


def read(
    lead: IntakeLead, request: AccessRequest, reader: Actor, now: datetime
) -> IdentityDisclosed:
    """The requester's read of an approved request; anyone else is told there is none."""
    if not request.asked_by(reader):
        raise RequestNotFound
    identity_still_held(lead)
    if request.status != "approved" or request.valid_until is None:
        raise NotReadable(f"the request is {request.status}: only an approved request is read")
    if request.reads >= request.uses:
        raise NotReadable("the approval was used: ask again to read the identity again")
    if now >= request.valid_until:
        raise NotReadable("the approval lapsed: ask again to read the identity")
    return disclose(lead, request.reason, reader, request.request_id, request.reason_category.value)


def _decidable(lead: IntakeLead, request: AccessRequest, custodian: Actor) -> None:
    if custodian.role is not Role.CUSTODIAN:
        raise NotPermitted("only a custodian decides on a request for a reporter's identity")
    if request.asked_by(custodian):
        raise OwnRequest
    identity_still_held(lead)
    if request.status != "pending":
        raise NotDecidable(request.status)
