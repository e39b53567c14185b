"""What a dossier (专题材料) of a period holds, gathered as far as the principal may see it:
the leads filed in the period, the rectification items open at some time in it, the
campaigns whose period meets it (seen whole), the notices issued in it and the work traces:
the evidence named on progress reports and campaign answers made in it, and the staff files
(ledger.application.files) attached in it to the leads and items the principal may see,
which the dossier encloses.

Each part is read through the same queries and application calls as its own export or
page, with the principal's town scoping decided first: a town's office, clerks and
auditors get their town's, the county's own every town's. The dossier is recorded once as
an export (LedgerExported, format zip, with the period); the parts are not recorded again,
except the staff files: each one enclosed is a read of protected content, recorded as its
download is (LeadViewed for a lead's, TaskFileRead for an item's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final

from common.auth import Principal
from common.errors import NotFound, RuleViolation
from common.events import Event, utc_now
from common.events.catalogue import LeadViewed, LedgerExported
from common.events.files import LeadFileAttached, TaskFileAttached, TaskFileRead
from common.events.tasks import TaskProgressReported
from common.organisation import Town
from common.subjects import Stream
from ledger.application import campaigns, notices, tasks, towns
from ledger.application.files import LEAD, TASK, StaffFiles
from ledger.application.reading import in_one_go
from ledger.domain.campaign import Campaign
from ledger.domain.notice_facts import period_bounds
from ledger.domain.periods import LONGEST_PERIOD_DAYS, check_period
from ledger.projection import campaign_queries, queries, task_queries
from ledger.projection.queries import Filters, TownReader
from ledger.projection.task_queries import TaskFilters

if TYPE_CHECKING:
    from ledger.application.context import Ledger

# Pages of campaigns and notices read: a township opens a few a year.
_PAGE: Final = 200
_MOST_PAGES: Final = 10


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """From the first day's midnight to the next day's after the last, China time."""
        return period_bounds(self.first, self.last)

    def holds(self, moment: datetime | None) -> bool:
        start, end = self.bounds
        return moment is not None and start <= moment < end

    def as_dict(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def period(first: date, last: date) -> Period:
    check_period(
        first,
        last,
        backwards=(
            "the period ends before it begins ('to' is before 'from')",
            "截止日期早于起始日期",
        ),
        too_long=(
            f"a dossier covers at most {LONGEST_PERIOD_DAYS} days",
            f"专题材料最长涵盖 {LONGEST_PERIOD_DAYS} 天",
        ),
    )
    # The first and the last days of the calendar have no midnight in UTC on one side or
    # the other: refused by name rather than failing in the database's hands.
    for name, day in (("from", first), ("to", last)):
        try:
            period_bounds(day, day)[0].astimezone(UTC)
            period_bounds(day, day)[1].astimezone(UTC)
        except OverflowError:
            raise RuleViolation(
                f"{name}: a day between 0001-01-02 and 9999-12-30",
                "日期超出范围（0001-01-02 至 9999-12-30）",
                field=name,
            ) from None
    return Period(first, last)


@dataclass(frozen=True)
class Trace:
    """One piece of evidence named on a progress report or a campaign answer."""

    source: str  # "task" or "campaign"
    ref: str
    unit: str
    at: datetime
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class StoredTrace:
    """One staff file attached in the period, to be enclosed in the dossier."""

    kind: str  # "lead" or "task"
    owner_id: str
    #: the lead's ledger number, or the item's id
    owner_ref: str
    file_id: str
    title: str
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    unit: str
    at: datetime


@dataclass(frozen=True)
class Contents:
    period: Period
    towns: tuple[Town, ...]
    leads: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    #: each campaign seen whole, with its report (ledger.campaign_report.Report)
    campaigns: list[tuple[Campaign, Any]]
    notices: list[notices.NoticeRead]
    traces: list[Trace]
    #: the staff files the dossier encloses, oldest first
    files: list[StoredTrace] = field(default_factory=list)


class DossierTooLarge(Exception):
    """The period's dossier would be larger than the ledger's limit (dossier_max_bytes)."""

    def __init__(self, limit: int, size: int) -> None:
        super().__init__(f"{size} bytes, more than {limit}")
        self.limit = limit
        self.size = size


def check_size(contents: Contents, limit: int) -> None:
    """Refused before anything is written when the staff files alone pass the limit (the
    writer counts the rest as it goes)."""
    size = sum(f.size for f in contents.files)
    if size > limit:
        raise DossierTooLarge(limit, size)


def towns_of(ledger: Ledger, principal: Principal) -> tuple[Town, ...]:
    """The towns whose material the principal's dossier holds."""
    org = ledger.runtime.org
    reader = towns.reader(org, principal)
    if isinstance(reader, TownReader):
        town = org.town_with_prefix(reader.ledger_prefix)
        return (town,) if town is not None else ()
    return org.towns


