"""Who sees which town's leads, in a county of several towns.

The people of a town (its office, clerks, auditors and administrators placed in one of
its units) see that town's leads alone: they read the ledger as a
:class:`~ledger.projection.queries.TownReader`, and another town's lead answers as one
that does not exist. The county's own units (kind county: the county office, its
auditors) see every town's. Police, judicial offices, committees and village screeners
already see only leads of their own unit or village. A county of one town reads as before.

Every read of the application layer turns its principal into the reader here first, so
visibility is decided before anything else is read."""

from __future__ import annotations

from sqlalchemy import Connection

from common.auth import Principal
from common.errors import RuleViolation
from common.events import Role
from common.events.catalogue import LeadRegistered
from common.organisation import County, Organisation, Town
from ledger.domain.numbering import prefix_of
from ledger.projection import queries, town_queries
from ledger.projection.queries import WHOLE_LEDGER, TownReader

# Matches no ledger number (they begin with letters): a reader placed in no town and not
# in the county sees nothing.
_NO_TOWN = "-"


def reader(org: Organisation, principal: Principal) -> Principal:
    """The principal as the ledger reads leads for them: scoped to their town, or not."""
    if (
        isinstance(principal, TownReader)
        or principal.role not in WHOLE_LEDGER
        or len(org.towns) == 1
        or org.is_county_level(principal.unit)
        or (principal.unit is None and principal.role is Role.ADMIN)
    ):
        return principal
    town = org.town_of(principal.unit)
    return TownReader(
        user=principal.user,
        display_name=principal.display_name,
        role=principal.role,
        unit=principal.unit,
        ledger_prefix=town.ledger_prefix if town is not None else _NO_TOWN,
    )


def statistics(
    conn: Connection, org: Organisation, principal: Principal
) -> dict[str, dict[str, int]]:
    """The counts the principal may see: a town's reader their town's; a reader who sees
    every town the whole ledger's, rolled up, with each town's number of leads (``town``)."""
    if isinstance(principal, TownReader):
        return town_queries.statistics_of_town(conn, principal.ledger_prefix)
    counts = queries.statistics(conn, principal)
    if len(org.towns) > 1 and queries.sees_all(principal):
        counts["town"] = town_queries.leads_by_town(conn, prefixes(org))
    return counts


def statistics_by_town(
    conn: Connection, org: Organisation, principal: Principal
) -> dict[str, dict[str, dict[str, int]]]:
    """Each town's counts, for a reader who sees every town; a town's reader gets theirs."""
    if isinstance(principal, TownReader):
        town = org.town_with_prefix(principal.ledger_prefix)
        own = town_queries.statistics_of_town(conn, principal.ledger_prefix)
        return {town.code: own} if town is not None else {}
    if not queries.sees_all(principal):
        return {}
    return {
        town.code: town_queries.statistics_of_town(conn, town.ledger_prefix) for town in org.towns
    }


def prefixes(org: Organisation) -> dict[str, str]:
    return {town.code: town.ledger_prefix for town in org.towns}


def own_prefixes(org: Organisation, principal: Principal) -> tuple[str, ...]:
    """The prefixes of the ledger numbers the principal works with: their town's, or every
    town's for the county's own units and anyone placed in no town."""
    town = org.town_of(principal.unit)
    return (town.ledger_prefix,) if town is not None else tuple(prefixes(org).values())


def town_of_lead(org: Organisation, registered: LeadRegistered) -> Town:
    """The town whose ledger numbered a lead (one filed before towns were recorded: the
    town of its prefix, else the first)."""
    by_code = {town.code: town for town in org.towns}
    prefix = prefix_of(registered.ledger_number) or ""
    return by_code.get(registered.town) or org.town_with_prefix(prefix) or org.town


def check_transfer(org: Organisation, registered: LeadRegistered, to_unit: str) -> None:
    """A lead stays in its town: it is handed to the town's units or to the county's,
    never to another town's (whose people would then see it)."""
    target = org.town_of(to_unit)
    town = town_of_lead(org, registered)
    if target is not None and target != town:
        raise RuleViolation(
            f"{to_unit} belongs to {target.name_en}; the lead is {town.name_en}'s: hand it to"
            " a unit of its own town, or to the county",
            f"{to_unit} 属于{target.name}，该线索属于{town.name}：只能移交本乡镇单位或县级单位",
            field="to_unit",
        )


def whose_ledger(org: Organisation, principal: Principal) -> Town | County:
    """Whose ledger the principal reads, to name an export after: their town's, or the
    county's (the first town's, in a county of one town or one with no name)."""
    if len(org.towns) > 1:
        scoped = reader(org, principal)
        if isinstance(scoped, TownReader):
            return org.town_with_prefix(scoped.ledger_prefix) or org.town
        if org.county is not None:
            return org.county
    return org.town
