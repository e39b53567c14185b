"""A read model's new version is rebuilt beside the old one and switched to when caught up.

The release before serves ``probe`` version 1 (a row per reported lead) and goes on
serving it and applying new events. The next release declares version 2 (one column more,
its tables named apart): it is recorded as building, filled from the first event through
the same durable consumer while reads keep answering from version 1, made the serving one
once it has applied what version 1 had and what the stream held when its build began, and
version 1 is dropped after its grace period. On SQLite and PostgreSQL, against real
JetStream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from sqlalchemy import Column, Engine, MetaData, String, Table, create_engine, func, inspect, select

from common.batchwriter import BatchWriter
from common.database import sync_url
from common.deadletter import DeadLetters
from common.events.catalogue import LeadReported
from common.projection import (
    Projection,
    Tracker,
    projection_positions,
    projection_versions,
    versioned,
)
from common.readmodels import BUILDING, RETIRED, SERVING, ReadModels
from common.runner import ProjectionRunner, RunnerOptions
from common.subjects import Service, Stream
from common.vocabulary import Category
from intake.bootstrap import create_app as create_intake
from intake.projection import PROJECTION as INTAKE_READ_MODEL
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import random_key
from tests.support.intake import Keys, intake_settings, running
from tests.support.ledger import report

pytestmark = pytest.mark.integration

FAST = RunnerOptions(batch_size=50, fetch_timeout=0.2, retry_delay=0.01, ack_wait=2.0)
GRACE = 60.0  # seconds a retired version is kept
DURABLE = "test-probe"  # one durable, as the administrator provisions it, for every version


def probe(version: int) -> tuple[Projection, Table]:
    """The read model as release ``version`` declares it: version 2 keeps the category."""
    metadata = MetaData()
    columns = [Column("lead_id", String(64), primary_key=True), Column("village", String(40))]
    if version >= 2:
        columns.append(Column("category", String(40), nullable=False))
    items = Table(versioned("probe_items", version), metadata, *columns)

    def reported(db: BatchWriter, event: LeadReported) -> None:
        row: dict[str, Any] = {"lead_id": event.lead_id, "village": event.village}
        if version >= 2:
            row["category"] = event.category.value
        db.put(items, row)

    projection = Projection(
        name="probe",
        metadata=metadata,
        handlers={LeadReported.type_name(): reported},
        version=version,
    )
    return projection, items


def rows(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def states(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        found = conn.execute(
            select(projection_versions.c.version, projection_versions.c.state).where(
                projection_versions.c.projection == "probe"
            )
        ).all()
    return {version: state for version, state in found}


def runner(js: JetStreamContext, engine: Engine, projection: Projection, owner: str):  # type: ignore[no-untyped-def]
    return ProjectionRunner(
        js,
        Tracker(engine, projection, owner=owner),
        Stream.INTAKE,
        durable=DURABLE,
        dead_letters=DeadLetters(js, Service.INTAKE),
        options=FAST,
    )


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = create_engine(sync_url(database_url))
    yield made
    made.dispose()


@pytest.fixture
async def old_release(
    streams: JetStreamContext, engine: Engine
) -> AsyncIterator[tuple[ReadModels, ProjectionRunner, Table]]:
    """Version 1 serving, its runner applying, with 30 leads reported."""
    projection, items = probe(1)
    models = ReadModels(engine, [projection])
    assert models.prepare() == {"probe": SERVING}
    live = runner(streams, engine, projection, owner="old-release")
    await live.start()
    for _ in range(30):
        await report(streams, category=Category.VILLAGE_TYRANT)
    await wait_until(lambda: rows(engine, items) == 30, timeout=20)
    yield models, live, items
    await live.stop()


async def test_a_new_version_is_built_beside_the_old_and_switched_to_when_caught_up(
    streams: JetStreamContext,
    engine: Engine,
    old_release: tuple[ReadModels, ProjectionRunner, Table],
) -> None:
    js = streams
    _, old_runner, old_items = old_release
    projection, new_items = probe(2)
    new_release = ReadModels(engine, [projection], retire_after=GRACE)

    assert new_release.prepare() == {"probe": BUILDING}
    assert states(engine) == {1: SERVING, 2: BUILDING}
    # Not to be sent reads while its version is being built.
    assert new_release.problems() == {"read_model:probe": "building version 2"}
    assert set(inspect(engine).get_table_names()) >= {"probe_items", "probe_items_v2"}
    assert rows(engine, new_items) == 0

    async def last_sequence(stream: str) -> int:
        return int((await js.stream_info(stream)).state.last_seq or 0)

    # More leads while the new release builds: the old one goes on applying and answering.
    for _ in range(10):
        await report(js, category=Category.PUBLIC_ORDER)
    new_runner = runner(js, engine, projection, owner="new-release")
    await new_runner.start()
    switching = asyncio.create_task(
        new_release.switch_when_caught_up(projection, [Stream.INTAKE.value], last_sequence, 0.05)
    )
    try:
        answered_while_building = []
        while states(engine)[2] == BUILDING:
            answered_while_building.append(rows(engine, old_items))
            await asyncio.sleep(0.02)  # sampling the old read model between polls
        await asyncio.wait_for(switching, timeout=20)
    finally:
        switching.cancel()
        await new_runner.stop()

    assert answered_while_building, "the switch came before any read of the old version"
    assert all(count >= 30 for count in answered_while_building)
    assert states(engine) == {1: RETIRED, 2: SERVING}
    assert new_release.problems() == {}
    # Caught up: every lead reported, the new column filled from the events.
    assert rows(engine, new_items) == 40
    with engine.connect() as conn:
        categories = dict(
            conn.execute(
                select(new_items.c.category, func.count()).group_by(new_items.c.category)
            ).all()
        )
    assert categories == {
        Category.VILLAGE_TYRANT.value: 30,
        Category.PUBLIC_ORDER.value: 10,
    }

    # Within its grace period the retired version stays (a release before may still
    # read it, a rollback may resume it); after it, its tables and bookkeeping go.
    assert new_release.drop_retired() == []
    await old_runner.stop()
    dropped = new_release.drop_retired(now=time.time() + GRACE + 1)

    assert [(v.projection, v.version) for v in dropped] == [("probe", 1)]
    tables = set(inspect(engine).get_table_names())
    assert "probe_items" not in tables
    assert "probe_items_v2" in tables
    assert states(engine) == {2: SERVING}
    with engine.connect() as conn:
        kept = {
            r.projection
            for r in conn.execute(select(projection_positions.c.projection)).all()
            if r.projection.startswith("probe")
        }
    assert kept == {"probe_v2"}
    assert rows(engine, new_items) == 40


async def test_a_replica_of_the_new_release_follows_the_switch_another_made(
    streams: JetStreamContext,
    engine: Engine,
    old_release: tuple[ReadModels, ProjectionRunner, Table],
) -> None:
    """Two replicas of the new release starting together: the version's lease lets one of
    them write at a time; whichever sees it caught up first switches, the other finds it
    serving and is ready too."""
    js = streams
    projection, new_items = probe(2)
    first = ReadModels(engine, [projection], retire_after=GRACE)
    second = ReadModels(engine, [projection], retire_after=GRACE)
    assert first.prepare() == {"probe": BUILDING}
    assert second.prepare() == {"probe": BUILDING}

    async def last_sequence(stream: str) -> int:
        return int((await js.stream_info(stream)).state.last_seq or 0)

    builders = [runner(js, engine, projection, owner=f"replica-{n}") for n in (1, 2)]
    for each in builders:
        await each.start()
    try:
        await asyncio.wait_for(
            asyncio.gather(
                first.switch_when_caught_up(projection, ["INTAKE"], last_sequence, 0.05),
                second.switch_when_caught_up(projection, ["INTAKE"], last_sequence, 0.05),
            ),
            timeout=20,
        )
    finally:
        for each in builders:
            await each.stop()

    assert first.problems() == {}
    assert second.problems() == {}
    assert states(engine) == {1: RETIRED, 2: SERVING}
    assert rows(engine, new_items) == 30


async def test_a_service_is_not_ready_until_its_version_of_a_read_model_caught_up(
    streams: JetStreamContext, nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> None:
    """Intake rolled back to a release whose read model is an older version, on a database
    where the next version serves (applied up to INTAKE's sequence 3, more than the stream
    holds yet): intake rebuilds its version beside it and says it is not ready, naming the
    read model, until its version has applied as much; then it switches and is ready."""
    mine = INTAKE_READ_MODEL.version
    newer = mine + 1
    engine = create_engine(sync_url(database_url))
    try:
        ReadModels(engine, []).prepare()  # the bookkeeping tables
        with engine.begin() as conn:
            conn.execute(
                projection_versions.insert().values(
                    projection="intake",
                    version=newer,
                    state=SERVING,
                    tables=f'["intake_reports_v{newer}"]',
                    changed_at=time.time(),
                )
            )
            conn.execute(
                projection_positions.insert().values(
                    projection=f"intake_v{newer}", stream=Stream.INTAKE.value, sequence=3
                )
            )
        app = create_intake(intake_settings(nats_target, database_url, tmp_path, _keys()))
        async with running(app) as http:
            waiting = await http.get("/readyz")
            assert waiting.status_code == 503
            assert waiting.json()["problems"]["read_model:intake"] == f"building version {mine}"
            for _ in range(3):
                await report(streams)

            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await wait_until(ready, timeout=20, interval=0.1)
        with engine.connect() as conn:
            found = dict(
                conn.execute(
                    select(projection_versions.c.version, projection_versions.c.state).where(
                        projection_versions.c.projection == "intake"
                    )
                ).all()
            )
        assert found == {mine: SERVING, newer: RETIRED}
    finally:
        engine.dispose()


def _keys() -> Keys:
    return Keys(identity=random_key(), receipt=random_key())
