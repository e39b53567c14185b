"""The rows of oversight's read model a reader may see, in a county of several towns: every
town's, or their own town's alone. Who sees which is decided in oversight.application.towns;
here is only how the tables are narrowed to it.

A lead belongs to the town whose ledger numbered it (its prefix) and, until it is filed,
to the town of the village it was reported in; a unit, a task or a notice to the town of
its unit.

A report not yet filed and naming no village (a public report on the web without one, or
one staff entered without one) belongs to no town here: the county's own readers see it, a
town's see it once the ledger has filed it under their town's number, which it does as it
reads the report (seconds). Nothing oversight keeps of such a report names its town: the
channel does not (the web form is the county's), and the ledger's fallback for it (the
town of whoever entered it, else the county's first town) is a filing default, not a
fact: oversight's row does not keep the entering unit, so a town's committee shown the
lead by that default could be shown another town's report. Until it is filed, the county
office is the one reader it surely belongs to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Column, and_, false, literal, or_, true
from sqlalchemy.sql.elements import ColumnElement

from common.organisation import Town, UnitKind
from oversight.projection.tables import leads


@dataclass(frozen=True)
class Towns:
    """The towns a reader sees: every one (``every``), or those of ``codes`` alone."""

    every: bool = False
    codes: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()
    #: every unit of those towns, villages included
    units: frozenset[str] = frozenset()
    villages: frozenset[str] = frozenset()

    @classmethod
    def of(cls, towns: Iterable[Town]) -> Towns:
        chosen = tuple(towns)
        return cls(
            codes=frozenset(t.code for t in chosen),
            prefixes=frozenset(t.ledger_prefix for t in chosen),
            units=frozenset(u.code for t in chosen for u in t.units),
            villages=frozenset(u.code for t in chosen for u in t.of_kind(UnitKind.VILLAGE)),
        )

    def has_unit(self, unit: str | None) -> bool:
        return self.every or unit in self.units


EVERY_TOWN = Towns(every=True)


def leads_in(towns: Towns) -> ColumnElement[bool]:
    """The leads (rows of :data:`~oversight.projection.tables.leads`) of ``towns``: numbered
    under one of their prefixes, or not filed yet and reported in one of their villages. A
    query joining leads outer finds no lead row false for a town's reader."""
    if towns.every:
        return true()
    numbered = [
        # A town's numbers are one range: "<PREFIX>-" up to "<PREFIX>." ('.' sorts right
        # after '-'), as the ledger reads them.
        and_(leads.c.ledger_number > literal(p + "-"), leads.c.ledger_number < literal(p + "."))
        for p in sorted(towns.prefixes)
    ]
    unfiled = and_(leads.c.ledger_number.is_(None), leads.c.village.in_(sorted(towns.villages)))
    return or_(*numbered, unfiled) if towns.codes else false()


def units_in(towns: Towns, unit: Column[str] | ColumnElement[str]) -> ColumnElement[bool]:
    """Rows whose ``unit`` is one of ``towns``'s units."""
    return true() if towns.every else unit.in_(sorted(towns.units))
