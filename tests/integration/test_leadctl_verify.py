"""`leadctl verify --projection`: the live ledger equals a fresh replay of the log until one
of its rows is changed; and a replay applies oversight's directives where they happened
among the ledger's events, so a lead concluded by the discipline committee replays as the
live ledger holds it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import create_engine, select, update

from common.events.catalogue import DisciplineOutcome
from common.eventstore import EventStore
from common.streams import declare_streams
from common.subjects import Stream
from common.vocabulary import Conclusion, Flag
from ledger.projection.tables import leads
from ledger.projection.tables import metadata as ledger_metadata
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import serving, write_staff
from tests.support.leadctl import (
    DISCIPLINE_COMMITTEE,
    ScriptedLedger,
    act,
    leadctl,
    ledger_service,
    on,
    printed,
    projection_caught_up,
    report,
    succeeded,
)

pytestmark = pytest.mark.integration


def test_the_live_ledger_equals_a_fresh_replay_of_the_log_until_one_of_its_rows_is_changed(
    scripted_ledger: ScriptedLedger, nats_target: NatsTarget
) -> None:
    live = scripted_ledger.live_db
    verify = [
        *on(nats_target),
        "verify",
        "--projection",
        "ledger",
        "--live-db",
        f"sqlite:///{live}",
        "--json",
    ]

    untouched = succeeded(leadctl(*verify))
    # One report for each of the ledger's read models (the notices' as well); all equal.
    reports = printed(untouched)
    assert all(r["equal"] for r in reports)
    [report] = [r for r in reports if r["projection"] == "ledger"]
    assert report["projection"] == "ledger"
    assert report["equal"] is True
    assert set(report["live"]) == set(ledger_metadata.tables)
    assert "missing" not in report["live"].values()
    assert report["live"] == report["replay"]
    # walked: registered, transferred, accepted, assigned twice, verified; waiting: registered;
    # and the two reports the ledger read from intake
    assert report["positions"] == {"INTAKE": 2, "LEDGER": 7, "DIRECTIVES": 1}

    engine = create_engine(f"sqlite:///{live}")
    with engine.begin() as conn:
        conn.execute(
            update(leads)
            .where(leads.c.lead_id == scripted_ledger.waiting)
            .values(status="archived")
        )
    engine.dispose()
    tampered = leadctl(*verify)

    assert tampered.exit_code == 1, tampered.output
    [report] = [r for r in printed(tampered) if not r["equal"]]
    assert report["equal"] is False
    differing = {t for t, digest in report["live"].items() if report["replay"][t] != digest}
    assert differing == {leads.name}


@dataclass(frozen=True)
class ConcludedByDiscipline:
    lead: str
    live_db: Path


@pytest.fixture
async def concluded_by_discipline(
    js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> ConcludedByDiscipline:
    """A lead flagged as involving an official, routed to the discipline committee, which
    accepts it; the committee's outcome arrives as a directive; then the committee answers
    the reporter and the office archives the file. Each step is applied by the live
    projection before the next is taken."""
    await declare_streams(js, list(Stream))
    live_db, users = tmp_path / "ledger.db", write_staff(tmp_path / "users.toml")
    async with serving(ledger_service(nats_target, live_db, users)) as http:
        lead = await report(js, "村支书充当黑恶势力保护伞", flags=(Flag.INVOLVES_OFFICIAL,))

        async def routed() -> bool:
            history = await EventStore(js, Stream.LEDGER, "ledger").read_lead(lead)
            return "LeadTransferred" in {s.event.event_type for s in history.events}

        await wait_until(routed)
        await act(http, lead, "accept", "discipline")
        await wait_until(lambda: projection_caught_up(js, live_db))
        await EventStore(js, Stream.DIRECTIVES, "directive").append(
            DisciplineOutcome(
                lead_id=lead, result=Conclusion.SUBSTANTIATED, actor=DISCIPLINE_COMMITTEE
            )
        )
        await wait_until(lambda: projection_caught_up(js, live_db))
        await act(http, lead, "feedback", "discipline", text="经查属实，已严肃处理")
        await act(http, lead, "archive", "office")
        await wait_until(lambda: projection_caught_up(js, live_db))
    return ConcludedByDiscipline(lead, live_db)


def status_in(db: Path, lead_id: str) -> str:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(select(leads.c.status).where(leads.c.lead_id == lead_id)).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_replay_applies_oversights_directives_where_they_happened_among_the_ledgers_events(
    concluded_by_discipline: ConcludedByDiscipline, nats_target: NatsTarget, tmp_path: Path
) -> None:
    live, replayed = concluded_by_discipline.live_db, tmp_path / "replayed.db"
    lead = concluded_by_discipline.lead

    succeeded(leadctl(*on(nats_target), "replay", "ledger", "--db", f"sqlite:///{replayed}"))
    verified = leadctl(
        *on(nats_target),
        "verify",
        "--projection",
        "ledger",
        "--live-db",
        f"sqlite:///{live}",
        "--json",
    )

    assert status_in(live, lead) == "archived"
    assert status_in(replayed, lead) == "archived", (
        "the replayed ledger reads the lead's history out of order"
    )
    assert verified.exit_code == 0, verified.output
