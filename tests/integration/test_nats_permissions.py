"""The broker enforces separation of duties: deploy/nats/auth.conf against a real nats-server.

After the administrator's provisioning (streams and every durable consumer), every service
does its own work under its own user, and each forbidden read or write fails in both ways a
denial shows (notes/nats-permissions.md, trap 2): the operation yields nothing, and the
server reports a permissions violation to the connection's error callback. The full matrix
of who may learn what about which stream, and the two attacks it closes, are in
test_nats_permission_matrix.py.
"""

from __future__ import annotations

import contextlib
import copy
import secrets
from collections.abc import Iterator
from pathlib import Path

import nats.errors
import pytest
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType, StreamSource
from nats.js.errors import BadRequestError, NotFoundError
from prometheus_client import REGISTRY
from sqlalchemy import Engine, create_engine

from common.consumers import DURABLES, PROVISION_HINT, Kind
from common.deadletter import DeadLetters
from common.events import encode
from common.eventstore import EventStore
from common.projection import Tracker
from common.runner import ProjectionRunner, RunnerOptions
from common.subjects import STREAM_SUBJECTS, Service, Stream
from intake.bootstrap import create_app as intake_app
from intake.settings import IntakeSettings
from ledger.bootstrap import create_app as ledger_app
from ledger.settings import LedgerSettings
from oversight.bootstrap import create_app as oversight_app
from oversight.settings import OversightSettings
from tests.conftest import wait_until
from tests.support import projections
from tests.support.apps import random_key, serving, write_staff
from tests.support.factories import reported
from tests.support.nats_users import (
    ALLOWED,
    DENIED,
    PermissionedServer,
    connected,
    permissioned_server,
)

pytestmark = pytest.mark.integration

FAST = RunnerOptions(batch_size=20, fetch_timeout=0.2, retry_delay=0.01)


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PermissionedServer]:
    with permissioned_server(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="module")
async def streams(nats_server: PermissionedServer) -> list[Stream]:
    """Provisioned as `make run`, compose and Kubernetes do: streams and durables, as admin."""
    assert await nats_server.provision() == []
    return list(Stream)


async def _last_sequence(server: PermissionedServer, stream: Stream) -> int:
    async with connected(server, "admin") as admin:
        info = await admin.jsm.stream_info(stream.value)
        return info.state.last_seq


# --- provisioning --------------------------------------------------------------------


async def test_provisioning_makes_all_eight_streams_and_every_listed_durable_as_listed(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "admin") as admin:
        infos = [await admin.jsm.stream_info(stream.value) for stream in streams]
        consumers = {
            d.name: (await admin.jsm.consumer_info(d.stream.value, d.name)).config for d in DURABLES
        }

    assert {info.config.name for info in infos} == {s.value for s in Stream}
    assert all(info.config.storage == StorageType.FILE for info in infos)
    for durable in DURABLES:
        stored, listed = consumers[durable.name], durable.config()
        assert (stored.filter_subject, stored.ack_policy, stored.max_deliver) == (
            listed.filter_subject,
            listed.ack_policy,
            listed.max_deliver,
        ), durable.name
        assert stored.ack_wait == listed.ack_wait
        assert stored.deliver_subject is None, "pull consumers only"
        if durable.kind is Kind.PROJECTION:
            assert stored.filter_subject is None, "a projection reads its whole stream"
            assert stored.max_ack_pending == listed.max_ack_pending


