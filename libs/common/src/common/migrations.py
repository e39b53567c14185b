"""Schema changes of a service database, made once whatever the number of replicas.

Two kinds of tables live in a service database. Those no replay can rebuild (intake's key
store, its idempotency claims, ...) change through Alembic revisions shipped inside the
service's package (``<service>/migrations``). Read models are rebuilt instead of altered
(common.readmodels). Both are created under one lock per database: two replicas starting on
an empty database at the same moment once raced each other's ``CREATE TABLE`` and one of
them crashed.

The lock: on PostgreSQL a session-level ``pg_advisory_lock`` held on a connection of its
own; on SQLite an exclusive ``flock`` on a file beside the database (SQLite's own locks are
per statement or transaction, and the upgrade is several).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text

from common.database import sync_engine

log = structlog.get_logger(__name__)

# The advisory lock's key: one per database (PostgreSQL scopes advisory locks to the
# database they are taken in), the same in every release.
_ADVISORY_KEY: Final = int.from_bytes(
    hashlib.sha256(b"lead-handling-suite: schema changes").digest()[:8], "big", signed=True
)
# In one process the file lock is not enough (two threads' flocks on two descriptors do
# exclude each other, but an in-memory database has no file to lock).
_IN_PROCESS: Final = threading.Lock()


@contextlib.contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's schema lock: one holder at a time across every process that
    opens this database. Not re-entrant: never take it while holding it."""
    with _IN_PROCESS:
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_KEY})
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_KEY})
            return
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        lock_file = Path(f"{database}.schema-lock")
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        with lock_file.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Revisions:
    """Where a database's migrations stand."""

    before: str | None
    after: str | None
    head: str | None
    adopted: bool = False  # today's tables were found without a revision: now the baseline


def alembic_config(package: str) -> Config:
    """The migration environment shipped in ``<package>/migrations``, no ini file needed."""
    config = Config()
    config.set_main_option("script_location", f"{package}:migrations")
    return config


def head_revision(package: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(package)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, package: str, revision: str = "head") -> Revisions:
    """Bring the database's own tables to ``revision`` (the newest by default), once: under
    the schema lock, so a second replica starting at the same moment waits, then finds
    nothing left to do. A database made by an earlier release (its tables, no revision)
    is taken as the baseline: its revision stamped, nothing re-created."""
    return _run(engine, package, revision, downgrade=False)


def downgrade(engine: Engine, package: str, revision: str) -> Revisions:
    """Take the database's own tables back to ``revision`` (e.g. ``-1``), under the lock."""
    return _run(engine, package, revision, downgrade=True)


def _run(engine: Engine, package: str, revision: str, *, downgrade: bool) -> Revisions:
    config = alembic_config(package)
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    with schema_lock(engine), engine.begin() as conn:
        config.attributes["connection"] = conn
        before = MigrationContext.configure(conn).get_current_revision()
        adopted = False
        if before is None and not downgrade:
            found = set(inspect(conn).get_table_names()) & set(_baseline_tables(script))
            if found:
                # Tables made by create_all of an earlier release: they are the baseline,
                # whose revision makes only what is missing (an older release had fewer
                # tables), so the database is stamped with it and no row is lost.
                adopted = True
                log.info("schema_adopted_as_baseline", package=package, tables=sorted(found))
        if downgrade:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)
        after = MigrationContext.configure(conn).get_current_revision()
    if after != before:
        log.info("schema_migrated", package=package, before=before, after=after)
    return Revisions(before=before, after=after, head=head, adopted=adopted)


def _baseline_tables(script: ScriptDirectory) -> tuple[str, ...]:
    """The tables the baseline revision declares it makes (its ``TABLES``)."""
    bases = script.get_bases()
    if len(bases) != 1:
        raise RuntimeError(f"a migration environment has one baseline revision, not {bases}")
    found = script.get_revision(bases[0])
    tables: tuple[str, ...] = getattr(found.module, "TABLES", ()) if found else ()
    return tables


def run_environment(context: EnvironmentContext, target_metadata: Sequence[MetaData]) -> None:
    """The body of every service's ``migrations/env.py``: migrate on the connection
    :func:`upgrade` hands over (under the lock), or, run from the ``alembic`` command line by
    a developer, on ``sqlalchemy.url`` (offline: print the SQL)."""
    config = context.config
    connection = config.attributes.get("connection")
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=list(target_metadata),
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    if connection is None:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no connection given and no sqlalchemy.url set")
        engine = sync_engine(url)
        try:
            with schema_lock(engine), engine.begin() as conn:
                _migrate_on(context, conn, target_metadata)
        finally:
            engine.dispose()
        return
    _migrate_on(context, connection, target_metadata)


def _migrate_on(
    context: EnvironmentContext, connection: Connection, target_metadata: Sequence[MetaData]
) -> None:
    context.configure(
        connection=connection,
        target_metadata=list(target_metadata),
        # SQLite alters a table by copying it; the batch mode does that for a revision.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def command_line(package: str, database_url: str, argv: Sequence[str]) -> int:
    """``python -m <service> migrate [upgrade [REV] | downgrade REV | current]``: the
    service's own tables, by hand or as a Job before a rollout (the service also upgrades
    at every start, under the same lock). Prints where the database stands."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {package} migrate",
        description=f"Migrate the {package} service's own tables (Alembic, under a lock).",
    )
    actions = parser.add_subparsers(dest="action")
    up = actions.add_parser("upgrade", help="to REV, the newest by default")
    up.add_argument("revision", nargs="?", default="head")
    down = actions.add_parser("downgrade", help="back to REV (e.g. -1, or a revision id)")
    down.add_argument("revision")
    actions.add_parser("current", help="print the database's revision and the newest")
    args = parser.parse_args(list(argv))
    engine = sync_engine(database_url)
    try:
        if args.action == "current":
            current, head = current_revision(engine), head_revision(package)
            state = "up to date" if current == head else "behind"
            sys.stdout.write(f"{package}: revision {current or 'none'}, newest {head} ({state})\n")
            return 0 if current == head else 1
        if args.action == "downgrade":
            result = downgrade(engine, package, args.revision)
        else:
            result = upgrade(engine, package, getattr(args, "revision", "head"))
        sys.stdout.write(
            f"{package}: revision {result.before or 'none'} -> {result.after or 'none'}\n"
        )
        return 0
    finally:
        engine.dispose()
