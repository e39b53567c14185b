"""Who may read a lead: the one rule, for the services that hold something of a lead apart
from the ledger (intake's evidence files and identity requests), stated on the facts the
ledger decides it on. The ledger says the same in SQL (``ledger.projection.queries``
``visible_to`` with ``ledger.application.towns.reader``); a test holds the two together.

A lead filed in the ledger (it has a ledger number, whose prefix names its town):

- office, clerk, auditor, administrator: every lead when they see every town (a county of
  one town; the county's own units; an administrator placed in no unit), else the leads
  numbered under their own town's prefix; placed in no town, none;
- village screener: their village's leads, except those the ledger routed to the
  discipline committee when it filed them;
- police, judicial office, discipline committee: the leads handed to their unit (the unit
  it was filed to, and every unit it was transferred to, as the ledger's ``lead_units``);
- custodian (intake's alone; the ledger has none): as the office, by town. A town's
  custodian decides on and reads for that town's leads; a custodian of the county's own
  units for every town's. A town must not decide who reads another town's reporters.

A lead not filed yet (reported, no ledger number): no unit has been handed it and its
routing to the committee is not decided, so only the desk roles see it (office, clerk,
auditor, administrator, custodian): those of the town it will be filed in (that of its
village, else of the unit of whoever entered it, else the first town, as the ledger's
registrar decides it), and those who see every town.

Everyone else (the public, the system) reads nothing. The rule is pure: the callers
fetch the facts, and answer a lead the principal may not read as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from common.events import Role
from common.organisation import Organisation, Town

#: the roles that read by town: every lead of their town, or of every town
BY_TOWN: Final = frozenset({Role.OFFICE, Role.CLERK, Role.AUDITOR, Role.ADMIN, Role.CUSTODIAN})
#: the roles that read the leads handed to their unit
BY_UNIT: Final = frozenset({Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE})


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """What the rule needs of a lead. ``ledger_number`` None: not filed yet."""

    ledger_number: str | None = None
    #: the lead's village (the ledger's, once filed)
    village: str | None = None
    #: the units it was handed to (filed to, transferred to)
    units: frozenset[str] = field(default_factory=frozenset)
    #: the ledger routed it to the discipline committee when it filed it
    for_committee: bool = False
    #: the unit of the person who entered it (none for the public)
    entered_by: str | None = None


def units_of(joined: str | None) -> frozenset[str]:
    """The units of a comma-separated list (as the read models keep them)."""
    return frozenset(u for u in (joined or "").split(",") if u)


def joined(units: Iterable[str]) -> str:
    return ",".join(units)


def may_read(org: Organisation, role: Role, unit: str | None, lead: LeadFacts) -> bool:
    """Whether a person of ``role`` placed in ``unit`` may read the lead."""
    if role in BY_TOWN:
        if org.sees_every_town(unit, admin=role is Role.ADMIN):
            return True
        town = org.town_of(unit)
        return town is not None and town_of_lead(org, lead) == town.code
    if lead.ledger_number is None or unit is None:
        return False
    if role is Role.SCREENER:
        return lead.village == unit and not lead.for_committee
    if role in BY_UNIT:
        return unit in lead.units
    return False


def town_of_lead(org: Organisation, lead: LeadFacts) -> str | None:
    """The code of the lead's town: that of its ledger number's prefix once filed (None for
    a prefix no town has); before, the town it will be filed in."""
    if lead.ledger_number is not None:
        prefix, dash, rest = lead.ledger_number.partition("-")
        town: Town | None = org.town_with_prefix(prefix) if dash and rest else None
        return town.code if town is not None else None
    return (org.town_of(lead.village) or org.town_of(lead.entered_by) or org.town).code
