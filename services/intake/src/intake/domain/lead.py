"""A lead as intake knows it, folded from its own events, and the decisions made on it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from common.errors import Gone, NotFound, RuleViolation
from common.events import Actor, Event
from common.events.catalogue import (
    Attachment,
    IdentityDisclosed,
    IdentityShredded,
    LeadReported,
    LeadSupplemented,
    ReporterKind,
    ReporterMessagePosted,
)

#: what is said of an identity whose key is gone, however it went
IDENTITY_DESTROYED = "the reporter's identity was destroyed and cannot be recovered"


class LeadNotFound(NotFound):
    """No lead with this id was reported here."""

    def __init__(self) -> None:
        super().__init__("no such lead")


class NotNamed(RuleViolation):
    """The report was anonymous: there is no identity to disclose or shred."""

    def __init__(self) -> None:
        super().__init__(
            "the report is anonymous: there is no identity",
            "该线索为匿名举报，没有举报人身份信息",
            field="lead_id",
        )


class IdentityAlreadyShredded(Gone):
    """The identity was destroyed; nothing can disclose it again."""

    def __init__(self) -> None:
        super().__init__(IDENTITY_DESTROYED)


@dataclass(frozen=True)
class IntakeLead:
    reported: LeadReported
    shredded: bool = False

    @property
    def named(self) -> bool:
        return self.reported.reporter.kind is ReporterKind.NAMED

    @property
    def ciphertext(self) -> str | None:
        return self.reported.reporter.identity_ciphertext


def fold(events: Iterable[Event]) -> IntakeLead:
    lead: IntakeLead | None = None
    for event in events:
        if isinstance(event, LeadReported):
            lead = IntakeLead(reported=event)
        elif isinstance(event, IdentityShredded) and lead is not None:
            lead = IntakeLead(reported=lead.reported, shredded=True)
    if lead is None:
        raise LeadNotFound
    return lead


def supplement(
    lead: IntakeLead, text: str, attachments: tuple[Attachment, ...], actor: Actor
) -> LeadSupplemented:
    return LeadSupplemented(
        lead_id=lead.reported.lead_id,
        text=text,
        attachments=attachments,
        actor=actor,
        **lead.reported.caused(),
    )


def post_message(lead: IntakeLead, text: str, actor: Actor) -> ReporterMessagePosted:
    return ReporterMessagePosted(
        lead_id=lead.reported.lead_id, text=text, actor=actor, **lead.reported.caused()
    )


def disclose(
    lead: IntakeLead,
    reason: str,
    actor: Actor,
    request_id: str | None = None,
    reason_category: str | None = None,
) -> IdentityDisclosed:
    identity_still_held(lead)
    return IdentityDisclosed(
        lead_id=lead.reported.lead_id,
        reason=reason,
        actor=actor,
        request_id=request_id,
        reason_category=reason_category,
        **lead.reported.caused(),
    )


def shred(lead: IntakeLead, reason: str, actor: Actor) -> IdentityShredded:
    identity_still_held(lead)
    return IdentityShredded(
        lead_id=lead.reported.lead_id, reason=reason, actor=actor, **lead.reported.caused()
    )


def identity_still_held(lead: IntakeLead) -> None:
    if not lead.named:
        raise NotNamed
    if lead.shredded:
        raise IdentityAlreadyShredded
