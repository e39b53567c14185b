"""One list of durable consumers (common.consumers) that provisioning, the services and the
deployment's permission file agree on: every durable a service binds to is listed, with the
configuration the service would have created, and is granted to that service's NATS user by
its exact name, to bind, pull and acknowledge only. No user but the admin may create, change
or delete a consumer."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from nats.js.api import ConsumerConfig
from sqlalchemy import create_engine

from common.consumers import DURABLES, Kind, durables_of, reactor_config
from common.deadletter import DeadLetters
from common.projection import Tracker
from common.runner import ProjectionRunner
from common.service import ServiceRuntime
from common.subjects import Service, Stream, subject_matches
from intake.bootstrap import create_app as intake_app
from intake.settings import IntakeSettings
from ledger.bootstrap import create_app as ledger_app
from ledger.settings import LedgerSettings
from oversight.bootstrap import create_app as oversight_app
from oversight.settings import OversightSettings
from tests.support.apps import random_key

AUTH = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "auth.conf"
SERVICES = ("intake", "ledger", "oversight")
USERS = (*SERVICES, "leadctl")


@pytest.fixture(scope="module")
def runtimes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ServiceRuntime]:
    db = f"sqlite:///{tmp_path_factory.mktemp('grants') / 'x.db'}"
    apps: dict[str, FastAPI] = {
        "intake": intake_app(
            IntakeSettings(
                database_url=db,
                identity_key=random_key(),
                receipt_key=random_key(),
                signing_key=random_key(),
            )
        ),
        "ledger": ledger_app(LedgerSettings(database_url=db)),
        "oversight": oversight_app(OversightSettings(database_url=db)),
    }
    return {name: app.state.runtime for name, app in apps.items()}


def _publish_allowed(user: str) -> list[str]:
    block = AUTH.read_text().split(f"user: {user}\n", 1)[1].split("user: ", 1)[0]
    publish = block.split("publish:", 1)[1].split("subscribe:", 1)[0]
    return re.findall(r'"([^"]+)"', publish)


def _granted(user: str, api: str) -> set[tuple[str, str]]:
    """(stream, durable) of each grant ``<api>.<stream>.<durable>`` the user has."""
    pattern = re.compile(re.escape(api) + r"\.(\w+)\.([\w-]+)$")
    found = (pattern.match(grant) for grant in _publish_allowed(user))
    return {(m[1], m[2]) for m in found if m}


def _allows(user: str, subject: str) -> bool:
    return any(subject_matches(subject, grant) for grant in _publish_allowed(user))


def _as_created_by_nats_py(config: ConsumerConfig, subject: str, durable: str) -> ConsumerConfig:
    """What nats-py's ``pull_subscribe`` sends to create a missing durable from the config
    FastStream hands it (nats/js/client.py: filter subject, name and durable name)."""
    created = copy.deepcopy(config)
    if not created.filter_subjects:
        created.filter_subject = subject
    created.name = durable
    created.durable_name = durable
    return created


@pytest.mark.parametrize("service", SERVICES)
def test_each_durable_a_service_binds_to_is_listed_for_provisioning(
    service: str, runtimes: dict[str, ServiceRuntime]
) -> None:
    made = runtimes[service].consumers()

    assert made, "the service makes consumers"
    assert made == {(d.stream.value, d.name) for d in durables_of(Service(service))}


@pytest.mark.parametrize("service", SERVICES)
def test_a_reactors_durable_is_provisioned_as_faststream_and_nats_py_would_create_it(
    service: str, runtimes: dict[str, ServiceRuntime]
) -> None:
    listed = {d.name: d for d in durables_of(Service(service)) if d.kind is Kind.REACTOR}
    subscribers = runtimes[service].broker.subscribers

    created = {
        sub.extra_options["durable"]: (
            sub.extra_options["stream"],
            _as_created_by_nats_py(
                sub.config, sub.subject.broker_address, sub.extra_options["durable"]
            ),
        )
        for sub in subscribers
    }
    # A reactor fed in batches (common.batched) pulls on its own, and creates its durable
    # where it may with the listed configuration itself.
    runtime = runtimes[service]
    for durable, stream in runtime.reactor_streams.items():
        created.setdefault(
            durable, (stream.value, reactor_config(durable, runtime.reactor_subjects[durable]))
        )

    assert set(created) == set(listed)
    for name, (stream, config) in created.items():
        assert stream == listed[name].stream.value
        assert config.as_dict() == listed[name].config().as_dict(), name


@pytest.mark.parametrize("service", SERVICES)
def test_a_projections_durable_is_provisioned_as_its_runner_would_create_it(
    service: str, runtimes: dict[str, ServiceRuntime], tmp_path: Path
) -> None:
    runtime = runtimes[service]
    listed = {d.name: d for d in durables_of(Service(service)) if d.kind is Kind.PROJECTION}
    engine = create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    runners = [
        ProjectionRunner(
            None,  # type: ignore[arg-type]  # the configuration needs no connection
            Tracker(engine, sub.projection, owner="test"),
            sub.stream,
            durable=runtime._projection_durable(sub),
            dead_letters=DeadLetters(None, runtime.service),  # type: ignore[arg-type]
            filter_subject=sub.filter_subject,
        )
        for sub in runtime.subscriptions
    ]

    assert {r.durable for r in runners} == set(listed)
    for runner in runners:
        assert runner.stream is listed[runner.durable].stream
        assert runner.consumer_config().as_dict() == listed[runner.durable].config().as_dict()
    engine.dispose()


def test_the_listing_holds_every_durable_once_and_nothing_the_services_do_not_bind_to(
    runtimes: dict[str, ServiceRuntime],
) -> None:
    made = set().union(*(runtime.consumers() for runtime in runtimes.values()))

    assert len({(d.stream, d.name) for d in DURABLES}) == len(DURABLES)
    assert {(d.stream.value, d.name) for d in DURABLES} == made


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(
    "api", ["$JS.API.CONSUMER.INFO", "$JS.API.CONSUMER.MSG.NEXT", "$JS.ACK"], ids=str
)
def test_each_listed_durable_is_granted_to_its_service_by_name_to_bind_pull_and_ack(
    service: str, api: str
) -> None:
    listed = {(d.stream.value, d.name) for d in durables_of(Service(service))}
    grants = _publish_allowed(service)

    if api == "$JS.ACK":
        acks = {tuple(g.split(".")[2:4]) for g in grants if g.startswith("$JS.ACK.")}
        assert acks == listed
        assert all(g.endswith(".>") for g in grants if g.startswith("$JS.ACK."))
    else:
        assert _granted(service, api) == listed


def test_no_service_is_granted_another_services_consumer() -> None:
    for user in SERVICES:
        assert all(
            name.startswith(f"{user}-") for _, name in _granted(user, "$JS.API.CONSUMER.INFO")
        )


def _consumer_management(stream: Stream, durable: str) -> list[str]:
    return [
        f"$JS.API.CONSUMER.CREATE.{stream.value}",
        f"$JS.API.CONSUMER.CREATE.{stream.value}.{durable}",
        f"$JS.API.CONSUMER.CREATE.{stream.value}.{durable}.{stream.value.lower()}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream.value}.{durable}",
        f"$JS.API.CONSUMER.DELETE.{stream.value}.{durable}",
        f"$JS.API.CONSUMER.PAUSE.{stream.value}.{durable}",
        f"$JS.API.CONSUMER.LEADER.STEPDOWN.{stream.value}.{durable}",
        f"$JS.API.STREAM.UPDATE.{stream.value}",
        f"$JS.API.STREAM.DELETE.{stream.value}",
        f"$JS.API.STREAM.PURGE.{stream.value}",
    ]


@pytest.mark.parametrize("user", USERS)
def test_no_user_but_the_admin_may_create_change_or_delete_a_consumer_or_stream(
    user: str,
) -> None:
    durables = [d.name for d in DURABLES] + ["anything"]
    may = [
        subject
        for stream in Stream
        for durable in durables
        for subject in _consumer_management(stream, durable)
        if _allows(user, subject)
    ]

    assert may == []
