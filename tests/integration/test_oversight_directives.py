"""What leaves the discipline committee for the handling units: a listed supervision (挂牌督办)
and the outcome of a case the ledger handed over, as two directives; everything else the
committee decides (its supervision, accountability, links, escalation) stays on its private
stream, and the ledger neither shows, stores nor reads any of it.

Each test works the same umbrella case, on SQLite and then on PostgreSQL, with the running
ledger beside oversight on its own database of the same kind."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import Engine, inspect, select

from common.accounts import metadata as accounts_metadata
from common.events import Event, utc_now
from common.events.catalogue import LeadReported
from common.subjects import Stream
from common.vocabulary import Category, Conclusion, Flag
from ledger.projection.tables import leads as ledger_leads
from ledger.projection.tables import metadata as ledger_metadata
from oversight.projection.tables import metadata as oversight_metadata
from tests.conftest import DatabaseTarget, NatsTarget, _fresh_postgres_database
from tests.support.apps import parse, token
from tests.support.ledger import LedgerService, serving_ledger
from tests.support.oversight import (
    DISCIPLINE,
    POLICE,
    OversightService,
    case_of,
    decided,
    get,
    ledger_lead,
    ledger_shows,
    oversight_caught_up,
    refused,
    report,
    town_ledger_settings,
)
from tests.support.streams import raw_on, subjects_on

pytestmark = pytest.mark.integration

# What every event carries; anything else in a stored event is the event's own content.
ENVELOPE = frozenset(Event.model_fields)


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
async def ledger_on_each_database(
    streams: JetStreamContext, nats_target: NatsTarget, ledger_database_url: str, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    settings = town_ledger_settings(nats_target, ledger_database_url, tmp_path)
    async with serving_ledger(streams, settings) as service:
        yield service


@dataclass(frozen=True)
class Worked:
    """An umbrella case the committee worked to its end, and what it wrote down privately."""

    gang: LeadReported
    umbrella: LeadReported  # routed to the committee by the ledger when it was filed
    kept_in_town: LeadReported  # a duty crime the office keeps: the committee has a case
    case_path: str
    kept_in_town_case_path: str
    deadline: datetime
    private: dict[str, str]


async def worked_umbrella_case(
    js: JetStreamContext, oversight: OversightService, ledger: LedgerService
) -> Worked:
    """Supervision, a listed supervision, accountability, a link to the gang's lead and an
    escalation decided on the umbrella case, then its outcome; returns once the ledger shows
    the lead concluded."""
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
    case_path = f"/v1/oversight/cases/{case['case_id']}"
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
        ("outcome", {"result": "substantiated"}),
    ):
        await decided(oversight.http, f"{case_path}/{path}", body)
    await ledger_shows(ledger.http, umbrella.lead_id, lambda lead: lead["conclusion"] is not None)
    return Worked(
        gang=gang,
        umbrella=umbrella,
        kept_in_town=kept_in_town,
        case_path=case_path,
        kept_in_town_case_path=f"/v1/oversight/cases/{other['case_id']}",
        deadline=deadline,
        private=private,
    )


def recorded_by_the_committee(worked: Worked) -> dict[Stream, dict[str, int]]:
    """Each subject the committee wrote to, with how many: two directives, and its private
    record of the rest."""
    lead = worked.umbrella.lead_id
    return {
        Stream.DIRECTIVES: {
            f"directive.lead.{lead}.SupervisionListed": 1,
            f"directive.lead.{lead}.DisciplineOutcome": 1,
        },
        Stream.OVERSIGHT: {
            f"oversight.lead.{lead}.CaseOpened": 1,
            f"oversight.lead.{lead}.SupervisionOpened": 1,
            f"oversight.lead.{lead}.AccountabilityRecorded": 1,
            f"oversight.lead.{lead}.UmbrellaLinked": 1,
            f"oversight.lead.{lead}.EscalatedToHigherLevel": 1,
            f"oversight.lead.{worked.kept_in_town.lead_id}.CaseOpened": 1,
        },
    }


async def test_a_listed_supervision_and_an_outcome_reach_the_ledger_only_as_the_rules_allow(
    streams: JetStreamContext,
    oversight_on_each_database: OversightService,
    ledger_on_each_database: LedgerService,
) -> None:
    js, oversight, ledger = streams, oversight_on_each_database, ledger_on_each_database
    worked = await worked_umbrella_case(js, oversight, ledger)
    lead = worked.umbrella.lead_id

    refused(
        await oversight.http.post(
            f"{worked.case_path}/list-supervision",
            json={"unit": POLICE, "deadline": (utc_now() - timedelta(hours=1)).isoformat()},
            headers=token("discipline"),
        ),
        "督办时限必须晚于现在",
    )
    # An outcome only for a lead the ledger handed to the committee, and only once.
    refused(
        await oversight.http.post(
            f"{worked.kept_in_town_case_path}/outcome",
            json={"result": "substantiated"},
            headers=token("discipline"),
        ),
        "只有移送纪委的线索才能反馈处理结果",
    )
    refused(
        await oversight.http.post(
            f"{worked.case_path}/outcome",
            json={"result": "unsubstantiated"},
            headers=token("discipline"),
        ),
        "处理结果已反馈",
    )

    # The ledger shows the listed supervision's deadline on the lead, and the outcome.
    shown = await ledger_shows(
        ledger.http, lead, lambda lead: lead["supervision_deadline"] is not None
    )
    assert parse(shown["supervision_deadline"]) == worked.deadline
    concluded = await ledger_shows(ledger.http, lead, lambda lead: lead["conclusion"] is not None)
    assert concluded["conclusion"] == Conclusion.SUBSTANTIATED.value
    assert concluded["status"] == "concluded"

    # The refused decisions recorded nothing.
    for stream, subjects in recorded_by_the_committee(worked).items():
        assert await subjects_on(js, stream) == subjects, stream


async def test_the_committee_sees_all_it_decided_on_its_case(
    streams: JetStreamContext,
    oversight_on_each_database: OversightService,
    ledger_on_each_database: LedgerService,
) -> None:
    js, oversight, ledger = streams, oversight_on_each_database, ledger_on_each_database
    worked = await worked_umbrella_case(js, oversight, ledger)

    await oversight_caught_up(js)
    full = await get(oversight.http, worked.case_path)
    assert (full["status"], full["outcome"], full["escalated"], full["linked_gang_lead"]) == (
        "closed",
        "substantiated",
        True,
        worked.gang.lead_id,
    )
    assert parse(full["listed_deadline"]) == worked.deadline
    assert [s["kind"] for s in full["supervision"]] == ["supervision", "listed", "escalated"]
    assert [(a["person"], a["form"]) for a in full["accountability"]] == [
        (worked.private["person"], 2)
    ]


async def test_only_two_directives_leave_the_committee_and_they_carry_nothing_private(
    streams: JetStreamContext,
    oversight_on_each_database: OversightService,
    ledger_on_each_database: LedgerService,
) -> None:
    js, oversight, ledger = streams, oversight_on_each_database, ledger_on_each_database
    worked = await worked_umbrella_case(js, oversight, ledger)
    lead = worked.umbrella.lead_id
    await oversight_caught_up(js)

    # Two directives left the committee; everything else stayed on its private stream.
    expected = recorded_by_the_committee(worked)
    assert await subjects_on(js, Stream.DIRECTIVES) == expected[Stream.DIRECTIVES]
    assert await subjects_on(js, Stream.OVERSIGHT) == expected[Stream.OVERSIGHT]
    [listed] = await raw_on(js, Stream.DIRECTIVES, f"directive.lead.{lead}.SupervisionListed")
    [outcome] = await raw_on(js, Stream.DIRECTIVES, f"directive.lead.{lead}.DisciplineOutcome")
    listed_body, outcome_body = json.loads(listed.data or b""), json.loads(outcome.data or b"")
    assert set(listed_body) - ENVELOPE == {"unit", "deadline", "level"}
    assert set(outcome_body) - ENVELOPE == {"result"}, "the outcome is a category only"
    assert outcome_body["result"] == "substantiated"
    committee = {"role": "discipline", "unit": DISCIPLINE, "user": None}
    assert listed_body["actor"] == outcome_body["actor"] == committee


async def test_the_ledger_shows_stores_and_reads_nothing_of_the_committees_private_work(
    streams: JetStreamContext,
    oversight_on_each_database: OversightService,
    ledger_on_each_database: LedgerService,
) -> None:
    js, oversight, ledger = streams, oversight_on_each_database, ledger_on_each_database
    worked = await worked_umbrella_case(js, oversight, ledger)
    lead, private = worked.umbrella.lead_id, worked.private

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
    # The platform's own bookkeeping (positions, lease, deferred directives) and the accounts
    # every service keeps (common.accounts) are left out.
    platform = {"projection_positions", "projection_leases", "projection_deferred"}
    platform |= set(accounts_metadata.tables)
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
