"""Campaigns (自查自纠, 回头看): the office opens one with a checklist and the units asked; each
unit's people answer for it; the office turns the open answers into rectification items on
the 整改台账 (through the task application, source self_check or look_back, the campaign as
their list), samples concluded leads for a look-back and records what their re-review
found, and closes the campaign.

Who may see a campaign is decided first: the office, clerks, auditors and the committee see
their town's campaigns whole (the county's own, every town's); a unit's people only those
that ask their unit, and of them their own unit's part (any other answers as one that does
not exist). Only those who see a campaign whole act on it for the office. Commands decide on the campaign's own events and append with their last
sequence, as commands on a lead do."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from common.auth import Principal
from common.errors import NotFound, NotPermitted, RuleViolation
from common.events import Event, utc_now
from common.events.campaigns import (
    LARGEST_SEED,
    CampaignKind,
    CampaignViewed,
    ItemAnswer,
    TurnedItem,
)
from common.events.catalogue import LedgerExported
from common.events.tasks import TaskSource
from common.eventstore import LeadHistory
from common.subjects import Stream
from ledger.application import tasks
from ledger.application.items import record
from ledger.application.reading import in_one_go, read_current
from ledger.domain import campaign as rules
from ledger.domain.campaign import NO_SUCH_CAMPAIGN, Campaign, Pick, Viewer
from ledger.domain.notice_facts import period_bounds
from ledger.projection import campaign_queries

if TYPE_CHECKING:
    from ledger.application.context import Ledger


KIND: Final = "campaign"
SOURCES: Final = {"self_check": TaskSource.SELF_CHECK, "look_back": TaskSource.LOOK_BACK}


@dataclass(frozen=True)
class CampaignRead:
    """One campaign as its events make it, with them."""

    campaign: Campaign
    history: LeadHistory
    #: whether the reader sees it whole (every unit's answers, the sample, the report)
    whole: bool


@dataclass(frozen=True)
class Rectify:
    """One answer (or one sampled lead) to turn into a rectification item, and who is to
    rectify it by when."""

    pick: Pick
    measures: tuple[str, ...]
    assignee: str
    assignee_name: str
    deadline: datetime


def viewer(ledger: Ledger, principal: Principal) -> Viewer:
    return Viewer(
        principal.role,
        principal.unit,
        tasks.town_of(ledger, principal.unit),
        ledger.runtime.org.is_county_level(principal.unit),
    )


async def read(ledger: Ledger, principal: Principal, campaign_id: str) -> CampaignRead:
    """The campaign from its own events, if the reader may see it; else the 404 of one
    that does not exist."""
    history = await ledger.runtime.store(Stream.LEDGER).read_item(KIND, campaign_id)
    campaign = rules.fold(e.event for e in history.events)
    mine = viewer(ledger, principal)
    if not rules.may_see(campaign, mine):
        raise NotFound(NO_SUCH_CAMPAIGN)
    return CampaignRead(campaign, history, rules.sees_all(campaign, mine))


def whole(found: CampaignRead) -> None:
    """The office's acts and the report are for those who see the campaign whole; a unit's
    people, asked in another town's campaign, see their part and no more."""
    if not found.whole:
        raise NotPermitted("only the office, clerks, auditors and committee of its town may")


async def _load(
    ledger: Ledger, principal: Principal, campaign_id: str, *, office: bool = True
) -> tuple[Campaign, int]:
    found = await read(ledger, principal, campaign_id)
    if office:
        whole(found)
    return found.campaign, found.history.last_sequence


def _known_units(ledger: Ledger, mine: Viewer, units: Sequence[str]) -> None:
    """Units of the organisation, and of the opener's town (the county's office asks any)."""
    for code in units:
        if ledger.runtime.org.unit(code) is None:
            raise RuleViolation(f"unknown unit {code!r}", f"没有这个单位 {code!r}", field="units")
        if not mine.county and tasks.town_of(ledger, code) != mine.town:
            raise RuleViolation(
                f"{code} is not a unit of your town", f"{code} 不是本镇的单位", field="units"
            )


async def open_campaign(
    ledger: Ledger,
    principal: Principal,
    *,
    kind: CampaignKind,
    title: str,
    period: tuple[date, date],
    items: Sequence[str],
    units: Sequence[str],
    deadline: datetime,
) -> Event:
    rules.office_only(principal.actor, "open a campaign")
    mine = viewer(ledger, principal)
    _known_units(ledger, mine, units)
    event = rules.open_campaign(
        uuid.uuid4().hex,
        kind,
        title,
        period,
        items,
        units,
        deadline,
        principal.actor,
        utc_now(),
        None if mine.county else mine.town,
    )
    return await record(ledger, event, 0)


async def answer(
    ledger: Ledger,
    principal: Principal,
    campaign_id: str,
    unit: str,
    answers: Sequence[ItemAnswer],
) -> Event:
    campaign, sequence = await _load(ledger, principal, campaign_id, office=False)
    return await record(ledger, rules.answer(campaign, unit, answers, principal.actor), sequence)


