"""What the backup drill needs around leadctl: a NATS server of its own that can be
destroyed, the three services' databases (SQLite files or PostgreSQL databases) made and
dropped, the whole suite settled, and each projection's content and positions."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
from nats.js import JetStreamContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from common.database import sync_engine
from common.streams import declare_streams
from common.subjects import Stream
from intake.bootstrap import create_app as create_intake
from leadctl.cli import subscriptions_of
from leadctl.fingerprint import fingerprint, positions
from ledger.bootstrap import create_app as create_ledger
from ledger.settings import LedgerSettings
from oversight.bootstrap import create_app as create_oversight
from oversight.settings import OversightSettings
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import serving, write_staff
from tests.support.intake import Keys, intake_settings, running

SERVICES = ("intake", "ledger", "oversight")


@contextmanager
def service_databases(
    kind: str, tmp_path: Path, server_url: str | None
) -> Iterator[dict[str, str]]:
    """One empty database per service: SQLite files in a directory of their own, or new
    PostgreSQL databases on the server (dropped afterwards)."""
    if kind == "sqlite":
        home = tmp_path / f"db-{uuid.uuid4().hex[:6]}"
        home.mkdir()
        yield {s: f"sqlite:///{home / f'{s}.db'}" for s in SERVICES}
        return
    assert server_url is not None
    admin = create_engine(
        make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    names = {s: f"t_{s}_{uuid.uuid4().hex[:10]}" for s in SERVICES}
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield {
            s: make_url(server_url).set(database=n).render_as_string(hide_password=False)
            for s, n in names.items()
        }
    finally:
        drop_databases(server_url, list(names.values()))
        admin.dispose()


def drop_databases(server_url: str, names: list[str]) -> None:
    admin = create_engine(
        make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def destroy_databases(databases: dict[str, str], server_url: str | None) -> None:
    """Every database gone: the SQLite files (with their logs) or the PostgreSQL databases."""
    for url in databases.values():
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            for f in Path(parsed.database or "").parent.glob(
                f"{Path(parsed.database or '').name}*"
            ):
                f.unlink()
        else:
            assert server_url is not None
            drop_databases(server_url, [parsed.database or ""])


def destroy_store(store: Path) -> None:
    shutil.rmtree(store)
    assert not store.exists()


@asynccontextmanager
async def jetstream(url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def declared(js: JetStreamContext) -> None:
    await declare_streams(js, list(Stream))


@dataclass
class Suite:
    intake: httpx.AsyncClient
    ledger: httpx.AsyncClient
    oversight: httpx.AsyncClient


@asynccontextmanager
async def the_suite(
    target: NatsTarget, databases: dict[str, str], tmp_path: Path, keys: Keys
) -> AsyncIterator[Suite]:
    """The three services on these databases, as deployed (default settings), stopped on
    exit."""
    users = write_staff(tmp_path / "users.toml")
    intake = create_intake(
        intake_settings(target, databases["intake"], tmp_path, keys).model_copy(
            update={"users_file": users}
        )
    )
    ledger = create_ledger(
        LedgerSettings(nats_url=target.url, database_url=databases["ledger"], users_file=users)
    )
    oversight = create_oversight(
        OversightSettings(
            nats_url=target.url, database_url=databases["oversight"], users_file=users
        )
    )
    async with (
        running(intake) as i,
        serving(ledger) as le,
        serving(oversight) as o,
    ):
        yield Suite(i, le, o)


async def settled(js: JetStreamContext) -> bool:
    """Every durable consumer of every stream has had everything delivered and acknowledged
    (a projection acknowledges after it committed)."""
    for stream in await js.streams_info():
        for consumer in await js.consumers_info(stream.config.name):
            if consumer.num_pending or consumer.num_ack_pending:
                return False
    return True


async def wait_settled(js: JetStreamContext, timeout: float = 30.0) -> None:
    await wait_until(lambda: settled(js), timeout=timeout)


def projections_of(service: str, url: str) -> dict[str, dict[str, object]]:
    """Each projection of the service: its positions and the digest of each of its tables."""
    engine = sync_engine(url)
    try:
        found: dict[str, dict[str, object]] = {}
        for sub in subscriptions_of(service):
            name = sub.projection.name
            found[name] = {
                "positions": positions(engine, sub.projection.key),
                "tables": fingerprint(engine, sub.projection.metadata),
            }
        return found
    finally:
        engine.dispose()


def positions_of(service: str, url: str) -> dict[str, dict[str, int]]:
    """Each projection's positions; empty while the service has not made its tables yet."""
    engine = sync_engine(url)
    try:
        return {
            sub.projection.name: positions(engine, sub.projection.key)
            for sub in subscriptions_of(service)
        }
    except SQLAlchemyError:
        return {}
    finally:
        engine.dispose()
