"""Supervision (督办) and the notice that goes with it.

Every supervision, opened by a member on a case or by an automatic rule on any lead, is
told to the unit holding the lead as a directive (SupervisionNoticed on DIRECTIVES): the
rule and the reason, nothing of the case. The supervision is the committee's decision and
is recorded first; the notice follows it in the same call. If the notice cannot be
appended then (the log unavailable, the lead changing, no unit holding the lead yet), the
supervision stands and the notice is owed: each round of the automatic rules sends every
notice still owed. A notice's id is derived from its supervision's and the decision reads
the directives already sent, so a retried append, a redelivery or a second round never
tells a unit twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

import structlog
from sqlalchemy.exc import SQLAlchemyError

from common.application import for_each_due, retry_on_conflict
from common.events import Actor, Role, utc_now
from common.events.catalogue import SupervisionNoticed, SupervisionOpened
from common.eventstore import ConcurrencyConflict, LogUnavailable
from oversight.domain import cases as rules
from oversight.domain.cases import OversightLead
from oversight.projection import queries

if TYPE_CHECKING:
    from oversight.application.context import Oversight

log = structlog.get_logger(__name__)

RULES = Actor(role=Role.SYSTEM, user="oversight-rules")

S = TypeVar("S", bound=SupervisionOpened | None)


async def open_supervision(ox: Oversight, lead_id: str, decide: Callable[[OversightLead], S]) -> S:
    """Records the supervision ``decide`` returns (None records nothing), then tells the
    unit holding the lead."""
    supervision = await ox.decide(lead_id, decide)
    if isinstance(supervision, SupervisionOpened):
        await tell_holder(ox, supervision)
    return supervision


async def tell_holder(ox: Oversight, supervision: SupervisionOpened) -> SupervisionNoticed | None:
    """The notice of ``supervision``, sent now if it can be; else it stays owed."""
    try:
        return await retry_on_conflict(
            lambda: _notice(ox, supervision.lead_id, supervision.event_id)
        )
    except (ConcurrencyConflict, LogUnavailable, SQLAlchemyError):
        # The supervision is recorded and stands: the person who decided it must not
        # decide it again. The rules round sends the notice.
        log.warning(
            "supervision_notice_owed",
            lead_id=supervision.lead_id,
            supervision_id=supervision.event_id,
            exc_info=True,
        )
        return None


async def _notice(ox: Oversight, lead_id: str, supervision_id: str) -> SupervisionNoticed | None:
    holder = await ox.holder(lead_id)
    committee = ox.committee_for(holder)
    return await ox.decide(
        lead_id, lambda lead: rules.notice(lead, supervision_id, holder, committee)
    )


async def apply_rules(ox: Oversight) -> int:
    """A round of the automatic rules: opens supervision by itself, once per lead and rule
    (overdue by X days, N reports on the same matter, or open longer than the limit), then
    sends every notice still owed. Returns how many supervisions it opened."""
    settings = ox.settings
    async with ox.runtime.database.async_engine.connect() as conn:
        due = await queries.rule_candidates(
            conn,
            utc_now(),
            overdue=timedelta(days=settings.overdue_days),
            same_matter=settings.same_matter_reports,
            open_for=timedelta(days=settings.open_days),
        )

    async def fire(candidate: tuple[str, str, str]) -> bool:
        lead_id, rule, reason = candidate

        def decide(lead: OversightLead) -> SupervisionOpened | None:
            if rule in lead.rules_fired:
                return None
            return rules.supervise(lead, reason, RULES, rule=rule)

        return await open_supervision(ox, lead_id, decide) is not None

    opened = await for_each_due(due, fire, job="supervision-rules")
    await send_owed_notices(ox)
    return opened


async def send_owed_notices(ox: Oversight) -> int:
    """Tells the units holding open leads of every supervision they were not told of yet
    (a notice that failed, or a lead that had no unit when it was supervised). Returns how
    many notices it sent; when the log does not take one, the rest wait for the next round."""
    async with ox.runtime.database.async_engine.connect() as conn:
        owed = await queries.notices_owed(conn, ox.committees)
    sent = 0

    async def send(item: tuple[str, str]) -> bool:
        nonlocal sent
        lead_id, supervision_id = item
        told = await _notice(ox, lead_id, supervision_id) is not None
        sent += told
        return told

    try:
        await for_each_due(owed, send, job="supervision-notices")
    except LogUnavailable:
        log.warning("supervision_notices_owed", sent=sent, owed=len(owed) - sent, exc_info=True)
    if sent:
        log.info("supervision_notices_sent", count=sent)
    return sent
