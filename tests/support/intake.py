"""Intake served in-process against the test's NATS server and database, what a test
sends it (a lead, a screening ledger to import) and what it reads back: its events, its
read model, every byte it stored."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import MetaData, create_engine, select, text
from sqlalchemy.engine import make_url

from common.database import sync_url
from common.events import Event
from common.events.catalogue import LeadReported
from common.eventstore import EventStore
from common.projection import Tracker
from common.replay import replay
from common.subjects import Stream
from common.vocabulary import Category
from intake.projection import SUBSCRIPTIONS
from intake.projection.tables import reports
from intake.settings import IntakeSettings
from intake.vault import identity_keys
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import random_key, serving, token, write_staff
from tests.support.streams import count_on

OWN_VILLAGE = "shd-v01"  # screener.v01's village, 沙河店村
OTHER_VILLAGE = "shd-v02"  # 前营村
WORK_BITS = 6
STOP_WITHIN = 2.0  # seconds; a stop takes milliseconds
LEAD_REPORTED = "intake.lead.*.LeadReported"
IMPORT_MAX_BYTES: int = IntakeSettings.model_fields["import_max_bytes"].default
IMPORT_MAX_ROWS: int = IntakeSettings.model_fields["import_max_rows"].default


# --- the service under test ---------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    identity: str
    receipt: str
    #: the receipts' Ed25519 signing key: any 32 random bytes, a new one unless given
    signing: str = field(default_factory=random_key)


def intake_settings(
    nats_target: NatsTarget, database_url: str, tmp_path: Path, keys: Keys
) -> IntakeSettings:
    return IntakeSettings(
        nats_url=nats_target.url,
        database_url=database_url,
        users_file=write_staff(tmp_path / "users.toml"),
        identity_key=keys.identity,
        receipt_key=keys.receipt,
        signing_key=keys.signing,
        # A few bits: the work is real, and cheap enough for hundreds of requests.
        work_bits_report=WORK_BITS,
        work_bits_receipt=WORK_BITS,
    )


def cancel_swallowed_cancellations() -> int:
    """Cancel again every projection runner that was cancelled but kept running."""
    stuck = [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith("projection:") and task.cancelling()
    ]
    for task in stuck:
        task.cancel()
    return len(stuck)


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app served in-process, and stopped within ``STOP_WITHIN`` seconds.

    A safety net: should a consumer ever ignore its cancellation again (see
    ``test_intake_stops_even_when_a_delivery_arrives_as_it_stops``), it is cancelled once
    more, with a warning, instead of hanging the test session."""
    service = serving(app)
    client = await service.__aenter__()
    try:
        yield client
    finally:
        # Stopped as a server stops it, even when the test failed: an exception thrown into
        # the lifespan would skip the shutdown hooks and leave its consumers running.
        stopping = asyncio.ensure_future(service.__aexit__(None, None, None))
        stopped, _ = await asyncio.wait({stopping}, timeout=STOP_WITHIN)
        if not stopped and cancel_swallowed_cancellations():
            warnings.warn(
                "intake did not stop: a projection runner ignored its cancellation",
                stacklevel=1,
            )
        await stopping


# --- what the test sends -----------------------------------------------------------------


def lead(summary: str, village: str | None = OWN_VILLAGE, **fields: Any) -> dict[str, Any]:
    """A request body: a village-tyrant lead unless ``fields`` say otherwise."""
    body = {"category": Category.VILLAGE_TYRANT.value, "summary": summary, "village": village}
    return body | fields


def unique(summary: str) -> str:
    return f"{summary}（{uuid.uuid4().hex[:8]}）"


async def upload(
    intake: httpx.AsyncClient, filename: str, content: bytes, user: str = "screener.v01"
) -> httpx.Response:
    """A screening ledger imported as a screener uploads it."""
    return await intake.post(
        "/v1/leads/import", files={"file": (filename, content)}, headers=token(user)
    )


def refusal(response: httpx.Response) -> dict[str, str]:
    """The one problem of an import refused as a whole: it names the file."""
    [detail] = response.json()["detail"]
    assert detail["field"] == "file", detail
    return dict(detail)


# --- what the test reads back -------------------------------------------------------------


async def stored_in_intake(js: JetStreamContext) -> int:
    return (await js.stream_info(Stream.INTAKE)).state.messages


async def reports_stored(js: JetStreamContext, lead_id: str = "*") -> int:
    return await count_on(js, Stream.INTAKE, LEAD_REPORTED.replace("*", lead_id))


async def intake_events(js: JetStreamContext, lead_id: str) -> list[Event]:
    history = await EventStore(js, Stream.INTAKE, "intake").read_lead(lead_id)
    return [stored.event for stored in history.events]