async def test_provisioning_again_keeps_each_durable_and_brings_an_old_one_to_the_listing(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    # A durable as an earlier release's runner made it: filtered, started past a position.
    old = "oversight-oversight-DIRECTIVES"
    async with connected(nats_server, "admin") as admin:
        await admin.jsm.delete_consumer(Stream.DIRECTIVES.value, old)
        await admin.jsm.add_consumer(
            Stream.DIRECTIVES.value,
            ConsumerConfig(
                durable_name=old,
                filter_subject="directive.>",
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=5,
                max_ack_pending=2000,
            ),
        )
        kept = await admin.jsm.consumer_info(Stream.INTAKE.value, "ledger-registrar")

        drifted = await nats_server.provision()

        upgraded = await admin.jsm.consumer_info(Stream.DIRECTIVES.value, old)
        again = await admin.jsm.consumer_info(Stream.INTAKE.value, "ledger-registrar")

    assert drifted == []
    assert again.created == kept.created
    assert upgraded.config.filter_subject is None
    assert upgraded.config.max_ack_pending == 40_000
    # Where it starts cannot change, and need not: the runner follows its database.
    assert (upgraded.config.deliver_policy, upgraded.config.opt_start_seq) == (
        DeliverPolicy.BY_START_SEQUENCE,
        5,
    )


# --- every user can do its own work -------------------------------------------------


async def test_intake_publishes_a_lead_report_and_gets_a_pub_ack(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "intake") as intake:
        ack = await intake.js.publish(
            "intake.lead.L1.LeadReported", b'{"report": "first"}', stream=Stream.INTAKE.value
        )
    assert ack.stream == Stream.INTAKE.value
    assert ack.seq >= 1
    assert intake.errors == []


async def test_ledger_pulls_a_lead_report_through_its_provisioned_durable_and_acks_it(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    body = b'{"report": "' + secrets.token_hex(8).encode() + b'"}'
    async with connected(nats_server, "intake") as intake:
        await intake.js.publish("intake.lead.L1.LeadReported", body, stream=Stream.INTAKE.value)

    async with connected(nats_server, "ledger") as ledger:
        # As FastStream does: nats-py looks the durable up and binds, creating nothing.
        sub = await ledger.js.pull_subscribe(
            "intake.lead.*.LeadReported", durable="ledger-registrar", stream=Stream.INTAKE.value
        )
        fetched = await sub.fetch(batch=100, timeout=ALLOWED)
        for msg in fetched:
            await msg.ack_sync(timeout=ALLOWED)
        info = await ledger.jsm.consumer_info(Stream.INTAKE.value, "ledger-registrar")

    assert body in [msg.data for msg in fetched]
    assert info.num_ack_pending == 0
    assert ledger.errors == []


async def test_ledger_reads_its_own_stream_directly_after_publishing(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    subject = "ledger.lead.L1.LeadRegistered"
    async with connected(nats_server, "ledger") as ledger:
        ack = await ledger.js.publish(subject, b'{"unit": "U7"}', stream=Stream.LEDGER.value)
        # By sequence ($JS.API.DIRECT.GET.LEDGER, what EventStore.read_lead uses) ...
        by_seq = await ledger.jsm.get_msg(
            Stream.LEDGER.value, seq=ack.seq, subject="ledger.lead.L1.>", next=True, direct=True
        )
        # ... last by subject ($JS.API.DIRECT.GET.LEDGER.<subject>) ...
        last = await ledger.jsm.get_last_msg(Stream.LEDGER.value, subject, direct=True)
        # ... and the non-direct API ($JS.API.STREAM.MSG.GET.LEDGER).
        stored = await ledger.jsm.get_msg(Stream.LEDGER.value, seq=ack.seq)

    assert by_seq.seq == last.seq == stored.seq == ack.seq
    assert by_seq.data == last.data == stored.data == b'{"unit": "U7"}'
    assert ledger.errors == []


async def test_intake_and_ledger_write_their_audit_records_without_any_look_at_the_audit_stream(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    for user in ("intake", "ledger"):
        async with connected(nats_server, user) as conn:
            ack = await conn.js.publish(
                f"audit.{user}.lead.L1.LeadViewed", b"{}", stream=Stream.AUDIT.value
            )
        assert ack.stream == Stream.AUDIT.value
        assert conn.errors == []


async def test_oversight_reads_audit_and_issues_a_directive_that_ledger_consumes(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    marker = secrets.token_hex(8).encode()
    async with connected(nats_server, "ledger") as ledger:
        await ledger.js.publish(
            "audit.ledger.lead.L1.LeadViewed",
            b'{"viewer": "' + marker + b'"}',
            stream=Stream.AUDIT.value,
        )

    async with connected(nats_server, "oversight") as oversight:
        viewed = await oversight.jsm.get_last_msg(
            Stream.AUDIT.value, "audit.ledger.lead.L1.LeadViewed", direct=True
        )
        # Only through its own durable consumer: no user but the admin makes consumers.
        audit = await oversight.js.pull_subscribe(
            "audit.>", durable="oversight-oversight-AUDIT", stream=Stream.AUDIT.value
        )
        audited = await audit.fetch(batch=100, timeout=ALLOWED)
        for msg in audited:
            await msg.ack()
        await oversight.js.publish(
            "directive.lead.L1.DisciplineOutcome",
            b'{"directive": "' + marker + b'"}',
            stream=Stream.DIRECTIVES.value,
        )

    async with connected(nats_server, "ledger") as ledger:
        directives = await ledger.js.pull_subscribe(
            "directive.lead.*.DisciplineOutcome",
            durable="ledger-outcomes",
            stream=Stream.DIRECTIVES.value,
        )
        received = await directives.fetch(batch=100, timeout=ALLOWED)
        for msg in received:
            await msg.ack_sync(timeout=ALLOWED)

    assert viewed.data is not None
    assert marker in viewed.data
    assert any(marker in msg.data for msg in audited)
    assert [m.subject for m in received if marker in m.data] == [
        "directive.lead.L1.DisciplineOutcome"
    ]
    assert oversight.errors == []
    assert ledger.errors == []


async def test_leadctl_reads_every_stream_and_writes_only_its_audit_records(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "intake") as intake:
        ack = await intake.js.publish(
            "intake.lead.L3.LeadReported", b'{"report": "L3"}', stream=Stream.INTAKE.value
        )

    async with connected(nats_server, "leadctl", api_timeout=DENIED) as leadctl:
        # What `leadctl status` shows: each stream, its consumers and their lag.
        names = {(await leadctl.jsm.stream_info(s.value)).config.name for s in streams}
        lagging = [c.name for s in streams for c in await leadctl.js.consumers_info(s.value)]
        for stream in streams:
            # An empty stream answers "not found": an answer at all means reading is allowed.
            with contextlib.suppress(NotFoundError):
                await leadctl.jsm.get_msg(stream.value, seq=1, direct=True)
        # Paging through one lead the way EventStore.read_lead does.
        first = await leadctl.jsm.get_msg(
            Stream.INTAKE.value, seq=1, subject="intake.lead.L3.>", next=True, direct=True
        )
        await leadctl.js.publish("audit.leadctl.global.LedgerExported", b"{}")

        # Read-only: no consumers (which could update or drain a service's durable) ...
        with pytest.raises(nats.errors.TimeoutError):
            await leadctl.js.pull_subscribe("intake.>", stream=Stream.INTAKE.value)
        await leadctl.violation_for("$JS.API.CONSUMER.CREATE.INTAKE")
        # ... and no events.
        with pytest.raises(nats.errors.TimeoutError):
            await leadctl.js.publish("intake.lead.L1.LeadReported", b"{}")
        await leadctl.violation_for("intake.lead.L1.LeadReported")

    assert names == {s.value for s in Stream}
    assert set(lagging) == {d.name for d in DURABLES}
    assert (first.seq, first.data) == (ack.seq, b'{"report": "L3"}')
    assert len(leadctl.violations()) == 2


# --- services and their runners, under their own users ------------------------------


def _settings(server: PermissionedServer, tmp_path: Path) -> dict[str, object]:
    users = write_staff(tmp_path / "users.toml")
    common: dict[str, object] = {"nats_url": server.url, "users_file": users}
    return {
        "intake": IntakeSettings(
            **common,
            nats_password=server.passwords["intake"],
            database_url=f"sqlite:///{tmp_path / 'intake.db'}",
            identity_key=random_key(),
            receipt_key=random_key(),
            work_bits_report=4,
            work_bits_receipt=4,
        ),
        "ledger": LedgerSettings(
            **common,
            nats_password=server.passwords["ledger"],
            database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        ),
        "oversight": OversightSettings(
            **common,
            nats_password=server.passwords["oversight"],
            database_url=f"sqlite:///{tmp_path / 'oversight.db'}",
        ),
    }


async def test_each_service_runs_under_its_own_user_and_an_umbrella_report_reaches_the_committee(
    nats_server: PermissionedServer, streams: list[Stream], tmp_path: Path
) -> None:
    settings = _settings(nats_server, tmp_path)
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
            lambda: _stored(nats_server, "LEDGER", f"ledger.lead.{lead_id}.LeadRegistered"),
            timeout=20,
        )
        await wait_until(
            lambda: _stored(nats_server, "OVERSIGHT", f"oversight.lead.{lead_id}.CaseOpened"),
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


async def _stored(server: PermissionedServer, stream: str, subject: str) -> bool:
    async with connected(server, "admin") as admin:
        try:
            await admin.jsm.get_last_msg(stream, subject, direct=True)
        except NotFoundError:
            return False
    return True


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
    nats_server: PermissionedServer, streams: list[Stream], tmp_path: Path
) -> None:
    durable = "intake-intake-INTAKE"
    engine = create_engine(f"sqlite:///{tmp_path / 'caught-up.db'}")
    async with connected(nats_server, "intake") as intake:
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
    nats_server: PermissionedServer, streams: list[Stream], tmp_path: Path
) -> None:
    durable = "intake-intake-LEDGER"
    async with connected(nats_server, "admin") as admin:
        await admin.jsm.delete_consumer(Stream.LEDGER.value, durable)
        marker = reported()
        await admin.js.publish(
            f"ledger.lead.{marker.lead_id}.LeadReported",
            encode(marker),
            headers={"Nats-Msg-Id": marker.event_id},  # as an append stores it
        )
    engine = create_engine(f"sqlite:///{tmp_path / 'missing.db'}")
    async with connected(nats_server, "intake", api_timeout=DENIED) as intake:
        runner = _runner(intake.js, engine, Stream.LEDGER, durable)
        await runner.start()
        try:
            await wait_until(lambda: runner.problem is not None and durable in runner.problem)
            problem = runner.problem
            await intake.violation_for(f"$JS.API.CONSUMER.CREATE.LEDGER.{durable}")
            assert not runner.healthy

            assert await nats_server.provision() == []
            await wait_until(lambda: marker.event_id in _applied(engine), timeout=20)
            healthy = runner.healthy
        finally:
            await runner.stop()
    engine.dispose()

    assert problem is not None
    assert PROVISION_HINT in problem
    assert f"{Stream.LEDGER.value}/{durable}" in problem
    assert healthy


# --- denials -----------------------------------------------------------------------


async def test_ledger_cannot_create_a_consumer_on_oversight(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.add_consumer(
                Stream.OVERSIGHT.value, ConsumerConfig(durable_name="ledger-spy")
            )
        await ledger.violation_for("$JS.API.CONSUMER.DURABLE.CREATE.OVERSIGHT.ledger-spy")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.js.pull_subscribe(
                "oversight.>", durable="ledger-spy2", stream=Stream.OVERSIGHT.value
            )
        await ledger.violation_for("$JS.API.CONSUMER.INFO.OVERSIGHT.ledger-spy2")


async def test_ledger_cannot_touch_the_committees_consumer_on_the_ledger_stream(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    # Both read LEDGER; the committee's consumer there opens a case for every lead the
    # ledger hands to it. The ledger must not be able to drain, ack away or delete it.
    durable = "oversight-cases-from-transfers"
    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.delete_consumer(Stream.LEDGER.value, durable)
        await ledger.violation_for(f"$JS.API.CONSUMER.DELETE.LEDGER.{durable}")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.consumer_info(Stream.LEDGER.value, durable)
        await ledger.violation_for(f"$JS.API.CONSUMER.INFO.LEDGER.{durable}")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.add_consumer(
                Stream.LEDGER.value, ConsumerConfig(name="unnamed-takeover", durable_name=durable)
            )
        await ledger.violation_for("$JS.API.CONSUMER.CREATE.LEDGER.unnamed-takeover")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.nc.request(
                f"$JS.API.CONSUMER.MSG.NEXT.LEDGER.{durable}", b'{"batch": 1}', timeout=DENIED
            )
        await ledger.violation_for(f"$JS.API.CONSUMER.MSG.NEXT.LEDGER.{durable}")
    async with connected(nats_server, "admin") as admin:
        info = await admin.jsm.consumer_info(Stream.LEDGER.value, durable)
    assert info.config.filter_subject == "ledger.lead.*.LeadTransferred"


async def test_ledger_cannot_direct_get_from_oversight(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "oversight") as oversight:
        await oversight.js.publish(
            "oversight.lead.L1.CaseOpened", b'{"case": "C1"}', stream=Stream.OVERSIGHT.value
        )

    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.get_msg(Stream.OVERSIGHT.value, seq=1, direct=True)
        await ledger.violation_for("$JS.API.DIRECT.GET.OVERSIGHT")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.get_last_msg(
                Stream.OVERSIGHT.value, "oversight.lead.L1.CaseOpened", direct=True
            )
        await ledger.violation_for("$JS.API.DIRECT.GET.OVERSIGHT.oversight.lead.L1.CaseOpened")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.get_msg(Stream.OVERSIGHT.value, seq=1)
        await ledger.violation_for("$JS.API.STREAM.MSG.GET.OVERSIGHT")


async def test_ledger_cannot_publish_oversight_events(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    before = await _last_sequence(nats_server, Stream.OVERSIGHT)
    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.js.publish("oversight.lead.L1.CaseOpened", b'{"forged": true}')
        await ledger.violation_for("oversight.lead.L1.CaseOpened")
    assert await _last_sequence(nats_server, Stream.OVERSIGHT) == before


async def test_intake_cannot_publish_ledger_events(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    before = await _last_sequence(nats_server, Stream.LEDGER)
    async with connected(nats_server, "intake", api_timeout=DENIED) as intake:
        with pytest.raises(nats.errors.TimeoutError):
            await intake.js.publish("ledger.lead.L1.LeadRegistered", b'{"forged": true}')
        await intake.violation_for("ledger.lead.L1.LeadRegistered")
    assert await _last_sequence(nats_server, Stream.LEDGER) == before


async def test_ledger_cannot_read_the_audit_trail(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.js.pull_subscribe("audit.>", stream=Stream.AUDIT.value)
        await ledger.violation_for("$JS.API.CONSUMER.CREATE.AUDIT")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.get_msg(Stream.AUDIT.value, seq=1, direct=True)
        await ledger.violation_for("$JS.API.DIRECT.GET.AUDIT")


async def test_ledger_listening_on_every_inbox_sees_nothing_of_what_oversight_pulls(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    secret = b'{"case": "' + secrets.token_hex(8).encode() + b'"}'
    spied: dict[str, list[Msg]] = {">": [], "_INBOX_oversight.>": [], "_INBOX.>": []}

    async with (
        connected(nats_server, "admin") as admin,
        connected(nats_server, "ledger") as ledger,
    ):
        # Control: a user allowed to listen on oversight's inbox does see the delivery, so
        # the ledger's silence below is the permissions' doing.
        seen_by_admin: list[Msg] = []

        async def admin_cb(msg: Msg) -> None:
            seen_by_admin.append(msg)

        await admin.nc.subscribe("_INBOX_oversight.>", cb=admin_cb)
        await admin.nc.flush()

        for subject, got in spied.items():

            async def spy_cb(msg: Msg, got: list[Msg] = got) -> None:
                got.append(msg)

            await ledger.nc.subscribe(subject, cb=spy_cb)
        for subject in spied:
            await ledger.violation_for(subject)

        async with connected(nats_server, "oversight") as oversight:
            await oversight.js.publish(
                "oversight.lead.L2.CaseOpened", secret, stream=Stream.OVERSIGHT.value
            )
            sub = await oversight.js.pull_subscribe(
                "oversight.>",
                durable="oversight-oversight-OVERSIGHT",
                stream=Stream.OVERSIGHT.value,
            )
            pulled: list[Msg] = []
            while secret not in [m.data for m in pulled]:
                batch = await sub.fetch(batch=100, timeout=ALLOWED)
                for msg in batch:
                    await msg.ack_sync(timeout=ALLOWED)
                pulled.extend(batch)

        # Everything the server sent either listener before answering these pings has
        # been read, so the counts below are final.
        await admin.nc.flush(timeout=int(ALLOWED))
        await ledger.nc.flush(timeout=int(ALLOWED))

    assert oversight.errors == []
    assert secret in [msg.data for msg in seen_by_admin]
    assert {subject: len(got) for subject, got in spied.items()} == dict.fromkeys(spied, 0)
    assert len(ledger.violations()) == len(spied)


async def test_ledger_cannot_reconfigure_a_stream_to_copy_oversight_or_capture_its_inbox(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        provisioned = (await ledger.jsm.stream_info(Stream.LEDGER.value)).config
        # Declaring its stream with the provisioned configuration is allowed and harmless ...
        await ledger.jsm.add_stream(provisioned)

        copying = copy.deepcopy(provisioned)
        copying.sources = [StreamSource(name=Stream.OVERSIGHT.value)]
        # ... a different configuration the server refuses on create ...
        with pytest.raises(BadRequestError, match="different configuration"):
            await ledger.jsm.add_stream(copying)
        # ... and the update it would need is not granted.
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.update_stream(copying)
        await ledger.violation_for("$JS.API.STREAM.UPDATE.LEDGER")

        capturing = copy.deepcopy((await ledger.jsm.stream_info(Stream.DLQ_LEDGER.value)).config)
        capturing.subjects = [*(capturing.subjects or []), "_INBOX_oversight.>"]
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.update_stream(capturing)
        await ledger.violation_for("$JS.API.STREAM.UPDATE.DLQ_LEDGER")

    async with connected(nats_server, "admin") as admin:
        ledger_stream = await admin.jsm.stream_info(Stream.LEDGER.value)
        dlq = await admin.jsm.stream_info(Stream.DLQ_LEDGER.value)
    assert not ledger_stream.config.sources
    assert dlq.config.subjects == [STREAM_SUBJECTS[Stream.DLQ_LEDGER]]


async def test_no_service_can_shrink_the_audit_trail(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "intake") as intake:
        for n in range(2):
            await intake.js.publish(
                "audit.intake.lead.L4.LeadViewed",
                f'{{"n": {n}}}'.encode(),
                stream=Stream.AUDIT.value,
            )
    before = await _last_sequence(nats_server, Stream.AUDIT)
    async with connected(nats_server, "admin") as admin:
        shrunk = copy.deepcopy((await admin.jsm.stream_info(Stream.AUDIT.value)).config)
    shrunk.max_msgs = 1  # would delete all but the newest record, deny_delete or not

    for user in ("intake", "ledger", "oversight"):
        async with connected(nats_server, user, api_timeout=DENIED) as conn:
            with pytest.raises(nats.errors.TimeoutError):
                await conn.jsm.update_stream(shrunk)
            await conn.violation_for("$JS.API.STREAM.UPDATE.AUDIT")

    async with connected(nats_server, "admin") as admin:
        audit = await admin.jsm.stream_info(Stream.AUDIT.value)
    assert audit.state.last_seq == before
    assert audit.state.messages == before