async def turn_into_tasks(
    ledger: Ledger, principal: Principal, campaign_id: str, chosen: Sequence[Rectify]
) -> Event:
    """Each chosen answer opened as a rectification item, then their ids recorded on the
    campaign. The campaign's sequence is read before the items are opened: if someone else
    changed it meanwhile, the record is refused (409) and the items opened stay on the
    rectification ledger under the campaign's list, for the office to see."""
    campaign, sequence = await _load(ledger, principal, campaign_id)
    rules.check_picks(campaign, [c.pick for c in chosen], principal.actor)
    # Every unit and person checked before any item is opened: one wrong name opens none.
    for one in chosen:
        await tasks.checked_responsibility(
            ledger, one.pick.unit, one.assignee, one.assignee_name, one.deadline
        )
    opened: list[TurnedItem] = []
    for one in chosen:
        recorded = await tasks.open_task(
            ledger,
            tasks.OpenTask(
                source=SOURCES[campaign.kind],
                source_ref=campaign.opened.title,
                problem=rules.problem_of(campaign, one.pick),
                measures=one.measures,
                unit=one.pick.unit,
                assignee=one.assignee,
                assignee_name=one.assignee_name,
                deadline=one.deadline,
                list_id=campaign.campaign_id,
            ),
            principal,
        )
        opened.append(
            TurnedItem(
                task_id=recorded.task.task_id,
                unit=one.pick.unit,
                item=one.pick.item,
                lead_id=one.pick.lead_id,
            )
        )
    return await record(ledger, rules.turned(campaign, opened, principal.actor), sequence)


async def sample(
    ledger: Ledger, principal: Principal, campaign_id: str, size: int, seed: int | None
) -> Event:
    """Draws from the leads concluded in the campaign's period (China days), of its town
    (the county's: every town's), with the seed given or a new one; either way the seed is
    recorded."""
    campaign, sequence = await _load(ledger, principal, campaign_id)
    rules.office_only(principal.actor, "sample leads for review")
    start, end = period_bounds(campaign.opened.period_from, campaign.opened.period_to)
    town = campaign.opened.town
    prefix = ledger.runtime.org.town_named(town).ledger_prefix if town is not None else None
    population = await read_current(
        ledger, lambda conn: campaign_queries.concluded_between(conn, start, end, prefix)
    )
    drawn_with = seed if seed is not None else secrets.randbelow(LARGEST_SEED + 1)
    event = rules.sample(campaign, population, size, drawn_with, principal.actor)
    return await record(ledger, event, sequence)


async def record_finding(
    ledger: Ledger,
    principal: Principal,
    campaign_id: str,
    lead_id: str,
    finding: str,
    stands: bool,
) -> Event:
    campaign, sequence = await _load(ledger, principal, campaign_id)
    event = rules.record_finding(campaign, lead_id, finding, stands, principal.actor)
    return await record(ledger, event, sequence)


async def close(ledger: Ledger, principal: Principal, campaign_id: str, note: str) -> Event:
    campaign, sequence = await _load(ledger, principal, campaign_id)
    return await record(ledger, rules.close(campaign, note, principal.actor), sequence)


async def listed(
    ledger: Ledger, principal: Principal, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    mine = viewer(ledger, principal)
    return await in_one_go(
        ledger, lambda conn: campaign_queries.listed(conn, mine, limit=limit, offset=offset)
    )


@dataclass(frozen=True)
class Outcomes:
    """What became of the campaign's rectification items (as the 整改台账 has them, by id),
    and its sampled leads' ledger numbers (by id)."""

    states: dict[str, dict[str, Any]]
    numbers: dict[str, str]


async def outcomes(ledger: Ledger, campaign: Campaign) -> Outcomes:
    task_ids = [t.task_id for t in campaign.turned]
    lead_ids = list(campaign.sample.lead_ids) if campaign.sample else []

    def read(conn: Any) -> Outcomes:
        return Outcomes(
            campaign_queries.task_states(conn, task_ids),
            campaign_queries.ledger_numbers(conn, lead_ids),
        )

    return await in_one_go(ledger, read)


async def viewed(
    ledger: Ledger,
    principal: Principal,
    campaign: Campaign,
    part: Literal["campaign", "report", "print"],
) -> None:
    """The campaign (its answers), its report or its print page was shown to the reader:
    recorded as reads of an item are (TaskViewed), once it is known the reader may."""
    await ledger.runtime.record_access(
        CampaignViewed(
            campaign_id=campaign.campaign_id, service="ledger", part=part, actor=principal.actor
        )
    )


async def exported(ledger: Ledger, principal: Principal, campaign: Campaign, rows: int) -> None:
    """The campaign report was downloaded: recorded as exports of the ledger are."""
    await ledger.runtime.record_access(
        LedgerExported(
            service="ledger",
            format="xlsx",
            filters={"ledger": "campaign", "campaign": campaign.campaign_id},
            row_count=rows,
            actor=principal.actor,
        )
    )