async def report_of(js: JetStreamContext, lead_id: str) -> LeadReported:
    first = (await intake_events(js, lead_id))[0]
    assert isinstance(first, LeadReported)
    return first


async def event_types(js: JetStreamContext, lead_id: str) -> list[str]:
    return [event.event_type for event in await intake_events(js, lead_id)]


async def wait_until_projected(database_url: str, lead_id: str, timeout: float = 10.0) -> None:
    """Wait for the read model to hold the lead (polling the receipt would cost a proof of
    work a poll)."""
    engine = create_engine(sync_url(database_url))

    def lead_is_in_the_read_model() -> bool:
        with engine.connect() as conn:
            found = conn.execute(select(reports.c.lead_id).where(reports.c.lead_id == lead_id))
            return found.first() is not None

    try:
        await wait_until(lead_is_in_the_read_model, timeout=timeout)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class PlantedIdentity:
    """An identity no other text contains, to be looked for everywhere afterwards."""

    name: str
    phone: str
    id_number: str
    address: str

    @classmethod
    def new(cls) -> PlantedIdentity:
        marker = uuid.uuid4()
        digits = f"{marker.int % 10**17:017d}"
        return cls(
            name=f"测试举报人-{marker.hex}",
            phone=f"1{digits[:10]}",
            id_number=f"9{digits}",
            address=f"测试住址{marker.hex[::-1]}号",
        )

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "phone": self.phone,
            "id_number": self.id_number,
            "address": self.address,
        }

    def found_in(self, blob: bytes) -> list[str]:
        """The planted values present in ``blob``, as UTF-8 or as JSON \\u-escapes."""
        found = []
        for value in self.as_json().values():
            forms = {
                value.encode(),
                json.dumps(value).strip('"').encode(),
            }
            if any(form in blob for form in forms):
                found.append(value)
        return found


async def everything_in_jetstream(js: JetStreamContext) -> list[tuple[str, int, bytes]]:
    """Every message of every stream on the server: its data, then its headers."""
    messages = []
    for info in await js.streams_info():
        name = info.config.name
        if not info.state.messages:
            continue
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await js.get_msg(name, sequence)
            except NotFoundError:
                continue
            headers = "".join(f"{k}: {v}\n" for k, v in (msg.headers or {}).items())
            messages.append((name, sequence, (msg.data or b"") + b"\n" + headers.encode()))
    return messages


def everything_in_the_database(database_url: str) -> bytes:
    """SQLite: the bytes of the database file and its journals. PostgreSQL: every value of
    every row of every table."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        files = [f for f in path.parent.iterdir() if f.name.startswith(path.name)]
        assert path in files
        return b"".join(f.read_bytes() for f in files)
    engine = create_engine(sync_url(database_url))
    tables = MetaData()
    try:
        tables.reflect(engine)
        with engine.connect() as conn:
            values = [
                value if isinstance(value, bytes) else str(value).encode()
                for table in tables.sorted_tables
                for row in conn.execute(select(table))
                for value in row
            ]
    finally:
        engine.dispose()
    assert values
    return b"\n".join(values)


@contextlib.contextmanager
def another_empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database of the same kind, for a service rebuilt from the log."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'rebuilt.db'}"
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sync_url(database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def rebuild_from_the_log(js: JetStreamContext, database_url: str) -> None:
    """Intake's read model rebuilt into ``database_url`` as `leadctl replay intake` does."""
    engine = create_engine(sync_url(database_url))
    trackers: dict[str, Tracker] = {}
    try:
        for subscription in SUBSCRIPTIONS:
            projection = subscription.projection
            tracker = trackers.setdefault(
                projection.name, Tracker(engine, projection, owner="leadctl-replay")
            )
            await replay(
                js, tracker, subscription.stream, filter_subject=subscription.filter_subject
            )
    finally:
        engine.dispose()


def wrapped_key_of(database_url: str, lead_id: str) -> tuple[bytes | None, datetime | None]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(identity_keys.c.wrapped_key, identity_keys.c.shredded_at).where(
                    identity_keys.c.lead_id == lead_id
                )
            ).one()
    finally:
        engine.dispose()
    return row.wrapped_key, row.shredded_at


class DuplicateLinks:
    """The duplicate check's view of the INTAKE stream, in memory: no report has history,
    and each link appended is kept by its lead (``named``: lead -> the earlier report)."""

    def __init__(self) -> None:
        self.named: dict[str, str] = {}

    async def read_lead(self, _lead_id: str) -> Any:
        return SimpleNamespace(events=[])

    async def append(self, event: Any) -> None:
        self.named[event.lead_id] = event.duplicate_of
