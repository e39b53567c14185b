"""Fixtures shared by the integration tests: every stream declared, each service served
in-process on its own SQLite file (or on each database in turn), the histories leadctl's
tests work on, and a nats-server under the deployment's permissions. A module's own fixture
of the same name wins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext

from common.streams import declare_streams
from common.subjects import Stream
from intake.bootstrap import create_app
from tests.conftest import NatsTarget
from tests.support.apps import random_key
from tests.support.intake import Keys, intake_settings, running
from tests.support.leadctl import ScriptedLedger, fill, script_ledger
from tests.support.ledger import LedgerService, ledger_settings, serving_ledger
from tests.support.nats_users import PermissionedServer, permissioned_server
from tests.support.oversight import OversightService, oversight_settings, serving_oversight


@pytest.fixture
def keys() -> Keys:
    return Keys(identity=random_key(), receipt=random_key())


@pytest.fixture
async def streams(js: JetStreamContext) -> JetStreamContext:
    """Every stream declared up front, as the administrator does: intake's read model also
    follows LEDGER."""
    await declare_streams(js, list(Stream))
    return js


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'intake.db'}"


@pytest.fixture
async def intake(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))
    async with running(app) as client:
        yield client


# The ledger is ``service`` (its tests' name for it); oversight's tests start the ledger they
# need themselves.
@pytest.fixture
async def service(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    """The ledger on SQLite."""
    settings = ledger_settings(nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path)
    async with serving_ledger(streams, settings) as running_ledger:
        yield running_ledger


@pytest.fixture
async def service_on_each_database(
    streams: JetStreamContext, nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    """The ledger on SQLite, then on PostgreSQL."""
    settings = ledger_settings(nats_target, database_url, tmp_path)
    async with serving_ledger(streams, settings) as running_ledger:
        yield running_ledger


@pytest.fixture
async def oversight(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[OversightService]:
    """Oversight on SQLite."""
    settings = oversight_settings(nats_target, f"sqlite:///{tmp_path / 'oversight.db'}", tmp_path)
    async with serving_oversight(settings) as running_oversight:
        yield running_oversight


@pytest.fixture
async def oversight_on_each_database(
    streams: JetStreamContext, nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> AsyncIterator[OversightService]:
    """Oversight on SQLite, then on PostgreSQL."""
    settings = oversight_settings(nats_target, database_url, tmp_path)
    async with serving_oversight(settings) as running_oversight:
        yield running_oversight


# --- for leadctl --------------------------------------------------------------------------


@pytest.fixture
async def scripted_ledger(
    js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> ScriptedLedger:
    """Two leads through the ledger service, one walked to verification and supervised
    (``tests.support.leadctl.script_ledger``); the service stopped."""
    return await script_ledger(js, nats_target, tmp_path)


@pytest.fixture
async def log(js: JetStreamContext) -> None:
    """Every stream declared append-only, as the administrator does, with events in it."""
    await declare_streams(js, list(Stream))
    await fill(js)


# --- under the deployment's NATS permissions ----------------------------------------------


@pytest.fixture(scope="module")
def permissioned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PermissionedServer]:
    """A nats-server of its own for the test file, under the deployment's own permission
    file, its users each with a password."""
    with permissioned_server(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="module")
async def provisioned(permissioned: PermissionedServer) -> PermissionedServer:
    """``permissioned``, provisioned as `make run`, compose and Kubernetes do: every stream
    and every durable, made by the admin."""
    assert await permissioned.provision() == []
    return permissioned
