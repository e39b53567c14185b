"""Oversight (纪委监督) against a real JetStream server and real databases: cases that open by
themselves (umbrella cases first), what leaves the committee for the handling units (two
directives, nothing else), the automatic supervision rules (each once, also after a
restart), the responsibility trace, the access log and the leak-risk report for a scripted
history, the monthly assessment against numbers worked out by hand, and who may use the
committee's API.

Leads come in as in production, as LeadReported on INTAKE. Their ledger history is either
made by the running ledger or scripted on LEDGER with explicit times. Oversight's read model
follows its streams a little later, so the tests wait until its consumers have drained (or
for a condition) instead of sleeping."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from openpyxl import load_workbook
from sqlalchemy import Engine, inspect, select

from common.events import Actor, Event, Role, decode, event_type_of, utc_now
from common.events.catalogue import (
    DeadlineExtended,
    DeadlineMissed,
    DuplicateSuspected,
    FeedbackGiven,
    LeadConcluded,
    LeadRegistered,
    LeadReported,
    LeadTransferred,
    LeadViewed,
    ReporterRef,
    ResponsibilityAssigned,
    SupervisionOpened,
    TransferAccepted,
)
from common.events.envelope import new_event_id
from common.eventstore import EventStore
from common.streams import declare_streams
from common.subjects import Service, Stream, durable_name
from common.vocabulary import Category, Channel, Conclusion, Flag
from ledger.bootstrap import create_app as create_ledger
from ledger.projection.tables import leads as ledger_leads
from ledger.projection.tables import metadata as ledger_metadata
from ledger.settings import LedgerSettings
from oversight.bootstrap import create_app as create_oversight
from oversight.domain.cases import case_id_for, open_case
from oversight.handlers import Oversight
from oversight.projection import PROJECTION
from oversight.projection.tables import metadata as oversight_metadata
from oversight.settings import OversightSettings
from tests.conftest import DatabaseTarget, NatsTarget, _fresh_postgres_database, wait_until
from tests.support.apps import serving, token, write_staff
from tests.support.factories import new_lead_id

pytestmark = pytest.mark.integration

# The township's clock: the assessment's months turn in China time.
CHINA = timezone(timedelta(hours=8))
OFFICE = "shd-office"
POLICE = "shd-police"
JUDICIAL = "shd-judicial"
DISCIPLINE = "shd-discipline"

CLERK_ACTOR = Actor(role=Role.CLERK, unit=OFFICE, user="clerk")
REGISTRAR = Actor(role=Role.SYSTEM, unit=OFFICE, user="registrar")
OFFICE_ACTOR = Actor(role=Role.OFFICE, unit=OFFICE, user="office")
POLICE_ACTOR = Actor(role=Role.POLICE, unit=POLICE, user="police")
JUDICIAL_ACTOR = Actor(role=Role.JUDICIAL, unit=JUDICIAL, user="judicial")
DEADLINE_WATCH = Actor(role=Role.SYSTEM, unit=OFFICE, user="deadline-watch")

# What every event carries; anything else in a stored event is the event's own content.
ENVELOPE = frozenset(Event.model_fields)

# The durable consumers behind oversight: two reactors opening cases, one projection
# runner per stream it reads.
CASE_REACTORS = (
    (Stream.INTAKE, durable_name(Service.OVERSIGHT, "cases-from-reports")),
    (Stream.LEDGER, durable_name(Service.OVERSIGHT, "cases-from-transfers")),
)
OVERSIGHT_PROJECTION = tuple(
    (stream, durable_name(Service.OVERSIGHT, f"{PROJECTION.name}-{stream.value}"))
    for stream in (Stream.INTAKE, Stream.LEDGER, Stream.OVERSIGHT, Stream.DIRECTIVES, Stream.AUDIT)
)
OVERSIGHT_CONSUMERS = (*CASE_REACTORS, *OVERSIGHT_PROJECTION)
LEDGER_REGISTRAR = ((Stream.INTAKE, durable_name(Service.LEDGER, "registrar")),)


# --- the services under test ---------------------------------------------------------------


@dataclass(frozen=True)
class Running:
    app: FastAPI
    http: httpx.AsyncClient

    @property
    def oversight(self) -> Oversight:
        oversight: Oversight = self.app.state.oversight
        return oversight


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[Running]:
    async with serving(app) as http:
        yield Running(app, http)


def oversight_settings(
    nats_target: NatsTarget, database_url: str, tmp_path: Path, **changes: Any
) -> OversightSettings:
    chosen: dict[str, Any] = {
        "rules_check_seconds": 0.2,
        "overdue_days": 0,
        "same_matter_reports": 2,
        **changes,
    }
    return OversightSettings(
        nats_url=nats_target.url,
        database_url=database_url,
        users_file=write_staff(tmp_path / "users.toml"),
        **chosen,
    )


def ledger_settings(nats_target: NatsTarget, database_url: str, tmp_path: Path) -> LedgerSettings:
    # A town that routes only flagged leads to the committee (routing is configuration):
    # an unflagged duty-crime lead stays with the office, and an outcome on it is refused.
    return LedgerSettings(
        nats_url=nats_target.url,
        database_url=database_url,
        users_file=write_staff(tmp_path / "users.toml"),
        discipline_categories=frozenset(),
    )


@pytest.fixture
async def streams(js: JetStreamContext) -> JetStreamContext:
    """Every stream declared up front, as the administrator does."""
    await declare_streams(js, list(Stream))
    return js


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'oversight.db'}"


@pytest.fixture
def ledger_database_url(
    database_url: str, postgres_target: DatabaseTarget, tmp_path: Path
) -> Iterator[str]:
    """The ledger's own database, of the same kind as oversight's: never the same one."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    assert postgres_target.url is not None
    yield from _fresh_postgres_database(postgres_target.url)


