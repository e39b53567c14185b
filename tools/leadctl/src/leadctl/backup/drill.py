"""Taking a backup and bringing one back, as ``leadctl backup`` and ``leadctl restore`` do.

Order matters, both ways. Streams are snapshotted readers first (dead letters, AUDIT,
OVERSIGHT, DIRECTIVES, LEDGER, … INTAKE last), so whatever a later stream refers to is in
an earlier one's snapshot; the databases are dumped after the streams, so every report in
the INTAKE snapshot has its identity key in the dump (intake stores the key before it
publishes the report). A restore brings the streams back first, then reads the shreddings
they record and loads the key store with those keys already destroyed."""

from __future__ import annotations

import asyncio
import importlib
import io
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pyrage
from nats.aio.client import Client
from nats.js import JetStreamContext
from pyrage import x25519
from sqlalchemy import Engine, event

from common.database import is_sqlite, sync_engine
from common.evidence import EVIDENCE_BUCKETS, bucket_config, bucket_stream
from common.subjects import STREAM_SUBJECTS, Stream
from leadctl.backup import jetstream, manifest, tables
from leadctl.backup.manifest import BackupUnusable, DatabaseEntry, Manifest, StreamEntry

# Readers before what they read (see the module's docstring).
SNAPSHOT_ORDER: Final = (
    Stream.DLQ_INTAKE,
    Stream.DLQ_LEDGER,
    Stream.DLQ_OVERSIGHT,
    Stream.AUDIT,
    Stream.OVERSIGHT,
    Stream.DIRECTIVES,
    Stream.LEDGER,
    Stream.SESSIONS,
    Stream.ACCOUNTS,
    Stream.INTAKE,
)
assert set(SNAPSHOT_ORDER) == set(Stream)  # noqa: S101 - a new stream must be placed here
# Every stream backed up, by name, with the subjects it must capture: the suite's streams,
# then the evidence buckets' (an INTAKE event names an object stored before it, so the
# bucket's snapshot, taken after INTAKE's, holds every object INTAKE names).
BACKED_UP: Final[dict[str, list[str]]] = {
    **{stream.value: [STREAM_SUBJECTS[stream]] for stream in SNAPSHOT_ORDER},
    **{bucket_stream(b): list(bucket_config(b).subjects or []) for b in EVIDENCE_BUCKETS},
}
SERVICES: Final = ("intake", "ledger", "oversight")

Say = Callable[[str], None]


class RestoreRefused(Exception):
    """The targets are not empty (and --force was not given), or a key does not fit."""


def _quiet(_: str) -> None:
    pass


