"""Schema migrations: two replicas of a service starting at the same moment (two processes
released by one barrier) on an empty database, and on a database of the release before
migrations, both become ready; the database ends at the newest revision; nothing is lost
(a key in intake's key store still opens the identity it sealed). On SQLite and PostgreSQL.

The release before migrations made its tables with create_all at each start; that schema
is frozen here (``PREVIOUS_RELEASE``), as that release's code made it."""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import os
import subprocess
import sys
import time
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from nats.js import JetStreamContext
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    select,
)

from common.batchwriter import deferred_metadata
from common.database import sync_url
from common.events import utc_now
from common.migrations import current_revision, downgrade, head_revision, upgrade
from common.projection import projection_versions, tracking_metadata
from intake.duplicates import matter_metadata
from intake.idempotency import idempotency_metadata
from intake.projection.tables import metadata as intake_read_model
from intake.vault import Identity, Vault, vault_metadata
from intake.work import work_metadata
from ledger.projection.tables import leads, search_texts
from tests.conftest import NatsTarget
from tests.support.apps import random_key
from tests.support.intake import Keys, intake_settings
from tests.support.ledger import ledger_settings

pytestmark = pytest.mark.integration

READY_WITHIN = 90.0  # seconds, for a spawned interpreter to import, migrate and consume

# --- the schema of the release before migrations, frozen ----------------------------------

