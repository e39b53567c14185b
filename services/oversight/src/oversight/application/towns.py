"""Which towns' cases, supervisions, reads, assessments, notices and rectification items a
reader of oversight sees, in a county of several towns.

A town's discipline committee, or a town's auditor, sees their town's alone: another
town's case, lead or notice answers as one that does not exist, and every list, count,
report and export holds only their town's. The county's own units (kind county: its
discipline inspectors, its auditors) and an administrator placed in no unit see every
town's. A county of one town reads as before. A report not filed yet that names no
village is the county's alone until the ledger files it (oversight.projection.scope says
why).

Every read and every command of the application layer turns its principal into the towns
here first, so visibility is decided before anything else is read."""

from __future__ import annotations

from common.auth import Principal
from common.events import Role
from common.organisation import Organisation, Unit
from oversight.projection.scope import EVERY_TOWN, Towns

# A reader placed in no town and not in the county: a scope with no town, so nothing.
NO_TOWN = Towns()


def towns_seen(org: Organisation, principal: Principal) -> Towns:
    """The towns ``principal`` reads oversight's rows of."""
    if org.sees_every_town(principal.unit, admin=principal.role is Role.ADMIN):
        return EVERY_TOWN
    town = org.town_of(principal.unit)
    return Towns.of((town,)) if town is not None else NO_TOWN


def may_name(org: Organisation, towns: Towns, unit: str) -> bool:
    """Whether a reader of ``towns`` may name ``unit`` (a filter, a directive's unit): one
    of their towns' units, or the county's own."""
    return towns.has_unit(unit) or org.is_county_level(unit)


def units_named(org: Organisation, principal: Principal) -> tuple[Unit, ...]:
    """The units the principal may name on a form: their towns' and the county's own."""
    towns = towns_seen(org, principal)
    return tuple(unit for unit in org.units if may_name(org, towns, unit.code))
