"""The stack as ``make run`` runs it, for a benchmark: nats-server from the wheel with the
embedded config (``sync_interval: always``, the deployment's users) and the three services
as processes, in a temporary directory on free ports, on SQLite, or on PostgreSQL when
``BENCH_DATABASE_URL`` is set (a fresh database per service, dropped afterwards).

Built on the chaos run's :class:`leadctl.chaos.suite.Suite`, which starts the same pieces::

    async with running_stack() as stack:
        stack.url("intake"), stack.tokens["clerk"], stack.nats_url, stack.admin_password

A service's settings reach it from the environment the benchmark runs in (e.g.
``LEDGER_HTTP_WORKERS=4 make bench``: the ledger's HTTP served by four processes), and
``running_stack(settings)`` overrides them for one stack (as bench_reads sets
``LEDGER_HTTP_WORKERS``).

Everything is stopped (services first, then NATS) and the directory removed on exit, unless
``BENCH_KEEP=1`` keeps it for a look at the logs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from importlib import resources
from pathlib import Path
from typing import Final

from sqlalchemy import create_engine, make_url, text

from common.database import sync_url
from leadctl.chaos.suite import SERVICES, Suite
from leadctl.embedded import service_env, start_service

REPO: Final = Path(__file__).resolve().parent.parent
NATS_CONFIG: Final = REPO / "deploy" / "nats" / "embedded.conf"
READY_TIMEOUT: Final = 90.0


class BenchSuite(Suite):
    """The chaos run's suite without its chaos settings: the services as ``make run`` starts
    them, plus whatever a benchmark asks for (``settings``) and the database it is given."""

    def __init__(
        self,
        root: Path,
        settings: Mapping[str, str],
        databases: Mapping[str, str],
    ) -> None:
        super().__init__(root, NATS_CONFIG)
        self.settings = dict(settings)
        self.databases = dict(databases)

    def database_url(self, service: str) -> str:
        return self.databases.get(service) or super().database_url(service)

    def start_service(self, name: str) -> None:
        env = service_env(name, self.ports[name], self.layout, self.nats_url, self.secrets)
        if name in self.databases:
            env[f"{name.upper()}_DATABASE_URL"] = self.databases[name]
        env |= self.settings
        self.processes[name] = start_service(name, env, self.layout)
        self._killed.discard(name)


class Stack:
    """What a benchmark needs of a running stack."""

    def __init__(self, suite: BenchSuite) -> None:
        self.suite = suite

    @property
    def root(self) -> Path:
        return self.suite.layout.root

    @property
    def nats_url(self) -> str:
        return self.suite.nats_url

    @property
    def admin_password(self) -> str:
        return self.suite.admin_password

    @property
    def secrets(self) -> dict[str, str]:
        return dict(self.suite.secrets)

    @property
    def tokens(self) -> dict[str, str]:
        """The demo token of each demo user (``clerk``, ``screener.v01``, ``auditor``, ...)."""
        tokens: dict[str, str] = json.loads(self.suite.layout.tokens.read_text())
        return tokens

    def url(self, service: str) -> str:
        return self.suite.url(service)

    def pid(self, service: str) -> int:
        return self.suite.processes[service].pid

    def database_url(self, service: str) -> str:
        return self.suite.database_url(service)

    def log(self, service: str) -> Path:
        return self.suite.layout.logs / f"{service}.log"


@contextmanager
def _databases(services: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database per service when BENCH_DATABASE_URL is set; none (the
    services' own SQLite files) otherwise."""
    base = os.environ.get("BENCH_DATABASE_URL")
    if not base:
        yield {}
        return
    url = make_url(base)
    run = uuid.uuid4().hex[:8]
    names = {service: f"bench_{run}_{service}" for service in services}
    admin = create_engine(sync_url(base), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield {
            service: url.set(database=name).render_as_string(hide_password=False)
            for service, name in names.items()
        }
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_kind() -> str:
    return "PostgreSQL" if os.environ.get("BENCH_DATABASE_URL") else "SQLite"


def _one_town() -> dict[str, str]:
    """The one-town organisation the figures were first measured on, unless the benchmark
    or its environment names another: ``make run``'s demo county makes its town office a
    town's reader, whose counts are worked out at each read (deploy/runbook/province.md;
    bench_county measures those)."""
    town = str(resources.files("common.data").joinpath("organisation.toml"))
    names = (f"{service.upper()}_ORG_FILE" for service in SERVICES)
    return {name: town for name in names if name not in os.environ}


@asynccontextmanager
async def running_stack(settings: Mapping[str, str] | None = None) -> AsyncIterator[Stack]:
    """The whole stack, ready (every service answers /readyz), stopped on exit."""
    root = Path(tempfile.mkdtemp(prefix="leads-bench-"))
    keep = os.environ.get("BENCH_KEEP") == "1"
    try:
        with _databases(SERVICES) as databases:
            suite = BenchSuite(root, {**_one_town(), **(settings or {})}, databases)
            try:
                await suite.start(READY_TIMEOUT)
                yield Stack(suite)
            finally:
                suite.stop()
    finally:
        if keep:
            print(f"# stack kept in {root}", flush=True)
        else:
            shutil.rmtree(root, ignore_errors=True)