PREVIOUS_RELEASE = MetaData()
_MOMENT = DateTime(timezone=True)
Table(
    "identity_keys",
    PREVIOUS_RELEASE,
    Column("lead_id", String(64), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("created_at", _MOMENT, nullable=False),
    Column("shredded_at", _MOMENT, nullable=True),
)
Table(
    "idempotency_claims",
    PREVIOUS_RELEASE,
    Column("key_hash", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False),
    Column("state", String(10), nullable=False),
    Column("answer", LargeBinary, nullable=False),
    Column("created_at", _MOMENT, nullable=False),
)
Table(
    "intake_matters",
    PREVIOUS_RELEASE,
    Column("lead_id", String(64), primary_key=True),
    Column("village", String(40)),
    Column("category", String(40), nullable=False),
    Column("shingles", Text, nullable=False),
    Column("reported_at", _MOMENT, nullable=False),
    Index("ix_intake_matters_category", "category"),
)
Table(
    "intake_spent_work",
    PREVIOUS_RELEASE,
    Column("spend_id", String(32), primary_key=True),
    Column("expires_at", _MOMENT, nullable=False),
    Index("ix_intake_spent_work_expires_at", "expires_at"),
)
INTAKE_OWN = (vault_metadata, idempotency_metadata, matter_metadata, work_metadata)


def previous_release(engine: Engine) -> None:
    """A database as intake's release before migrations left it: its own tables, its read
    model and the projections' bookkeeping (then without ``projection_versions``)."""
    PREVIOUS_RELEASE.create_all(engine)
    intake_read_model.create_all(engine)
    deferred_metadata.create_all(engine)
    tracking_metadata.create_all(
        engine, tables=[t for t in tracking_metadata.sorted_tables if t is not projection_versions]
    )


# --- two replicas, each in a process of its own -------------------------------------------


def _replica(
    service: str, settings: Any, barrier: Barrier, stop: Event, results: Any, name: str
) -> None:
    """A child process: build the service, wait for the other, start (migrations, tables,
    consumers), say when ready, run until told to stop."""
    if service == "intake":
        from intake.bootstrap import create_app
    else:
        from ledger.bootstrap import create_app  # type: ignore[assignment]
    app = create_app(settings)
    barrier.wait(timeout=60)
    try:
        asyncio.run(_serve(app, stop, results, name))
    except BaseException as exc:
        results.put((name, "failed", f"{type(exc).__name__}: {exc}"))


async def _serve(app: Any, stop: Event, results: Any, name: str) -> None:
    from tests.support.apps import serving

    async with serving(app) as http:
        deadline = time.monotonic() + READY_WITHIN
        answer: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = await http.get("/readyz")
            answer = response.json()
            if response.status_code == 200:
                results.put((name, "ready", answer))
                break
            await asyncio.sleep(0.1)  # polling readiness, with the deadline above
        else:
            results.put((name, "not ready", answer))
        await asyncio.to_thread(stop.wait, READY_WITHIN)


def start_two_at_once(service: str, settings: Any) -> dict[str, tuple[str, Any]]:
    """Two replicas released together by a barrier; what each said (ready, not ready, or
    the error its start failed with)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    stop = context.Event()
    results = context.Queue()
    children = [
        context.Process(
            target=_replica, args=(service, settings, barrier, stop, results, f"replica-{n}")
        )
        for n in (1, 2)
    ]
    for child in children:
        child.start()
    said: dict[str, tuple[str, Any]] = {}
    try:
        deadline = time.monotonic() + READY_WITHIN + 30
        while len(said) < 2 and time.monotonic() < deadline:
            try:
                name, outcome, detail = results.get(timeout=1.0)
            except Empty:
                if not any(c.is_alive() for c in children):
                    break
                continue
            said[name] = (outcome, detail)
    finally:
        stop.set()
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
                child.join()
    return said


def assert_both_ready(said: dict[str, tuple[str, Any]]) -> None:
    assert set(said) == {"replica-1", "replica-2"}, f"a replica said nothing: {said}"
    for name, (outcome, detail) in said.items():
        assert outcome == "ready", f"{name}: {outcome}: {detail}"


def engine_of(url: str) -> Engine:
    return create_engine(sync_url(url))


# --- tests --------------------------------------------------------------------------------


async def test_two_intakes_start_at_once_on_an_empty_database(
    streams: JetStreamContext, nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> None:
    settings = intake_settings(nats_target, database_url, tmp_path, _keys())

    said = await asyncio.to_thread(start_two_at_once, "intake", settings)

    assert_both_ready(said)
    engine = engine_of(database_url)
    try:
        assert current_revision(engine) == head_revision("intake")
        tables = set(inspect(engine).get_table_names())
        assert {"identity_keys", "idempotency_claims", "alembic_version"} <= tables
        # The baseline made exactly what the code declares: nothing to autogenerate.
        ours = MetaData()
        for metadata in INTAKE_OWN:
            for table in metadata.sorted_tables:
                table.to_metadata(ours)
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={"include_name": lambda name, kind, _: kind != "table" or name in ours.tables},
            )
            differences = compare_metadata(context, ours)
        assert differences == []
    finally:
        engine.dispose()


async def test_two_intakes_start_at_once_on_the_previous_release_database(
    streams: JetStreamContext, nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> None:
    keys = _keys()
    vault = Vault(base64.b64decode(keys.identity))
    identity = Identity(name="张三", phone="13800000000")
    ciphertext, wrapped = vault.seal("lead-before-migrations", identity)
    engine = engine_of(database_url)
    previous_release(engine)
    identity_keys = PREVIOUS_RELEASE.tables["identity_keys"]
    with engine.begin() as conn:
        conn.execute(
            identity_keys.insert().values(
                lead_id="lead-before-migrations", wrapped_key=wrapped, created_at=utc_now()
            )
        )
    assert current_revision(engine) is None
    settings = intake_settings(nats_target, database_url, tmp_path, keys)

    said = await asyncio.to_thread(start_two_at_once, "intake", settings)

    assert_both_ready(said)
    try:
        assert current_revision(engine) == head_revision("intake")
        with engine.connect() as conn:
            kept = conn.execute(
                select(identity_keys.c.wrapped_key).where(
                    identity_keys.c.lead_id == "lead-before-migrations"
                )
            ).scalar_one()
            recorded = conn.execute(
                select(projection_versions.c.projection, projection_versions.c.state)
            ).all()
        assert vault.open("lead-before-migrations", ciphertext, kept) == identity
        # The read models found are the ones serving, recorded as such.
        assert sorted(recorded) == [("accounts", "serving"), ("intake", "serving")]
    finally:
        engine.dispose()


async def test_two_ledgers_start_at_once_on_an_empty_database(
    streams: JetStreamContext, nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> None:
    """The ledger keeps only read models (and their search index, made once under the
    same lock); its migration environment is at its baseline."""
    settings = ledger_settings(nats_target, database_url, tmp_path)

    said = await asyncio.to_thread(start_two_at_once, "ledger", settings)

    assert_both_ready(said)
    engine = engine_of(database_url)
    try:
        assert current_revision(engine) == head_revision("ledger")
        assert {leads.name, search_texts.name} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_migrate_command_upgrades_and_tells_the_revision(
    database_url: str, tmp_path: Path
) -> None:
    """`python -m intake migrate`: what an operator (or a Job) runs before a rollout."""
    keys = _keys()
    env = {
        **os.environ,
        "INTAKE_DATABASE_URL": database_url,
        "INTAKE_IDENTITY_KEY": keys.identity,
        "INTAKE_RECEIPT_KEY": keys.receipt,
        "INTAKE_SIGNING_KEY": keys.signing,
        "INTAKE_USERS_FILE": str(tmp_path / "users.toml"),
    }

    def migrate(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "intake", "migrate", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    before = migrate("current")
    upgraded = migrate("upgrade")
    after = migrate("current")

    head = head_revision("intake")
    assert before.returncode == 1, before.stderr
    assert "revision none" in before.stdout
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"none -> {head}" in upgraded.stdout
    assert after.returncode == 0, after.stderr
    assert f"revision {head}, newest {head} (up to date)" in after.stdout


def test_the_key_store_is_never_downgraded_away(database_url: str) -> None:
    engine = engine_of(database_url)
    try:
        upgrade(engine, "intake")
        with pytest.raises(RuntimeError, match="identity keys"):
            downgrade(engine, "intake", "base")
        assert current_revision(engine) == head_revision("intake")
        assert "identity_keys" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _keys() -> Keys:
    return Keys(identity=random_key(), receipt=random_key())
