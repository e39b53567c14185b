"""`leadctl replay` rebuilds a service's projections from the log, as the live consumer
would have built them, and shows the ledger as it stood at a moment."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from common.events import Actor, Role
from common.events.catalogue import LeadTransferred
from common.eventstore import EventStore
from common.streams import declare_streams
from common.subjects import Stream
from leadctl.cli import app
from ledger.projection import SUBSCRIPTIONS
from ledger.projection.tables import leads
from tests.conftest import NatsTarget, wait_until
from tests.support.factories import new_lead_id, registered

pytestmark = pytest.mark.integration

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")


@dataclass(frozen=True)
class ScriptedLedger:
    first: str
    second: str
    moment: datetime


@pytest.fixture
async def scripted(js: JetStreamContext) -> ScriptedLedger:
    """Two leads registered; then, strictly after ``moment``, the first one transferred."""
    await declare_streams(js, [Stream.INTAKE, Stream.LEDGER, Stream.DIRECTIVES])
    store = EventStore(js, Stream.LEDGER, "ledger")
    first, second = new_lead_id(), new_lead_id()
    await store.append(registered(first, 1))
    await store.append(registered(second, 2))
    moment = datetime.now(UTC)
    await wait_until(lambda: datetime.now(UTC) > moment)
    await store.append(
        LeadTransferred(
            lead_id=first,
            from_unit="shd-office",
            to_unit="shd-police",
            reason="涉嫌犯罪",
            actor=OFFICE,
        )
    )
    return ScriptedLedger(first, second, moment)


# A plain (not async) test: the CLI runs its own event loop, as it does for an operator.
def test_replay_rebuilds_the_ledger_and_until_shows_it_as_it_stood(
    scripted: ScriptedLedger, nats_target: NatsTarget, tmp_path: Path
) -> None:
    first, second, moment = scripted.first, scripted.second, scripted.moment
    runner = CliRunner()

    now_db, then_db = tmp_path / "now.db", tmp_path / "then.db"
    now = runner.invoke(
        app,
        [
            "--nats-url",
            nats_target.url,
            "--user",
            "",
            "replay",
            "ledger",
            "--db",
            f"sqlite:///{now_db}",
            "--json",
        ],
    )
    then = runner.invoke(
        app,
        [
            "--nats-url",
            nats_target.url,
            "--user",
            "",
            "replay",
            "ledger",
            "--db",
            f"sqlite:///{then_db}",
            "--until",
            moment.isoformat(),
            "--json",
        ],
    )

    assert now.exit_code == 0, now.output
    assert then.exit_code == 0, then.output
    # Each of the ledger's read models fed by LEDGER reads the three events (or two) itself.
    readers = sum(s.stream is Stream.LEDGER for s in SUBSCRIPTIONS)
    assert json.loads(now.stdout.strip().splitlines()[-1])["events"] == 3 * readers
    assert json.loads(then.stdout.strip().splitlines()[-1])["events"] == 2 * readers
    assert _units(now_db) == {first: "shd-police", second: "shd-office"}
    assert _units(then_db) == {first: "shd-office", second: "shd-office"}


def test_replay_refuses_a_database_that_is_not_fresh(tmp_path: Path) -> None:
    db = tmp_path / "used.db"
    engine = create_engine(f"sqlite:///{db}")
    leads.metadata.create_all(engine)
    engine.dispose()

    result = CliRunner().invoke(app, ["replay", "ledger", "--db", f"sqlite:///{db}"])

    assert result.exit_code != 0
    assert "not fresh" in result.output


def _units(db: Path) -> dict[str, str]:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = {r.lead_id: r.unit for r in conn.execute(select(leads.c.lead_id, leads.c.unit))}
    engine.dispose()
    return rows
