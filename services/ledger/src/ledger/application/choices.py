"""What a person may choose on a lead: the commands the rules would take from them now, and
the people a lead may be handed to.

A page offers only the commands the lead's own rules would take from this person in the
lead's present state, asked of the rules themselves (each decision tried with inputs that
pass the checks about inputs), so a page never holds a rule of its own. Whether a given
input passes (a deadline, a reason) is decided when the command is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select

from common.accounts import accounts
from common.auth import Principal
from common.errors import DomainError
from common.events import Actor
from common.organisation import UnitKind
from common.vocabulary import Conclusion
from ledger.application.handling import HANDLING_ROLES
from ledger.application.reading import LeadInFull
from ledger.commands import (
    Accept,
    Archive,
    Assign,
    Command,
    Conclude,
    ExtendDeadline,
    GiveFeedback,
    RecordVerification,
    Reopen,
    Return,
    Transfer,
)
from ledger.domain import lead as rules
from ledger.domain.lead import LedgerLead

if TYPE_CHECKING:
    from ledger.application.context import Ledger

# Stands for a text a person types: the rules ask only that there is one.
_TEXT: Final = "-"
_FAR: Final = timedelta(days=3650)


def _trials(
    lead: LedgerLead, actor: Actor, now: datetime, elsewhere: str | None
) -> dict[type[Any], Callable[[], object]]:
    deadline = (lead.deadline or now) + _FAR
    trials: dict[type[Any], Callable[[], object]] = {
        Accept: lambda: rules.accept(lead, actor),
        Return: lambda: rules.return_transfer(lead, _TEXT, actor),
        Assign: lambda: rules.assign(lead, _TEXT, _TEXT, deadline, _TEXT, actor, now),
        ExtendDeadline: lambda: rules.extend_deadline(lead, deadline, _TEXT, actor, now),
        RecordVerification: lambda: rules.record_verification(lead, _TEXT, (), actor),
        Conclude: lambda: rules.conclude(lead, Conclusion.SUBSTANTIATED, _TEXT, actor),
        GiveFeedback: lambda: rules.give_feedback(lead, _TEXT, "receipt", actor),
        Archive: lambda: rules.archive(lead, actor),
        Reopen: lambda: rules.reopen(lead, _TEXT, actor),
    }
    if elsewhere is not None:
        trials[Transfer] = lambda: rules.transfer(lead, elsewhere, _TEXT, actor)
    return trials


def available(
    ledger: Ledger, read: LeadInFull, principal: Principal, now: datetime
) -> frozenset[type[Command]]:
    """The commands the rules would take from ``principal`` on the lead read, as it stands
    in its own events."""
    if principal.role not in HANDLING_ROLES:
        return frozenset()
    lead = rules.fold(stored.event for stored in read.ledger_history.events)
    elsewhere = next(
        (
            unit.code
            for unit in ledger.runtime.org.units
            if unit.kind is not UnitKind.VILLAGE and unit.code != lead.holder
        ),
        None,
    )
    allowed: set[type[Command]] = set()
    for command, trial in _trials(lead, principal.actor, now, elsewhere).items():
        try:
            trial()
        except DomainError:
            continue
        allowed.add(command)
    return frozenset(allowed)


@dataclass(frozen=True)
class Person:
    """Someone a lead may be handed to: their user name and the name they go by."""

    user: str
    name: str


def _people_of(ledger: Ledger, unit: str) -> list[Person]:
    runtime = ledger.runtime
    with runtime.database.sync_engine.connect() as conn:
        rows = conn.execute(
            select(accounts.c.user, accounts.c.display_name).where(
                (accounts.c.unit == unit)
                & (accounts.c.kind == "person")
                & accounts.c.disabled.is_(False)
            )
        ).all()
    found = {row.user: Person(row.user, row.display_name) for row in rows}
    for record in runtime.directory.people(unit):
        # An account of the same name decides over the file's entry, as it does when assigning.
        if runtime.accounts.account(record.user) is None:
            found.setdefault(record.user, Person(record.user, record.display_name))
    return sorted(found.values(), key=lambda p: p.user)


async def people_of(ledger: Ledger, unit: str) -> list[Person]:
    """The people of ``unit`` a lead may be assigned to, as the assignment checks them: its
    working personal accounts, and the users file's people of the unit."""
    return await asyncio.to_thread(_people_of, ledger, unit)