def database_engine(url: str) -> Engine:
    """An engine on a service database; on SQLite, as intake opens its own: every commit
    on disk, and freed space zeroed (a destroyed key must not linger in free pages)."""
    engine = sync_engine(url)
    if is_sqlite(url):

        def careful(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        event.listen(engine, "connect", careful)
    return engine


def _nc(js: JetStreamContext) -> Client:
    # nats-py has no snapshot API: the raw requests go on the context's own connection.
    client: Client = js._nc
    return client


# --- backup ---------------------------------------------------------------------------------


async def take(
    js: JetStreamContext,
    directory: Path,
    recipient: x25519.Recipient,
    databases: dict[str, str],
    say: Say = _quiet,
) -> Manifest:
    """Write a complete backup into ``directory`` (new or empty), the manifest last."""
    started, clock = datetime.now(UTC), time.monotonic()
    await asyncio.to_thread(_new_backup_directory, directory)
    nc = _nc(js)
    streams: list[StreamEntry] = []
    missing: list[str] = []
    with tempfile.TemporaryDirectory(dir=directory, prefix=".partial-") as scratch:
        for stream in BACKED_UP:
            if await jetstream.stream_state(nc, stream) is None:
                missing.append(stream)
                say(f"{stream}: no such stream, skipped")
                continue
            plain = Path(scratch) / f"{stream}.tar.s2"
            with plain.open("wb") as out:
                snap = await jetstream.snapshot(nc, stream, out)
            sealed = directory / "streams" / f"{stream}.tar.s2.age"
            await asyncio.to_thread(pyrage.encrypt_file, str(plain), str(sealed), [recipient])
            plain.unlink()
            streams.append(
                StreamEntry(
                    stream=stream,
                    file=manifest.entry_for(directory, sealed),
                    config=snap.config,
                    state=snap.state,
                    snapshot_bytes=snap.bytes_written,
                )
            )
            say(
                f"{stream}: {snap.state.get('messages', 0)} messages,"
                f" seq {snap.state.get('first_seq')}–{snap.state.get('last_seq')}"
            )
    dumped: list[DatabaseEntry] = []
    for service, url in databases.items():
        entry = await asyncio.to_thread(_dump_database, directory, service, url, recipient)
        dumped.append(entry)
        say(f"{service} database: " + ", ".join(f"{t} {n}" for t, n in entry.tables.items()))
    result = Manifest(
        format=manifest.FORMAT,
        started_at=started,
        finished_at=datetime.now(UTC),
        seconds=round(time.monotonic() - clock, 3),
        recipient=str(recipient),
        streams=streams,
        missing_streams=missing,
        databases=dumped,
    )
    manifest.write(directory, result)
    return result


def _new_backup_directory(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty: a backup goes into a new directory")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    (directory / "streams").mkdir(mode=0o700)
    (directory / "databases").mkdir(mode=0o700)


def _dump_database(
    directory: Path, service: str, url: str, recipient: x25519.Recipient
) -> DatabaseEntry:
    engine = database_engine(url)
    try:
        buffer = io.BytesIO()
        dumped, left_out = tables.dump(engine, service, buffer)
        dialect = engine.dialect.name
    finally:
        engine.dispose()
    # Encrypted in memory: the key store's plaintext never touches the backup's disk.
    sealed = directory / "databases" / f"{service}.jsonl.age"
    sealed.write_bytes(pyrage.encrypt(buffer.getvalue(), [recipient]))
    return DatabaseEntry(
        service=service,
        file=manifest.entry_for(directory, sealed),
        tables={t.table: t.rows for t in dumped},
        dialect=dialect,
        left_out=left_out,
    )


# --- restore --------------------------------------------------------------------------------


@dataclass
class Restored:
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    shreds_in_log: int = 0
    # keys the dump still held for leads the log says were shredded: loaded destroyed
    keys_loaded_destroyed: list[str] = field(default_factory=list)
    # keys found in the database after loading it (a forced restore over a key store)
    keys_destroyed_after: list[str] = field(default_factory=list)
    scrubbed: bool = True
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "streams": self.streams,
            "tables": self.tables,
            "shreds_in_log": self.shreds_in_log,
            "keys_loaded_destroyed": self.keys_loaded_destroyed,
            "keys_destroyed_after": self.keys_destroyed_after,
            "scrubbed": self.scrubbed,
            "seconds": self.seconds,
        }


async def bring_back(
    js: JetStreamContext,
    directory: Path,
    identity: x25519.Identity,
    databases: dict[str, str],
    *,
    streams: bool = True,
    force: bool = False,
    say: Say = _quiet,
) -> Restored:
    """Restore a backup: checked whole first, refused over anything not empty unless
    ``force``; then the streams, then the databases (shredded keys loaded destroyed)."""
    clock = time.monotonic()
    found = await asyncio.to_thread(manifest.read, directory)
    if str(identity.to_public()) != found.recipient:
        raise RestoreRefused(
            f"the private key given is not the one the backup was encrypted to ({found.recipient})"
        )
    unknown = set(databases) - {d.service for d in found.databases}
    if unknown:
        raise RestoreRefused(f"the backup holds no database of {', '.join(sorted(unknown))}")
    if streams:
        for entry in found.streams:
            _refuse_foreign_configuration(entry)
    nc = _nc(js)
    await _refuse_what_is_not_empty(nc, found, databases, streams=streams, force=force)
    done = Restored()
    if streams:
        with tempfile.TemporaryDirectory(prefix="leads-restore-") as scratch:
            for entry in found.streams:
                done.streams[entry.stream] = await _restore_stream(
                    nc, directory, entry, identity, Path(scratch), force
                )
                say(
                    f"{entry.stream}: restored, last seq {done.streams[entry.stream].get('last_seq')}"
                )
    shredded: dict[str, datetime] = {}
    evidence_gone: dict[str, datetime] = {}
    if "intake" in databases:
        recorded = importlib.import_module("intake.recorded_shreds")
        shredded = await recorded.shreds_in_log(js)
        evidence_gone = await recorded.evidence_keys_destroyed_in_log(js)
        done.shreds_in_log = len(shredded)
    for dumped in found.databases:
        if dumped.service not in databases:
            continue
        loaded, destroyed_after, scrubbed = await asyncio.to_thread(
            _load_database,
            directory,
            dumped,
            identity,
            databases[dumped.service],
            force,
            shredded,
            done.keys_loaded_destroyed,
            evidence_gone,
        )
        done.tables[dumped.service] = loaded
        done.keys_destroyed_after += destroyed_after
        done.scrubbed = done.scrubbed and scrubbed
        say(f"{dumped.service} database: " + ", ".join(f"{t} {n}" for t, n in loaded.items()))
    done.seconds = round(time.monotonic() - clock, 3)
    return done


# What a stream configuration must not carry: it would make the stream copy another
# (sources, mirror), or send what it stores elsewhere (republish).
_FOREIGN_KEYS: Final = ("sources", "mirror", "republish")


def _refuse_foreign_configuration(entry: StreamEntry) -> None:
    """The manifest is plain text beside the encrypted files, and anyone holding the public
    key can make files that decrypt: a configuration is restored only if it is one of this
    suite's streams, capturing exactly its own subjects."""
    stream = entry.stream
    subjects = BACKED_UP.get(stream)
    if subjects is None:
        raise RestoreRefused(f"{stream}: not a stream of this suite")
    config = entry.config
    if config.get("name") != stream:
        raise RestoreRefused(f"{stream}: the configuration names {config.get('name')!r}")
    if config.get("subjects") != subjects:
        raise RestoreRefused(
            f"{stream}: subjects {config.get('subjects')!r}, this suite's are {subjects!r}"
        )
    present = [k for k in _FOREIGN_KEYS if config.get(k)]
    if present:
        raise RestoreRefused(f"{stream}: the configuration carries {', '.join(present)}")


async def _refuse_what_is_not_empty(
    nc: Client, found: Manifest, databases: dict[str, str], *, streams: bool, force: bool
) -> None:
    held: list[str] = []
    if streams:
        for entry in found.streams:
            state = await jetstream.stream_state(nc, entry.stream)
            if state is not None:
                held.append(f"stream {entry.stream} exists ({state.get('messages', 0)} messages)")
    for service, url in databases.items():
        engine = database_engine(url)
        try:
            rows = await asyncio.to_thread(tables.holds_rows, engine, service)
        finally:
            engine.dispose()
        held += [
            f"{service} database: {t} holds {n} row{'' if n == 1 else 's'}" for t, n in rows.items()
        ]
    if held and not force:
        raise RestoreRefused(
            "not empty, nothing restored (restore into an empty cluster and empty databases,"
            " or give --force to replace them): " + "; ".join(held)
        )


async def _restore_stream(
    nc: Client,
    directory: Path,
    entry: StreamEntry,
    identity: x25519.Identity,
    scratch: Path,
    force: bool,
) -> dict[str, Any]:
    sealed = manifest.inside(directory, entry.file.path)
    plain = scratch / f"{entry.stream}.tar.s2"
    await asyncio.to_thread(pyrage.decrypt_file, str(sealed), str(plain), [identity])
    if force and await jetstream.stream_state(nc, entry.stream) is not None:
        await jetstream.delete_stream(nc, entry.stream)
    with plain.open("rb") as data:
        state = await jetstream.restore(nc, entry.config, entry.state, data)
    plain.unlink()
    # An empty stream reports first_seq 0 when snapshotted and 1 once restored.
    compared = (
        ("messages", "last_seq", "first_seq")
        if entry.state.get("messages")
        else ("messages", "last_seq")
    )
    for key in compared:
        if state.get(key) != entry.state.get(key):
            raise jetstream.SnapshotFailed(
                f"{entry.stream}: restored {key} {state.get(key)}, the backup had {entry.state.get(key)}"
            )
    return state


def _load_database(
    directory: Path,
    entry: DatabaseEntry,
    identity: x25519.Identity,
    url: str,
    force: bool,
    shredded: dict[str, datetime],
    loaded_destroyed: list[str],
    evidence_gone: dict[str, datetime],
) -> tuple[dict[str, int], list[str], bool]:
    sealed = manifest.inside(directory, entry.file.path)
    plain = pyrage.decrypt(sealed.read_bytes(), [identity])
    engine = database_engine(url)
    try:
        row_filter = None
        if entry.service == "intake":
            recorded = importlib.import_module("intake.recorded_shreds")
            row_filter = recorded.without_shredded_keys(shredded, loaded_destroyed, evidence_gone)
        loaded = tables.load(engine, entry.service, io.BytesIO(plain), force, row_filter)
        counts = {t.table: t.rows for t in loaded}
        if counts != entry.tables:
            raise BackupUnusable(
                f"{entry.service}: loaded {counts}, the manifest says {entry.tables}"
            )
        destroyed: list[str] = []
        scrubbed = True
        if entry.service == "intake":
            # Keys a forced restore kept, or shreddings newer than the dump: none normally.
            destroyed = recorded.destroy_shredded_keys(engine, shredded, evidence_gone)
            if destroyed or evidence_gone or force:
                scrubbed = recorded.scrub(engine)
        return counts, destroyed, scrubbed
    finally:
        engine.dispose()
