"""The services and their projection runners under their own NATS users: the three services
together take an umbrella report to the committee without tripping a permission; a runner
restarting with a durable that delivered past its position needs no new rights; and a runner
whose durable is missing names it for the administrator and recovers once it is provisioned."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, create_engine

from common.consumers import PROVISION_HINT
from common.deadletter import DeadLetters
from common.events import encode
from common.eventstore import EventStore
from common.projection import Tracker
from common.runner import ProjectionRunner, RunnerOptions
from common.subjects import Service, Stream
from intake.bootstrap import create_app as intake_app
from ledger.bootstrap import create_app as ledger_app
from oversight.bootstrap import create_app as oversight_app
from tests.conftest import wait_until
from tests.support import projections
from tests.support.apps import serving
from tests.support.factories import reported
from tests.support.nats_users import ALLOWED, DENIED, PermissionedServer, connected
from tests.support.service_users import is_stored, service_settings

pytestmark = pytest.mark.integration

FAST = RunnerOptions(batch_size=20, fetch_timeout=0.2, retry_delay=0.01)


async def test_each_service_runs_under_its_own_user_and_an_umbrella_report_reaches_the_committee(
    provisioned: PermissionedServer, tmp_path: Path
) -> None:
    settings = service_settings(provisioned, tmp_path)
    violations_before = _violations_seen_by_services()
    async with (
        serving(intake_app(settings["intake"])) as intake,  # type: ignore[arg-type]
        serving(ledger_app(settings["ledger"])) as ledger,  # type: ignore[arg-type]
        serving(oversight_app(settings["oversight"])) as oversight,  # type: ignore[arg-type]
    ):
        for service in (intake, ledger, oversight):
            await wait_until(lambda s=service: _ready(s), timeout=20)
        answer = await intake.post(
            "/v1/reports",
            json={
                "category": "protective_umbrella",
                "summary": f"某站所人员为砂石盗采团伙通风报信（{secrets.token_hex(4)}）",
                "village": "shd-v01",
            },
        )
        assert answer.status_code == 201, answer.text
        lead_id = answer.json()["lead_id"]
        # intake -> ledger's registrar -> LEDGER; intake -> the committee's reactor -> a case.
        await wait_until(
            lambda: is_stored(provisioned, "LEDGER", f"ledger.lead.{lead_id}.LeadRegistered"),
            timeout=20,
        )
        await wait_until(
            lambda: is_stored(provisioned, "OVERSIGHT", f"oversight.lead.{lead_id}.CaseOpened"),
            timeout=20,
        )
        ready = [(await s.get("/readyz")).status_code for s in (intake, ledger, oversight)]

    assert ready == [200, 200, 200]
    assert _violations_seen_by_services() == violations_before, "no service tripped a permission"


def _violations_seen_by_services() -> float:
    return REGISTRY.get_sample_value("nats_permission_violations_total") or 0.0


async def _ready(client: object) -> bool:
    answer = await client.get("/readyz")  # type: ignore[attr-defined]
    return bool(answer.status_code == 200)


def _runner(conn_js: object, engine: Engine, stream: Stream, durable: str) -> ProjectionRunner:
    return ProjectionRunner(
        conn_js,  # type: ignore[arg-type]
        Tracker(engine, projections.recording_projection(), owner="replica-a"),
        stream,
        durable=durable,
        dead_letters=DeadLetters(conn_js, Service.INTAKE),  # type: ignore[arg-type]
        options=FAST,
    )


def _applied(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [event_id for event_id, _ in projections.applied(conn)]


async def test_a_runner_restarting_with_a_durable_that_delivered_past_its_position_needs_no_new_rights(
    provisioned: PermissionedServer, tmp_path: Path
) -> None:
    durable = "intake-intake-INTAKE"
    engine = create_engine(f"sqlite:///{tmp_path / 'caught-up.db'}")
    async with connected(provisioned, "intake") as intake:
        store = EventStore(intake.js, Stream.INTAKE, "intake")
        ids = []
        for _ in range(30):
            event = reported()
            await store.append(event)
            ids.append(event.event_id)
        # A replica that pulled a batch and died before applying it.
        held = await intake.js.pull_subscribe_bind(durable, stream=Stream.INTAKE.value)
        await held.fetch(10, timeout=ALLOWED)
        await held.unsubscribe()
        before = await intake.jsm.consumer_info(Stream.INTAKE.value, durable)

        runner = _runner(intake.js, engine, Stream.INTAKE, durable)
        await runner.start()
        try:
            await wait_until(lambda: set(ids) <= set(_applied(engine)))
            after = await intake.jsm.consumer_info(Stream.INTAKE.value, durable)
        finally:
            await runner.stop()
    engine_rows = _applied(engine)
    engine.dispose()

    assert before.num_ack_pending == 10, "delivered past the position, never acknowledged"
    assert len(engine_rows) == len(set(engine_rows)), "nothing applied twice"
    assert [e for e in engine_rows if e in ids] == ids
    assert after.created == before.created
    assert intake.errors == [], "nothing asked that the user may not"


async def test_a_runner_whose_durable_is_missing_names_it_for_the_admin_and_recovers_once_provisioned(
    provisioned: PermissionedServer, tmp_path: Path
) -> None:
    durable = "intake-intake-LEDGER"
    async with connected(provisioned, "admin") as admin:
        await admin.jsm.delete_consumer(Stream.LEDGER.value, durable)
        marker = reported()
        await admin.js.publish(
            f"ledger.lead.{marker.lead_id}.LeadReported",
            encode(marker),
            headers={"Nats-Msg-Id": marker.event_id},  # as an append stores it
        )
    engine = create_engine(f"sqlite:///{tmp_path / 'missing.db'}")
    async with connected(provisioned, "intake", api_timeout=DENIED) as intake:
        runner = _runner(intake.js, engine, Stream.LEDGER, durable)
        await runner.start()
        try:
            await wait_until(lambda: runner.problem is not None and durable in runner.problem)
            problem = runner.problem
            await intake.violation_for(f"$JS.API.CONSUMER.CREATE.LEDGER.{durable}")
            assert not runner.healthy

            assert await provisioned.provision() == []
            await wait_until(lambda: marker.event_id in _applied(engine), timeout=20)
            healthy = runner.healthy
        finally:
            await runner.stop()
    engine.dispose()

    assert problem is not None
    assert PROVISION_HINT in problem
    assert f"{Stream.LEDGER.value}/{durable}" in problem
    assert healthy
