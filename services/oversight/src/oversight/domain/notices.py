"""The committee's accountability on a notice (通报批评并追究责任): attached to a notice of
criticism the office issued, against a person of the unit it criticises. The notice is
taken as the ledger issued it (its NoticeIssued, read from the LEDGER stream); the
decision is the committee's own, on its private stream."""

from __future__ import annotations

from typing import Final, Literal

from common.errors import NotFound, NotPermitted, RuleViolation
from common.events import Actor, Role
from common.events.notices import NoticeAccountabilityRecorded, NoticeIssued

NO_SUCH_NOTICE: Final = "no such issued notice"
DECIDERS: Final = frozenset({Role.DISCIPLINE, Role.ADMIN})


def hold_accountable(
    issued: NoticeIssued | None,
    person: str,
    kind: Literal["public_criticism", "accountability"],
    form: int,
    reason: str,
    actor: Actor,
) -> NoticeAccountabilityRecorded:
    if actor.role not in DECIDERS:
        raise NotPermitted("only the discipline committee records accountability")
    if issued is None:
        # A draft is the office's business: the committee acts on what was issued.
        raise NotFound(NO_SUCH_NOTICE)
    if issued.kind != "criticism":
        raise RuleViolation(
            "accountability is attached to a notice of criticism, not of praise",
            "只能对通报批评追究责任，通报表扬不适用",
        )
    return NoticeAccountabilityRecorded(
        notice_id=issued.notice_id,
        person=person,
        unit=issued.unit,
        kind=kind,
        form=form,
        reason=reason,
        actor=actor,
        **issued.caused(),
    )
