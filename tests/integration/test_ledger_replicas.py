"""Numbering (编号) with two ledger replicas: a thousand leads reported at once are numbered
without gap or repeat, in the order their registrations were stored, and a replay of the log
(`leadctl replay ledger`) gives every lead the number the live ledger lists."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from common.events import utc_now
from common.events.catalogue import LeadRegistered
from common.eventstore import StoredEvent
from common.subjects import Stream
from common.vocabulary import Category
from leadctl.cli import app as leadctl
from ledger.bootstrap import create_app
from ledger.projection.tables import leads
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import serving
from tests.support.factories import CHINA
from tests.support.ledger import REGISTRATIONS, ledger_settings, listed, report
from tests.support.streams import count_on, stored_on

pytestmark = pytest.mark.integration

THOUSAND = 1_000


@dataclass(frozen=True)
class FiledByTwoReplicas:
    lead_ids: list[str]
    registrations: list[StoredEvent]  # the LeadRegistered events, in stream order
    live_numbers: dict[str, str]  # lead -> number, as the live read model lists them
    year: int
    # Messages each replica's NATS connection sent while filing: one filing takes about
    # five (pull, two reads, publish, ack); an idle replica sends a few dozen.
    messages_sent: tuple[int, ...]


@pytest.fixture
async def thousand_filed_by_two_replicas(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> FiledByTwoReplicas:
    """A thousand leads reported at once and filed by two ledger replicas sharing one
    database; both are stopped before the test runs its (synchronous) replay. Measured
    here: about 5.5 s from the first report to the thousandth registration."""
    js = streams
    settings = ledger_settings(nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    first, second = create_app(settings), create_app(settings)
    year = utc_now().astimezone(CHINA).year
    lead_ids: list[str] = []

    async def all_filed() -> bool:
        return await count_on(js, Stream.LEDGER, REGISTRATIONS) == THOUSAND

    async with serving(first) as http, serving(second):

        async def all_listed() -> bool:
            return (await listed(http, page_size=1))["total"] == THOUSAND

        for _ in range(THOUSAND // 100):
            lead_ids += await asyncio.gather(
                *(report(js, village="shd-v04", category=Category.PUBLIC_ORDER) for _ in range(100))
            )
        await wait_until(all_filed, timeout=90, interval=0.2)
        sent = tuple(
            app.state.runtime.broker.connection.stats["out_msgs"] for app in (first, second)
        )
        await wait_until(all_listed, timeout=30, interval=0.2)
        live = {
            item["lead_id"]: item["ledger_number"]
            for page in (1, 2)
            for item in (await listed(http, page=page, page_size=500))["items"]
        }
    registrations = await stored_on(js, Stream.LEDGER, REGISTRATIONS)
    return FiledByTwoReplicas(lead_ids, registrations, live, year, sent)


# A plain (not async) test: the CLI runs its own event loop, as it does for an operator.
def test_two_replicas_number_a_thousand_leads_without_gap_or_repeat_and_a_replay_agrees(
    thousand_filed_by_two_replicas: FiledByTwoReplicas, nats_target: NatsTarget, tmp_path: Path
) -> None:
    filed_ = thousand_filed_by_two_replicas
    numbers = [
        s.event.ledger_number for s in filed_.registrations if isinstance(s.event, LeadRegistered)
    ]
    registered_leads = [s.event.lead_id for s in filed_.registrations]

    assert min(filed_.messages_sent) > 500, (
        f"one replica filed (almost) nothing: {filed_.messages_sent}"
    )
    # In the order they were stored: 1, 2, 3 … 1000, each lead once.
    assert numbers == [f"SHD-{filed_.year}-{n:06d}" for n in range(1, THOUSAND + 1)]
    assert sorted(registered_leads) == sorted(filed_.lead_ids)
    by_stream = dict(zip(registered_leads, numbers, strict=True))
    assert filed_.live_numbers == by_stream

    rebuilt = tmp_path / "rebuilt.db"
    result = CliRunner().invoke(
        leadctl,
        [
            "--nats-url",
            nats_target.url,
            "--user",
            "",
            "replay",
            "ledger",
            "--db",
            f"sqlite:///{rebuilt}",
            "--json",
        ],
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["malformed"] == []
    engine = create_engine(f"sqlite:///{rebuilt}")
    with engine.connect() as conn:
        replayed = {
            row.lead_id: row.ledger_number
            for row in conn.execute(select(leads.c.lead_id, leads.c.ledger_number))
        }
    engine.dispose()
    assert replayed == filed_.live_numbers
