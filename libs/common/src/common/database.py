"""Databases: one per service, SQLite by default, PostgreSQL by URL.

A service names one URL. Projections write through a synchronous engine in a worker
thread, because batching 1,000 rows a transaction through the stdlib sqlite3 or psycopg
drivers is several times faster than the asyncio drivers; HTTP reads use the async engine
(aiosqlite or asyncpg) on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, overload

import structlog
from sqlalchemy import (
    Connection,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.tls import asyncpg_ssl

log = structlog.get_logger(__name__)
T = TypeVar("T")

_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def _with_driver(url: str | URL, drivers: dict[str, str]) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=drivers[backend])


def sync_url(url: str | URL) -> URL:
    return _with_driver(url, _SYNC_DRIVERS)


def async_url(url: str | URL) -> URL:
    return _with_driver(url, _ASYNC_DRIVERS)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """A timestamp read back from a database, in UTC. SQLite hands timestamps back without
    their zone; everything is stored in UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment: stored in UTC, read back in UTC with its zone on every database (SQLite
    keeps no zone, so without this an API would answer a deadline set for 18:00+08:00 as
    a zoneless ``10:00``)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None and value.utcoffset():
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return as_utc(value)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the projector writes; NORMAL sync is safe in WAL and a
    # projection can always be rebuilt from the log.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def write_transaction_begins_here(conn: Connection) -> None:
    """On SQLite, take the database's write lock now, as the transaction's first statement.

    pysqlite begins a transaction only at the first write, so what a transaction reads
    before it (a projection's lease and position) is read outside it: a replica whose lease
    was taken meanwhile would still commit its batch. PostgreSQL needs nothing here (the
    reads lock their row: SELECT ... FOR UPDATE). Only where it is needed: holding the write
    lock from the start of every transaction of the engine kept intake's other writers
    waiting out their busy timeout."""
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def sync_engine(url: str | URL) -> Engine:
    """A synchronous engine as every writer of a service database opens it (on SQLite:
    WAL, NORMAL sync, a busy timeout), the service itself and a rebuild alike."""
    engine = create_engine(sync_url(url))
    if is_sqlite(url):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The two engines over one service database."""

    def __init__(self, url: str | URL) -> None:
        self.url = make_url(url)
        if is_sqlite(self.url) and self.url.database not in (None, "", ":memory:"):
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        self.sync_engine: Engine = sync_engine(self.url)
        # One URL for both drivers: psycopg reads libpq's sslmode/sslrootcert itself,
        # asyncpg is given the equivalent TLS context.
        target, connect_args = (
            (async_url(self.url), {}) if is_sqlite(self.url) else asyncpg_ssl(async_url(self.url))
        )
        # Pooled on SQLite too (SQLAlchemy's default there, a few connections kept open):
        # an aiosqlite connection is a thread of its own, and opening one per transaction
        # (thread, file, pragmas) cost more CPU than the transaction itself. The busy
        # timeouts once blamed on pooling came from the global BEGIN IMMEDIATE
        # (write_transaction_begins_here).
        self.async_engine: AsyncEngine = create_async_engine(target, connect_args=connect_args)
        if is_sqlite(self.url):
            event.listen(self.async_engine.sync_engine, "connect", _sqlite_pragmas)

    def create_all(self, *metadatas: MetaData) -> None:
        for metadata in metadatas:
            metadata.create_all(self.sync_engine)

    async def dispose(self) -> None:
        self.sync_engine.dispose()
        await self.async_engine.dispose()


async def once_unlocked(work: Callable[[], Awaitable[T]], what: str, patience: float = 300.0) -> T:
    """``work``, tried again while SQLite answers "database is locked" (another process
    holds a long write, a backup copies the file): a service starting meanwhile waits for
    the lock instead of failing its start. Any other error, or one lasting past
    ``patience`` seconds, is raised."""
    deadline = time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            return await work()
        except OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            log.warning("database_locked_waiting", work=what, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