#: a campaign's report as its own download makes it; None for one not seen whole
Reporter = Callable[[str], Awaitable[tuple[Campaign, Any] | None]]


async def gather(
    ledger: Ledger,
    principal: Principal,
    chosen: Period,
    report: Reporter,
    files: StaffFiles | None = None,
) -> Contents:
    org, now = ledger.runtime.org, utc_now()
    start, end = chosen.bounds
    lead_reader = towns.reader(org, principal)
    task_reader = tasks.reader(ledger, principal)
    viewer = campaigns.viewer(ledger, principal)

    def read(conn: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        filed = Filters(registered_from=start, registered_to=end)
        leads = queries.rows_of(conn, lead_reader, filed, now)
        items = [
            row
            for row in task_queries.exported(conn, task_reader, TaskFilters(), now)
            if row["opened_at"] < end and (row["closed_at"] is None or row["closed_at"] >= start)
        ]
        met = []
        for page in range(_MOST_PAGES):
            rows = campaign_queries.listed(conn, viewer, limit=_PAGE, offset=page * _PAGE)
            met += [
                row["campaign_id"]
                for row in rows
                if row["period_from"] <= chosen.last and row["period_to"] >= chosen.first
            ]
            if len(rows) < _PAGE:
                break
        return leads, items, met

    leads, items, met = await in_one_go(ledger, read)
    reported = [found for found in [await report(c) for c in met] if found is not None]
    issued = await _issued(ledger, principal, chosen)
    traces = await _task_traces(ledger, items, chosen) + _campaign_traces(reported, chosen)
    stored = await _stored_traces(ledger, principal, chosen, files) if files is not None else []
    return Contents(
        chosen,
        towns_of(ledger, principal),
        leads,
        items,
        reported,
        issued,
        sorted(traces, key=lambda t: (t.at, t.ref, t.name)),
        stored,
    )


async def _stored_traces(
    ledger: Ledger, principal: Principal, chosen: Period, files: StaffFiles
) -> list[StoredTrace]:
    """The staff files attached in the period to the leads and items the principal may
    see. Read from the log (every file's event, then the period's), since no read model
    holds files: a town's staff files number in the thousands at most."""
    store = ledger.runtime.store(Stream.LEDGER)
    lead_events = [
        e.event
        for e in (await store.read_subject("ledger.lead.*.LeadFileAttached")).events
        if isinstance(e.event, LeadFileAttached) and chosen.holds(e.event.occurred_at)
    ]
    task_events = [
        e.event
        for e in (await store.read_subject("ledger.task.*.TaskFileAttached")).events
        if isinstance(e.event, TaskFileAttached) and chosen.holds(e.event.occurred_at)
    ]
    reader = towns.reader(ledger.runtime.org, principal)
    lead_ids = sorted({e.lead_id for e in lead_events})

    def numbers(conn: Any) -> dict[str, str]:
        rows = {lead_id: queries.one(conn, reader, lead_id) for lead_id in lead_ids}
        return {k: str(row["ledger_number"]) for k, row in rows.items() if row is not None}

    seen_leads = await in_one_go(ledger, numbers) if lead_ids else {}
    seen_tasks: set[str] = set()
    for task_id in sorted({e.task_id for e in task_events}):
        try:
            await files.task(task_id, principal)
        except NotFound:
            continue
        seen_tasks.add(task_id)
    found = [
        _stored(LEAD, e.lead_id, seen_leads[e.lead_id], e)
        for e in lead_events
        if e.lead_id in seen_leads
    ] + [_stored(TASK, e.task_id, e.task_id, e) for e in task_events if e.task_id in seen_tasks]
    return sorted(found, key=lambda t: (t.at, t.owner_ref, t.file_id))


def _stored(
    kind: str, owner_id: str, ref: str, event: LeadFileAttached | TaskFileAttached
) -> StoredTrace:
    return StoredTrace(
        kind=kind,
        owner_id=owner_id,
        owner_ref=ref,
        file_id=event.file_id,
        title=event.title,
        media_type=event.media_type,
        size=event.size,
        sha256=event.sha256,
        uploaded_by=event.actor.user or "",
        unit=event.actor.unit or "",
        at=event.occurred_at,
    )


async def files_read(ledger: Ledger, principal: Principal, stored: list[StoredTrace]) -> None:
    """Each staff file the dossier encloses, recorded as read before it is read."""
    for trace in stored:
        read: Event = (
            LeadViewed(
                lead_id=trace.owner_id,
                service="ledger",
                purpose=f"dossier: staff file {trace.file_id}",
                actor=principal.actor,
            )
            if trace.kind == LEAD
            else TaskFileRead(
                task_id=trace.owner_id,
                file_id=trace.file_id,
                service="ledger",
                purpose="dossier",
                actor=principal.actor,
            )
        )
        await ledger.runtime.record_access(read)


async def _issued(ledger: Ledger, principal: Principal, chosen: Period) -> list[notices.NoticeRead]:
    """The notices issued in the period, each read from its events, oldest first."""
    rows: list[dict[str, Any]] = []
    for page in range(_MOST_PAGES):
        listed = await notices.listed(
            ledger,
            principal,
            status="issued",
            unit=None,
            kind=None,
            limit=_PAGE,
            offset=page * _PAGE,
        )
        rows += [row for row in listed if chosen.holds(row["issued_at"])]
        if len(listed) < _PAGE:
            break
    rows.sort(key=lambda row: (row["issued_at"], row["notice_id"]))
    return [await notices.read(ledger, principal, row["notice_id"]) for row in rows]


async def _task_traces(ledger: Ledger, items: list[dict[str, Any]], chosen: Period) -> list[Trace]:
    store = ledger.runtime.store(Stream.LEDGER)
    found = []
    for row in items:
        if not row["progress_count"]:
            continue
        history = await store.read_item(tasks.KIND, row["task_id"])
        for stored in history.events:
            event = stored.event
            if isinstance(event, TaskProgressReported) and chosen.holds(event.occurred_at):
                found += [
                    Trace("task", row["task_id"], row["unit"], event.occurred_at, *_named(e))
                    for e in event.evidence
                ]
    return found


def _campaign_traces(reported: list[tuple[Campaign, Any]], chosen: Period) -> list[Trace]:
    return [
        Trace("campaign", campaign.campaign_id, unit, given.occurred_at, *_named(e))
        for campaign, _ in reported
        for unit, given in campaign.answers.items()
        if chosen.holds(given.occurred_at)
        for answer in given.answers
        for e in answer.evidence
    ]


def _named(evidence: Any) -> tuple[str, int, str]:
    return evidence.name, evidence.size, evidence.sha256


async def exported(ledger: Ledger, principal: Principal, chosen: Period, entries: int) -> None:
    await ledger.runtime.record_access(
        LedgerExported(
            service="ledger",
            format="zip",
            filters={"ledger": "dossier", **chosen.as_dict()},
            row_count=entries,
            actor=principal.actor,
        )
    )
