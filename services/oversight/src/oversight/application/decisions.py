"""What the committee decides on a case, one handler per command: find the case's lead,
check what only the application can (a handling unit of the township, a gang lead that was
reported, a transfer to the committee), decide with the domain's rules, record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from common.auth import Principal
from common.errors import RuleViolation
from common.events import Actor, Event, utc_now
from common.organisation import UnitKind
from oversight.application.cases import align_guards
from oversight.application.supervision import open_supervision
from oversight.application.towns import may_name, towns_seen
from oversight.commands import (
    Escalate,
    LinkUmbrella,
    ListSupervision,
    RecordAccountability,
    RecordOutcome,
    Supervise,
)
from oversight.domain import cases as rules

if TYPE_CHECKING:
    from oversight.application.context import Oversight


def _as_unit(principal: Principal) -> Actor:
    # What leaves oversight as a directive names the committee, not the officer.
    return Actor(role=principal.role, unit=principal.unit)


async def supervise(ox: Oversight, command: Supervise, principal: Principal) -> Event:
    lead_id = await ox.lead_of(command.case_id, principal)
    return await open_supervision(
        ox, lead_id, lambda lead: rules.supervise(lead, command.reason, principal.actor)
    )


async def list_supervision(ox: Oversight, command: ListSupervision, principal: Principal) -> Event:
    lead_id = await ox.lead_of(command.case_id, principal)
    org = ox.runtime.org
    unit = org.unit(command.unit)
    if (
        unit is None
        or unit.kind is UnitKind.VILLAGE
        or not may_name(org, towns_seen(org, principal), unit.code)
    ):
        raise RuleViolation(
            f"{command.unit!r} is not a handling unit of the township",
            f"{command.unit} 不是本镇的承办单位",
            field="unit",
        )
    now = utc_now()
    return await ox.decide(
        lead_id,
        lambda lead: rules.list_supervision(
            lead, command.unit, command.deadline, command.level, _as_unit(principal), now
        ),
    )


async def escalate(ox: Oversight, command: Escalate, principal: Principal) -> Event:
    lead_id = await ox.lead_of(command.case_id, principal)
    county = ox.county.code
    return await ox.decide(
        lead_id, lambda lead: rules.escalate(lead, county, command.reason, principal.actor)
    )


async def link_umbrella(ox: Oversight, command: LinkUmbrella, principal: Principal) -> Event:
    lead_id = await ox.lead_of(command.case_id, principal)
    gang = command.gang_lead_id
    # Another town's lead is, to a town's committee, one that was never reported.
    if not await ox.sees_lead(gang, principal) or await ox.reported(gang) is None:
        raise RuleViolation(
            f"no lead {gang!r} was ever reported", f"没有编号为 {gang} 的线索", field="gang_lead_id"
        )
    return await ox.decide(lead_id, lambda lead: rules.link_umbrella(lead, gang, principal.actor))


async def record_accountability(
    ox: Oversight, command: RecordAccountability, principal: Principal
) -> Event:
    lead_id = await ox.lead_of(command.case_id, principal)
    event = await ox.decide(
        lead_id,
        lambda lead: rules.hold_accountable(
            lead,
            command.person,
            command.unit,
            command.kind,
            command.form,
            command.reason,
            principal.actor,
        ),
    )
    # The person held to account is kept off the lead while the case is open.
    await align_guards(ox, lead_id)
    return event


async def record_outcome(ox: Oversight, command: RecordOutcome, principal: Principal) -> Event:
    lead_id = await ox.lead_of(command.case_id, principal)
    transfers = await ox.ledger_transfers(lead_id)
    handed = [t.to_unit for t in transfers if t.to_unit in ox.committees]
    discipline = handed[0] if handed else ox.discipline.code
    event = await ox.decide(
        lead_id,
        lambda lead: rules.discipline_outcome(
            lead, command.result, transfers, discipline, _as_unit(principal)
        ),
    )
    # The case is closed: the guards it set are lifted.
    await align_guards(ox, lead_id)
    return event


Handler = Callable[["Oversight", Any, Principal], Awaitable[Event]]
HANDLERS: dict[type[Any], Handler] = {
    Supervise: supervise,
    ListSupervision: list_supervision,
    Escalate: escalate,
    LinkUmbrella: link_umbrella,
    RecordAccountability: record_accountability,
    RecordOutcome: record_outcome,
}