@pytest.fixture
async def oversight(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[Running]:
    """Oversight on SQLite."""
    async with running(
        create_oversight(oversight_settings(nats_target, sqlite_url, tmp_path))
    ) as s:
        yield s


@pytest.fixture
async def oversight_on_each_database(
    streams: JetStreamContext, nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> AsyncIterator[Running]:
    """Oversight on SQLite, then on PostgreSQL."""
    settings = oversight_settings(nats_target, database_url, tmp_path)
    async with running(create_oversight(settings)) as service:
        yield service


@pytest.fixture
async def ledger(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[Running]:
    """The ledger on its own SQLite file: it files reported leads and routes flagged ones."""
    settings = ledger_settings(nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    async with running(create_ledger(settings)) as service:
        yield service


@pytest.fixture
async def ledger_on_each_database(
    streams: JetStreamContext, nats_target: NatsTarget, ledger_database_url: str, tmp_path: Path
) -> AsyncIterator[Running]:
    settings = ledger_settings(nats_target, ledger_database_url, tmp_path)
    async with running(create_ledger(settings)) as service:
        yield service


# --- feeding the services ------------------------------------------------------------------


def intake_log(js: JetStreamContext) -> EventStore:
    return EventStore(js, Stream.INTAKE, "intake")


def ledger_log(js: JetStreamContext) -> EventStore:
    return EventStore(js, Stream.LEDGER, "ledger")


def ledger_audit(js: JetStreamContext) -> EventStore:
    return EventStore(js, Stream.AUDIT, "audit.ledger")


async def report(
    js: JetStreamContext,
    *,
    flags: tuple[Flag, ...] = (),
    category: Category = Category.VILLAGE_TYRANT,
    summary: str = "村霸强占集体土地，威胁村民",
    village: str = "shd-v03",
    at: datetime | None = None,
) -> LeadReported:
    """A lead reported on the hotline, as intake records it."""
    reported = LeadReported(
        lead_id=new_lead_id(),
        channel=Channel.HOTLINE,
        category=category,
        summary=summary,
        village=village,
        flags=flags,
        reporter=ReporterRef(kind="anonymous"),
        actor=CLERK_ACTOR,
        **({"occurred_at": at} if at else {}),
    )
    await intake_log(js).append(reported)
    return reported


def registered(lead: LeadReported, at: datetime, number: int = 1) -> LeadRegistered:
    """The registrar's filing of ``lead``, at a moment the test chooses."""
    return LeadRegistered(
        lead_id=lead.lead_id,
        ledger_number=f"SHD-{at.year}-{number:06d}",
        unit=OFFICE,
        reported_at=lead.occurred_at,
        channel=lead.channel,
        category=lead.category,
        summary=lead.summary,
        village=lead.village,
        flags=lead.flags,
        occurred_at=at,
        actor=REGISTRAR,
        **lead.caused(),
    )


async def record(js: JetStreamContext, *events: Event) -> None:
    """A scripted ledger history, appended in the order given."""
    for event in events:
        await ledger_log(js).append(event)


def viewed(lead_id: str, actor: Actor, at: datetime) -> LeadViewed:
    return LeadViewed(
        lead_id=lead_id, service="ledger", purpose="查阅线索", actor=actor, occurred_at=at
    )


def resent(event: Event) -> Event:
    """The same event sent again under a new id, as after a retry beyond the duplicate
    window: JetStream stores it a second time."""
    return event.model_copy(update={"event_id": new_event_id()})


# --- what the tests read back --------------------------------------------------------------


async def drained(js: JetStreamContext, consumers: tuple[tuple[Stream, str], ...]) -> bool:
    """Every message for each consumer was delivered and acknowledged (handled or applied)."""
    for stream, durable in consumers:
        try:
            info = await js.consumer_info(stream.value, durable)
        except NotFoundError:
            return False
        if info.num_pending or info.num_ack_pending:
            return False
    return True


async def oversight_caught_up(js: JetStreamContext) -> None:
    await wait_until(lambda: drained(js, OVERSIGHT_CONSUMERS))


async def subjects_on(js: JetStreamContext, stream: Stream, subject: str = ">") -> dict[str, int]:
    """Each subject holding messages in ``stream``, with how many."""
    info = await js.stream_info(stream.value, subjects_filter=subject)
    return dict(info.state.subjects or {})


async def raw_on(js: JetStreamContext, stream: Stream, subject: str) -> list[RawStreamMsg]:
    """Every message on ``subject`` (wildcards allowed), in stream order."""
    found: list[RawStreamMsg] = []
    sequence = 0
    while True:
        try:
            msg = await js.get_msg(
                stream.value, seq=sequence + 1, subject=subject, direct=True, next=True
            )
        except NotFoundError:
            return found
        sequence = msg.seq or sequence + 1
        found.append(msg)


async def events_on(js: JetStreamContext, stream: Stream, subject: str) -> list[Event]:
    return [
        decode(msg.data or b"", event_type_of(msg.subject or ""))
        for msg in await raw_on(js, stream, subject)
    ]


async def get(http: httpx.AsyncClient, path: str, user: str = "discipline", **query: Any) -> Any:
    response = await http.get(path, params=query, headers=token(user))
    assert response.status_code == 200, response.text
    return response.json()


async def decided(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], user: str = "discipline"
) -> dict[str, Any]:
    response = await http.post(path, json=body, headers=token(user))
    assert response.status_code == 200, response.text
    done: dict[str, Any] = response.json()
    return done


def refused(response: httpx.Response, zh: str) -> None:
    """A 422 naming, in Chinese, the rule the decision breaks."""
    assert response.status_code == 422, response.text
    assert zh in response.text, response.text


async def listed_cases(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = await get(http, "/v1/oversight/cases")
    return cases


async def case_of(http: httpx.AsyncClient, lead_id: str) -> dict[str, Any]:
    """The committee's case on ``lead_id``, once it is listed."""
    found: dict[str, Any] = {}

    async def listed() -> bool:
        for case in await listed_cases(http):
            if case["lead_id"] == lead_id:
                found.update(case)
                return True
        return False

    await wait_until(listed)
    return found


async def ledger_lead(http: httpx.AsyncClient, lead_id: str) -> dict[str, Any] | None:
    response = await http.get(f"/v1/ledger/leads/{lead_id}", headers=token("office"))
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    lead: dict[str, Any] = response.json()
    return lead


async def ledger_shows(
    http: httpx.AsyncClient, lead_id: str, until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The lead as the office reads it in the ledger, once ``until`` holds for it."""
    found: dict[str, Any] = {}

    async def shown() -> bool:
        lead = await ledger_lead(http, lead_id)
        if lead is None or not until(lead):
            return False
        found.update(lead)
        return True

    await wait_until(shown)
    return found


def parse(moment: str | None) -> datetime | None:
    if moment is None:
        return None
    parsed = datetime.fromisoformat(moment)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- 1. cases open by themselves ---------------------------------------------------------------


async def test_flagged_leads_and_leads_handed_to_the_committee_open_one_case_each_umbrella_first(
    streams: JetStreamContext, oversight: Running, ledger: Running
) -> None:
    js = streams
    official = await report(js, flags=(Flag.INVOLVES_OFFICIAL,), summary="村支书入股地下赌场")
    await case_of(oversight.http, official.lead_id)
    handed_over = await report(js, summary="村干部亲属强揽工程")
    await ledger_shows(
        ledger.http, handed_over.lead_id, lambda lead: lead["status"] == "registered"
    )
    transfer = await ledger.http.post(
        f"/v1/ledger/leads/{handed_over.lead_id}/transfer",
        json={"to_unit": DISCIPLINE, "reason": "涉嫌公职人员违纪，移送纪委"},
        headers=token("office"),
    )
    assert transfer.status_code == 200, transfer.text
    left_alone = await report(js, summary="夜间噪音扰民")
    umbrella = await report(
        js, flags=(Flag.PROTECTIVE_UMBRELLA,), summary="派出所民警为赌场通风报信"
    )

    await case_of(oversight.http, umbrella.lead_id)
    cases = await listed_cases(oversight.http)
    assert [(c["lead_id"], c["umbrella"]) for c in cases] == [
        (umbrella.lead_id, True),
        (official.lead_id, False),
        (handed_over.lead_id, False),
    ]
    assert all(c["case_id"] == case_id_for(c["lead_id"]) for c in cases)
    assert cases[1]["basis"] == "flagged: involves_official"
    assert cases[2]["basis"] == "transferred by shd-office: 涉嫌公职人员违纪，移送纪委"

    # Once every report and transfer was handled, the plain lead still has no case.
    await wait_until(lambda: drained(js, LEDGER_REGISTRAR + OVERSIGHT_CONSUMERS))
    assert await subjects_on(js, Stream.OVERSIGHT, f"oversight.lead.{left_alone.lead_id}.>") == {}

    # Redelivered as they were, and sent again under new ids: still one case per lead.
    transfers = [
        e
        for lead in (handed_over, umbrella)
        for e in await events_on(js, Stream.LEDGER, f"ledger.lead.{lead.lead_id}.LeadTransferred")
    ]
    assert [t.to_unit for t in transfers] == [DISCIPLINE, DISCIPLINE]
    for reported in (official, umbrella):
        await oversight.oversight.on_reported(reported)
        await intake_log(js).append(resent(reported))
    for transferred in transfers:
        await oversight.oversight.on_transferred(transferred)
        await ledger_log(js).append(resent(transferred))
    await wait_until(lambda: drained(js, LEDGER_REGISTRAR + OVERSIGHT_CONSUMERS))

    assert await subjects_on(js, Stream.OVERSIGHT) == {
        f"oversight.lead.{lead.lead_id}.CaseOpened": 1 for lead in (official, handed_over, umbrella)
    }
    assert [c["lead_id"] for c in await listed_cases(oversight.http)] == [
        umbrella.lead_id,
        official.lead_id,
        handed_over.lead_id,
    ]
    # Not only JetStream's duplicate window: the committee's log itself says a case exists,
    # so deciding to open one again records nothing.
    for lead in (official, handed_over, umbrella):
        again = await oversight.oversight.decide(
            lead.lead_id,
            lambda known, cause=lead: open_case(known, "again", False, CLERK_ACTOR, cause),
        )
        assert again is None


# --- 2. what leaves the committee ----------------------------------------------------------------


async def test_only_listed_supervision_and_the_outcome_reach_the_ledger_and_it_keeps_nothing_private(
    streams: JetStreamContext,
    oversight_on_each_database: Running,
    ledger_on_each_database: Running,
) -> None:
    js, oversight, ledger = streams, oversight_on_each_database, ledger_on_each_database
    gang = await report(js, summary="砂石厂老板纠集人员强揽工程、殴打村民")
    umbrella = await report(
        js, flags=(Flag.PROTECTIVE_UMBRELLA,), summary="派出所副所长为砂石厂充当保护伞"
    )
    kept_in_town = await report(js, category=Category.DUTY_CRIME, summary="村会计挪用扶贫款")
    case = await case_of(oversight.http, umbrella.lead_id)
    other = await case_of(oversight.http, kept_in_town.lead_id)
    await ledger_shows(ledger.http, umbrella.lead_id, lambda lead: lead["unit"] == DISCIPLINE)

    deadline = (utc_now() + timedelta(days=15)).replace(microsecond=0)
    private = {
        "supervise": "保护伞线索久拖未查，启动督办",
        "person": "赵副所长",
        "accountability": "对砂石厂违法行为长期不予查处",
        "escalate": "涉及派出所领导，提级由县纪委办理",
    }
    cases_path = f"/v1/oversight/cases/{case['case_id']}"
    for path, body in (
        ("supervise", {"reason": private["supervise"]}),
        (
            "list-supervision",
            {"unit": POLICE, "deadline": deadline.isoformat(), "level": "county"},
        ),
        (
            "accountability",
            {
                "person": private["person"],
                "unit": POLICE,
                "kind": "accountability",
                "form": 2,
                "reason": private["accountability"],
            },
        ),
        ("link", {"gang_lead_id": gang.lead_id}),
        ("escalate", {"reason": private["escalate"]}),
    ):
        await decided(oversight.http, f"{cases_path}/{path}", body)
    refused(
        await oversight.http.post(
            f"{cases_path}/list-supervision",
            json={"unit": POLICE, "deadline": (utc_now() - timedelta(hours=1)).isoformat()},
            headers=token("discipline"),
        ),
        "督办时限必须晚于现在",
    )

    # The ledger shows the listed supervision's deadline on the lead.
    shown = await ledger_shows(
        ledger.http, umbrella.lead_id, lambda lead: lead["supervision_deadline"] is not None
    )
    assert parse(shown["supervision_deadline"]) == deadline

    # An outcome only for a lead the ledger handed to the committee, and only once.
    refused(
        await oversight.http.post(
            f"/v1/oversight/cases/{other['case_id']}/outcome",
            json={"result": "substantiated"},
            headers=token("discipline"),
        ),
        "只有移送纪委的线索才能反馈处理结果",
    )
    await decided(oversight.http, f"{cases_path}/outcome", {"result": "substantiated"})
    refused(
        await oversight.http.post(
            f"{cases_path}/outcome", json={"result": "unsubstantiated"}, headers=token("discipline")
        ),
        "处理结果已反馈",
    )
    concluded = await ledger_shows(
        ledger.http, umbrella.lead_id, lambda lead: lead["conclusion"] is not None
    )
    assert concluded["conclusion"] == Conclusion.SUBSTANTIATED.value
    assert concluded["status"] == "concluded"

    # The committee's own view of the case has all of it.
    await oversight_caught_up(js)
    full = await get(oversight.http, cases_path)
    assert (full["status"], full["outcome"], full["escalated"], full["linked_gang_lead"]) == (
        "closed",
        "substantiated",
        True,
        gang.lead_id,
    )
    assert parse(full["listed_deadline"]) == deadline
    assert [s["kind"] for s in full["supervision"]] == ["supervision", "listed", "escalated"]
    assert [(a["person"], a["form"]) for a in full["accountability"]] == [(private["person"], 2)]

    # Two directives left the committee; everything else stayed on its private stream.
    lead = umbrella.lead_id
    assert await subjects_on(js, Stream.DIRECTIVES) == {
        f"directive.lead.{lead}.SupervisionListed": 1,
        f"directive.lead.{lead}.DisciplineOutcome": 1,
    }
    assert await subjects_on(js, Stream.OVERSIGHT) == {
        f"oversight.lead.{lead}.CaseOpened": 1,
        f"oversight.lead.{lead}.SupervisionOpened": 1,
        f"oversight.lead.{lead}.AccountabilityRecorded": 1,
        f"oversight.lead.{lead}.UmbrellaLinked": 1,
        f"oversight.lead.{lead}.EscalatedToHigherLevel": 1,
        f"oversight.lead.{kept_in_town.lead_id}.CaseOpened": 1,
    }
    [listed] = await raw_on(js, Stream.DIRECTIVES, f"directive.lead.{lead}.SupervisionListed")
    [outcome] = await raw_on(js, Stream.DIRECTIVES, f"directive.lead.{lead}.DisciplineOutcome")
    listed_body, outcome_body = json.loads(listed.data or b""), json.loads(outcome.data or b"")
    assert set(listed_body) - ENVELOPE == {"unit", "deadline", "level"}
    assert set(outcome_body) - ENVELOPE == {"result"}, "the outcome is a category only"
    assert outcome_body["result"] == "substantiated"
    committee = {"role": "discipline", "unit": DISCIPLINE, "user": None}
    assert listed_body["actor"] == outcome_body["actor"] == committee

    # The ledger's view of the lead: the two directives, and no word of the private work.
    detail = await ledger_lead(ledger.http, lead)
    assert detail is not None
    assert [e["event_type"] for e in detail["history"] if e["stream"] == "DIRECTIVES"] == [
        "SupervisionListed",
        "DisciplineOutcome",
    ]
    answer = json.dumps(detail, ensure_ascii=False)
    assert not [text for text in private.values() if text in answer]

    # Nor in the ledger's database: no table, column or value of the committee's.
    engine: Engine = ledger.app.state.runtime.database.sync_engine
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in ledger_metadata.sorted_tables} <= tables
    assert not tables & set(oversight_metadata.tables)
    assert not [t for t in tables if t.startswith("oversight")]
    committee_columns = {c.name for t in oversight_metadata.sorted_tables for c in t.columns} - {
        c.name for t in ledger_metadata.sorted_tables for c in t.columns
    }
    assert {"case_id", "umbrella", "basis", "linked_gang_lead", "escalated", "rule", "form"} <= (
        committee_columns
    )
    # The platform's own bookkeeping (positions, lease, deferred directives) is left out.
    platform = {"projection_positions", "projection_leases", "projection_deferred"}
    columns = {c["name"] for t in tables - platform for c in inspect(engine).get_columns(t)}
    assert not columns & committee_columns
    with engine.connect() as conn:
        stored = repr([conn.execute(select(t)).all() for t in ledger_metadata.sorted_tables])
        row = conn.execute(
            select(ledger_leads.c.supervision_level).where(ledger_leads.c.lead_id == lead)
        ).one()
    assert not [text for text in private.values() if text in stored]
    assert row.supervision_level == "county"

    # The ledger does not even consume the committee's stream.
    consumers = [c.name for c in await js.consumers_info(Stream.OVERSIGHT.value)]
    assert consumers
    assert all(name.startswith("oversight-") for name in consumers), consumers


# --- 3. automatic supervision ----------------------------------------------------------------------


async def rules_fired(js: JetStreamContext) -> dict[str, list[str]]:
    """Each lead's automatic supervision on OVERSIGHT, by rule, as often as it is there."""
    fired: dict[str, list[str]] = {}
    for event in await events_on(js, Stream.OVERSIGHT, "oversight.lead.*.SupervisionOpened"):
        assert isinstance(event, SupervisionOpened)
        assert event.actor.user == "oversight-rules"
        fired.setdefault(event.lead_id, []).append(event.rule or "by hand")
    return {lead: sorted(rules) for lead, rules in fired.items()}


async def test_each_automatic_rule_opens_supervision_once_however_often_it_runs_and_not_after_a_restart(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path
) -> None:
    js = streams
    settings = oversight_settings(nats_target, sqlite_url, tmp_path, open_days=1)
    now = utc_now()
    async with running(create_oversight(settings)) as first:
        overdue = await report(js, at=now - timedelta(hours=3))
        await record(
            js,
            registered(overdue, now - timedelta(hours=2)),
            ResponsibilityAssigned(
                lead_id=overdue.lead_id,
                unit=OFFICE,
                assignee="office",
                assignee_name="张主任",
                deadline=now - timedelta(minutes=30),
                occurred_at=now - timedelta(hours=1),
                actor=OFFICE_ACTOR,
            ),
        )
        first_report = await report(js, at=now - timedelta(hours=2), summary="砂石厂夜间盗采河砂")
        second_report = await report(js, at=now - timedelta(hours=1), summary="河道里有人偷挖沙子")
        await intake_log(js).append(
            DuplicateSuspected(
                lead_id=second_report.lead_id,
                duplicate_of=first_report.lead_id,
                basis="同一地点、同一行为",
                actor=CLERK_ACTOR,
            )
        )
        filed_long_ago = await report(js, at=now - timedelta(days=2, hours=1))
        await record(js, registered(filed_long_ago, now - timedelta(days=2), number=2))

        expected = {
            overdue.lead_id: ["overdue"],
            first_report.lead_id: ["same_matter"],
            filed_long_ago.lead_id: ["open_too_long"],
        }

        async def all_fired() -> bool:
            return await rules_fired(js) == expected

        await wait_until(all_fired)
        for _ in range(3):
            assert await first.oversight.apply_rules() == 0
        await oversight_caught_up(js)
        assert await rules_fired(js) == expected
        [supervision] = await events_on(
            js, Stream.OVERSIGHT, f"oversight.lead.{overdue.lead_id}.SupervisionOpened"
        )
        assert isinstance(supervision, SupervisionOpened)
        assert supervision.case_id is None  # no case: the rule presses the handling unit alone
        assert supervision.reason == "deadline passed more than 0 days ago"

    async with running(create_oversight(settings)) as restarted:
        await oversight_caught_up(js)
        for _ in range(3):
            assert await restarted.oversight.apply_rules() == 0
        await oversight_caught_up(js)
    assert await rules_fired(js) == expected
    assert await subjects_on(js, Stream.DIRECTIVES) == {}


# --- 4. the responsibility trace, the access log, the leak-risk report ------------------------------


async def test_the_trace_names_who_held_the_lead_when_and_the_access_log_flags_outsiders_reading_before_a_transfer(
    streams: JetStreamContext, oversight_on_each_database: Running
) -> None:
    js, oversight = streams, oversight_on_each_database
    t0 = (utc_now() - timedelta(days=12)).replace(microsecond=0)
    lead = await report(
        js,
        flags=(Flag.INVOLVES_OFFICIAL,),
        summary="村主任纵容其子强收保护费",
        at=t0 - timedelta(hours=2),
    )
    lead_id = lead.lead_id

    def at(days: float = 0, hours: float = 0) -> datetime:
        return t0 + timedelta(days=days, hours=hours)

    await record(
        js,
        registered(lead, at()),
        LeadTransferred(
            lead_id=lead_id,
            from_unit=OFFICE,
            to_unit=POLICE,
            reason="涉嫌寻衅滋事",
            occurred_at=at(hours=1),
            actor=OFFICE_ACTOR,
        ),
        TransferAccepted(lead_id=lead_id, unit=POLICE, occurred_at=at(hours=2), actor=POLICE_ACTOR),
        ResponsibilityAssigned(
            lead_id=lead_id,
            unit=POLICE,
            assignee="police",
            assignee_name="王警官",
            deadline=at(days=10),
            occurred_at=at(hours=3),
            actor=POLICE_ACTOR,
        ),
        DeadlineExtended(
            lead_id=lead_id,
            deadline=at(days=20),
            reason="需调取银行流水",
            occurred_at=at(days=4),
            actor=POLICE_ACTOR,
        ),
        LeadTransferred(
            lead_id=lead_id,
            from_unit=POLICE,
            to_unit=JUDICIAL,
            reason="属民间纠纷，移交司法所调解",
            occurred_at=at(days=8),
            actor=POLICE_ACTOR,
        ),
        TransferAccepted(
            lead_id=lead_id, unit=JUDICIAL, occurred_at=at(days=8, hours=0.5), actor=JUDICIAL_ACTOR
        ),
        ResponsibilityAssigned(
            lead_id=lead_id,
            unit=JUDICIAL,
            assignee="judicial",
            assignee_name="李调解员",
            deadline=at(days=30),
            occurred_at=at(days=8, hours=1),
            actor=JUDICIAL_ACTOR,
        ),
    )
    screener_v01 = Actor(role=Role.SCREENER, unit="shd-v01", user="screener.v01")
    screener_v02 = Actor(role=Role.SCREENER, unit="shd-v02", user="screener.v02")
    for view in (
        viewed(lead_id, POLICE_ACTOR, at(days=1)),  # the police held it: an insider
        viewed(lead_id, screener_v02, at(days=5)),  # an outsider, 72 h before the next transfer
        viewed(lead_id, screener_v01, at(days=8, hours=-1)),  # an outsider, 1 h before it
    ):
        await ledger_audit(js).append(view)

    # The committee reads its case: that read is recorded like any other.
    case = await case_of(oversight.http, lead_id)
    await get(oversight.http, f"/v1/oversight/cases/{case['case_id']}", purpose="审查保护伞线索")
    [own_read] = await events_on(js, Stream.AUDIT, f"audit.oversight.lead.{lead_id}.LeadViewed")
    assert isinstance(own_read, LeadViewed)
    assert (own_read.service, own_read.purpose, own_read.actor) == (
        "oversight",
        "审查保护伞线索",
        Actor(role=Role.DISCIPLINE, unit=DISCIPLINE, user="discipline"),
    )
    await oversight_caught_up(js)

    trace = await get(oversight.http, f"/v1/oversight/leads/{lead_id}/responsibility-trace")
    assert [
        (
            p["kind"],
            p["unit"],
            p["person"],
            p["person_name"],
            parse(p["start"]),
            parse(p["end"]),
            parse(p["deadline"]),
            p["assigned_by"],
        )
        for p in trace
    ] == [
        ("unit", OFFICE, None, None, at(), at(hours=1), None, "registrar"),
        ("unit", POLICE, None, None, at(hours=1), at(days=8), None, "office"),
        ("person", POLICE, "police", "王警官", at(hours=3), at(days=8), at(days=20), "police"),
        ("unit", JUDICIAL, None, None, at(days=8), None, None, "police"),
        (
            "person",
            JUDICIAL,
            "judicial",
            "李调解员",
            at(days=8, hours=1),
            None,
            at(days=30),
            "judicial",
        ),
    ]

    log = await get(oversight.http, "/v1/oversight/access-log", lead_id=lead_id)
    by_reader = {(e["user"], e["service"], parse(e["at"])): e["outsider"] for e in log}
    assert by_reader[("police", "ledger", at(days=1))] is False
    assert by_reader[("screener.v02", "ledger", at(days=5))] is True
    assert by_reader[("screener.v01", "ledger", at(days=8, hours=-1))] is True
    assert "审查保护伞线索" in [e["purpose"] for e in log if e["service"] == "oversight"]
    outsiders = await get(
        oversight.http, "/v1/oversight/access-log", lead_id=lead_id, outsiders_only=True
    )
    assert {"screener.v01", "screener.v02"} <= {e["user"] for e in outsiders}
    assert "police" not in {e["user"] for e in outsiders}

    def reads_before(report: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [
            (
                r["viewer"],
                parse(r["viewed_at"]),
                r["moment"],
                parse(r["moment_at"]),
                r["hours_before"],
            )
            for r in report
            if r["lead_id"] == lead_id
        ]

    within_two_days = await get(oversight.http, "/v1/oversight/leak-risk", hours=48)
    assert reads_before(within_two_days) == [
        ("screener.v01", at(days=8, hours=-1), "LeadTransferred", at(days=8), 1.0),
        ("screener.v01", at(days=8, hours=-1), "ResponsibilityAssigned", at(days=8, hours=1), 2.0),
    ]
    within_four_days = await get(oversight.http, "/v1/oversight/leak-risk", hours=96)
    assert ("screener.v02", at(days=5), "LeadTransferred", at(days=8), 72.0) in reads_before(
        within_four_days
    )


# --- 5. the assessment --------------------------------------------------------------------------------


def china(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=CHINA)


@dataclass(frozen=True)
class Handled:
    """One lead's life, in China time: who holds it and when each step happened."""

    unit: str
    reported: str
    registered: str
    deadline: str | None = None
    missed: bool = False
    concluded: str | None = None
    answered: str | None = None

    def events(self, lead: LeadReported, number: int) -> list[Event]:
        filed = china(self.registered)
        lead_id = lead.lead_id
        steps: list[Event] = [
            registered(lead, filed, number),
            LeadTransferred(
                lead_id=lead_id,
                from_unit=OFFICE,
                to_unit=self.unit,
                reason="按职责移交",
                occurred_at=filed + timedelta(hours=1),
                actor=OFFICE_ACTOR,
            ),
        ]
        holder = Actor(role=Role.POLICE if self.unit == POLICE else Role.JUDICIAL, unit=self.unit)
        if self.deadline:
            steps.append(
                ResponsibilityAssigned(
                    lead_id=lead_id,
                    unit=self.unit,
                    assignee="officer",
                    assignee_name="承办人",
                    deadline=china(self.deadline),
                    occurred_at=filed + timedelta(hours=2),
                    actor=holder,
                )
            )
        if self.deadline and self.missed:
            steps.append(
                DeadlineMissed(
                    lead_id=lead_id,
                    unit=self.unit,
                    assignee="officer",
                    deadline=china(self.deadline),
                    occurred_at=china(self.deadline) + timedelta(minutes=1),
                    actor=DEADLINE_WATCH,
                )
            )
        if self.concluded:
            steps.append(
                LeadConcluded(
                    lead_id=lead_id,
                    result=Conclusion.SUBSTANTIATED,
                    summary="查证属实",
                    occurred_at=china(self.concluded),
                    actor=holder,
                )
            )
        if self.answered:
            steps.append(
                FeedbackGiven(
                    lead_id=lead_id,
                    text="已办理，感谢您的举报",
                    occurred_at=china(self.answered),
                    actor=holder,
                )
            )
        return sorted(steps, key=lambda e: e.occurred_at)


# March 2025 at the police station, one lead of the judicial office, and one police lead
# filed at 06:00 on 1 April China time, which is still 31 March in UTC.
HISTORY = (
    # 2 h to register; concluded before its deadline; answered
    Handled(
        POLICE,
        "2025-03-03 09:00",
        "2025-03-03 11:00",
        deadline="2025-03-20 18:00",
        concluded="2025-03-15 10:00",
        answered="2025-03-16 10:00",
    ),
    # 6 h; the deadline was missed, concluded after it; never answered
    Handled(
        POLICE,
        "2025-03-05 08:00",
        "2025-03-05 14:00",
        deadline="2025-03-25 18:00",
        missed=True,
        concluded="2025-03-28 10:00",
    ),
    # 24 h; nobody responsible yet, still open; an interim answer
    Handled(POLICE, "2025-03-10 10:00", "2025-03-11 10:00", answered="2025-03-12 09:00"),
    # 6 h, across midnight; concluded before its deadline; answered
    Handled(
        POLICE,
        "2025-03-20 20:00",
        "2025-03-21 02:00",
        deadline="2025-03-31 18:00",
        concluded="2025-03-30 16:00",
        answered="2025-03-31 09:00",
    ),
    # 4 h; April in China time
    Handled(POLICE, "2025-04-01 02:00", "2025-04-01 06:00"),
    # 1 h; the judicial office's only lead: on time and answered
    Handled(
        JUDICIAL,
        "2025-03-12 09:00",
        "2025-03-12 10:00",
        deadline="2025-03-20 18:00",
        concluded="2025-03-18 10:00",
        answered="2025-03-19 10:00",
    ),
)

# Worked out by hand from HISTORY. Police, March (the first four leads):
#   hours to register (2 + 6 + 24 + 6) / 4 = 9.5
#   on time: of the three concluded with a deadline, two before it: 2/3 = 0.6667
#   answered 3 of 4 = 0.75; concluded 3 of 4 = 0.75; one deadline missed
#   score 100 * (0.35 * 2/3 + 0.35 * 0.75 + 0.30 * 0.75) - 5 * 1 = 72.083 - 5 = 67.1
# Police, April: nothing due (counts as on time), nothing concluded or answered: 35.0.
# Judicial, March: all on time, concluded and answered: 100.0.
EXPECTED_ASSESSMENT = [
    (JUDICIAL, "2025-03", 1, 1.0, 1.0, 1.0, 1.0, 0, 100.0),
    (POLICE, "2025-03", 4, 9.5, 0.6667, 0.75, 0.75, 1, 67.1),
    (POLICE, "2025-04", 1, 4.0, None, 0.0, 0.0, 0, 35.0),
]
ASSESSMENT_FIELDS = (
    "unit",
    "month",
    "leads",
    "avg_hours_to_register",
    "on_time_rate",
    "feedback_rate",
    "conclusion_rate",
    "overdue",
    "score",
)
HEADERS_ZH = (
    "单位",
    "月份",
    "线索数",
    "平均登记用时(小时)",
    "按时办结率",
    "反馈率",
    "办结率",
    "逾期次数",
    "得分",
)
UNIT_NAMES = {POLICE: "沙河店派出所", JUDICIAL: "沙河店司法所"}


async def test_the_monthly_assessment_matches_the_numbers_worked_out_by_hand_on_screen_and_in_the_spreadsheet(
    streams: JetStreamContext, oversight: Running
) -> None:
    js = streams
    for number, handled in enumerate(HISTORY, start=1):
        lead = await report(js, at=china(handled.reported))
        await record(js, *handled.events(lead, number))
    await oversight_caught_up(js)

    rows = await get(oversight.http, "/v1/oversight/assessments", user="auditor")
    assert [tuple(row[f] for f in ASSESSMENT_FIELDS) for row in rows] == EXPECTED_ASSESSMENT

    response = await oversight.http.get("/v1/oversight/assessments.xlsx", headers=token("auditor"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    assert sheet.title == "考核"
    header, *lines = list(sheet.iter_rows(values_only=True))
    assert header == HEADERS_ZH
    assert lines == [(UNIT_NAMES[unit], *rest) for unit, *rest in EXPECTED_ASSESSMENT]


# --- 6. who may use the committee's API -----------------------------------------------------------


async def test_only_the_committee_and_the_administrator_decide_auditors_only_read_and_handling_units_see_nothing(
    streams: JetStreamContext, oversight: Running
) -> None:
    js, http = streams, oversight.http
    lead = await report(js, flags=(Flag.PROTECTIVE_UMBRELLA,), summary="镇干部为非法采砂充当保护伞")
    await record(js, registered(lead, utc_now()))
    case = await case_of(http, lead.lead_id)
    await oversight_caught_up(js)

    reads = (
        "/v1/oversight/cases",
        f"/v1/oversight/cases/{case['case_id']}",
        f"/v1/oversight/leads/{lead.lead_id}/responsibility-trace",
        "/v1/oversight/access-log",
        "/v1/oversight/leak-risk",
        "/v1/oversight/assessments",
        "/v1/oversight/assessments.xlsx",
    )
    in_a_month = (utc_now() + timedelta(days=30)).isoformat()
    decisions = (
        ("supervise", {"reason": "督促尽快核查"}),
        ("list-supervision", {"unit": POLICE, "deadline": in_a_month}),
        ("escalate", {"reason": "提级办理"}),
        ("link", {"gang_lead_id": new_lead_id()}),
        (
            "accountability",
            {
                "person": "某干部",
                "unit": POLICE,
                "kind": "public_criticism",
                "form": 1,
                "reason": "履职不力",
            },
        ),
        ("outcome", {"result": "substantiated"}),
    )

    async def statuses(user: str) -> Counter[int]:
        seen: Counter[int] = Counter()
        for path in reads:
            seen[(await http.get(path, headers=token(user))).status_code] += 1
        for decision, body in decisions:
            response = await http.post(
                f"/v1/oversight/cases/{case['case_id']}/{decision}", json=body, headers=token(user)
            )
            seen[response.status_code] += 1
        return seen

    everything = len(reads) + len(decisions)
    for user in ("clerk", "police", "office"):
        assert await statuses(user) == Counter({403: everything}), user
    assert await statuses("auditor") == Counter({200: len(reads), 403: len(decisions)})
    assert (await http.get("/v1/oversight/cases")).status_code == 401

    for user in ("discipline", "admin"):
        assert len(await get(http, "/v1/oversight/cases", user=user)) == 1
        done = await decided(
            http,
            f"/v1/oversight/cases/{case['case_id']}/supervise",
            {"reason": "督促尽快核查"},
            user,
        )
        assert done["event_type"] == "SupervisionOpened"

    # Nothing refused was recorded: the case and the two decisions that were allowed.
    assert await subjects_on(js, Stream.OVERSIGHT) == {
        f"oversight.lead.{lead.lead_id}.CaseOpened": 1,
        f"oversight.lead.{lead.lead_id}.SupervisionOpened": 2,
    }
    assert await subjects_on(js, Stream.DIRECTIVES) == {}
    deciders = [
        e.actor.user
        for e in await events_on(
            js, Stream.OVERSIGHT, f"oversight.lead.{lead.lead_id}.SupervisionOpened"
        )
    ]
    assert deciders == ["discipline", "admin"]
