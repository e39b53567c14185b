"""Shredding is final and never unrecorded: after a shred no file of the service's database
(SQLite: the database, its write-ahead log, free pages; PostgreSQL: every page of the
database) holds the lead's key, the shredding is in the log even when the lead changed
meanwhile, and a shredding interrupted after it was recorded is carried out."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nats.js import JetStreamContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from common.database import sync_url
from common.events import Actor, Role
from common.events.catalogue import IdentityShredded, ReporterMessagePosted
from common.eventstore import EventStore, LeadHistory
from common.subjects import Stream
from intake.bootstrap import create_app
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import token
from tests.support.intake import (
    Keys,
    PlantedIdentity,
    event_types,
    intake_settings,
    lead,
    running,
    unique,
    wait_until_projected,
    wrapped_key_of,
)

pytestmark = pytest.mark.integration

CUSTODIAN = Actor(role=Role.CUSTODIAN, unit="shd-discipline", user="custodian")


async def report_named(intake: httpx.AsyncClient) -> str:
    answer = await intake.post(
        "/v1/reports",
        json=lead(unique("举报人实名举报村霸"), identity=PlantedIdentity.new().as_json()),
    )
    assert answer.status_code == 201, answer.text
    lead_id: str = answer.json()["lead_id"]
    return lead_id


async def shred(intake: httpx.AsyncClient, lead_id: str) -> httpx.Response:
    return await intake.post(
        f"/v1/leads/{lead_id}/identity/shred",
        json={"reason": "举报人要求销毁身份信息"},
        headers=token("custodian"),
    )


def data_key(keys: Keys, lead_id: str, wrapped: bytes) -> bytes:
    """What the wrapped key opens to: the key that seals the identity itself."""
    kek = AESGCM(base64.b64decode(keys.identity))
    return kek.decrypt(wrapped[:12], wrapped[12:], b"identity-data-key:" + lead_id.encode())


def every_stored_byte(database_url: str) -> bytes:
    """SQLite: every file in the database's directory (database, write-ahead log, shared
    memory). PostgreSQL: every file of the database's directory on the server, after a
    checkpoint has written every page out."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        directory = Path(url.database or "").parent
        return b"".join(f.read_bytes() for f in sorted(directory.rglob("*")) if f.is_file())
    engine = create_engine(sync_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
            directory = conn.execute(
                text("SELECT 'base/' || oid FROM pg_database WHERE datname = current_database()")
            ).scalar_one()
            files = conn.execute(text("SELECT pg_ls_dir(:d)"), {"d": directory}).scalars().all()
            return b"".join(
                conn.execute(
                    text("SELECT pg_read_binary_file(CAST(:f AS text))"),
                    {"f": f"{directory}/{name}"},
                ).scalar_one()
                or b""
                for name in files
            )
    finally:
        engine.dispose()


async def test_after_a_shred_no_file_and_no_page_of_the_database_holds_the_key(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    database_url: str,
    tmp_path: Path,
    keys: Keys,
) -> None:
    async with running(create_app(intake_settings(nats_target, database_url, tmp_path, keys))) as (
        intake
    ):
        # Enough named reports that the key's page has several versions in the WAL.
        lead_ids = [await report_named(intake) for _ in range(12)]
        target, kept = lead_ids[4], lead_ids[-1]
        await wait_until_projected(database_url, kept)
        wrapped, _ = wrapped_key_of(database_url, target)
        kept_wrapped, _ = wrapped_key_of(database_url, kept)
        assert wrapped is not None
        assert kept_wrapped is not None
        secret = data_key(keys, target, wrapped)

        # The search finds what is there: the key before the shred, as an attacker would.
        assert wrapped in every_stored_byte(database_url)

        shredded = await shred(intake, target)
        assert shredded.status_code == 200, shredded.text

        stored = every_stored_byte(database_url)
        assert wrapped not in stored, "the destroyed key is still in a database file"
        assert secret not in stored
        assert kept_wrapped in stored, "the search no longer reads the live keys"

        disclosed = await intake.post(
            f"/v1/leads/{target}/identity/disclose",
            json={"reason": "依法核查需要联系举报人"},
            headers=token("custodian"),
        )
        assert disclosed.status_code == 410, disclosed.text


async def test_a_shred_is_recorded_even_when_the_lead_changed_while_it_was_decided(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    sqlite_url: str,
    tmp_path: Path,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with running(create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))) as (
        intake
    ):
        lead_id = await report_named(intake)
        await wait_until_projected(sqlite_url, lead_id)

        # Something else (the duplicate detector, a reporter's message) lands on the lead
        # between the shredding's read of the history and its append.
        read_lead: Callable[[EventStore, str], Awaitable[LeadHistory]] = EventStore.read_lead
        interfered: list[str] = []

        async def read_then_interfere(store: EventStore, wanted: str) -> LeadHistory:
            history = await read_lead(store, wanted)
            if wanted == lead_id and not interfered:
                message = ReporterMessagePosted(lead_id=lead_id, text="还有补充", actor=CUSTODIAN)
                await store.append(message)
                interfered.append(message.event_id)
            return history

        monkeypatch.setattr(EventStore, "read_lead", read_then_interfere)
        shredded = await shred(intake, lead_id)
        monkeypatch.undo()

        assert interfered, "nothing interfered: the test proves nothing"
        assert shredded.status_code == 200, shredded.text
        history = await event_types(streams, lead_id)
        assert history == ["LeadReported", "ReporterMessagePosted", "IdentityShredded"]
        wrapped, shredded_at = wrapped_key_of(sqlite_url, lead_id)
        assert wrapped is None
        assert shredded_at is not None


async def test_a_shredding_recorded_but_interrupted_before_the_key_went_is_carried_out(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    sqlite_url: str,
    tmp_path: Path,
    keys: Keys,
) -> None:
    app = create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))
    async with running(app) as intake:
        by_retention, by_custodian = await report_named(intake), await report_named(intake)
        await wait_until_projected(sqlite_url, by_custodian)
        # The process stopped right after recording the shredding: the key is still there.
        store = EventStore(streams, Stream.INTAKE, "intake")
        for lead_id in (by_retention, by_custodian):
            await store.append(
                IdentityShredded(
                    lead_id=lead_id,
                    reason="举报人要求销毁身份信息",
                    actor=CUSTODIAN,
                    correlation_id=uuid.uuid4().hex,
                )
            )
            assert wrapped_key_of(sqlite_url, lead_id)[0] is not None

        # The custodian asking again is told it is gone, and it is.
        again = await shred(intake, by_custodian)
        assert again.status_code == 410, again.text
        assert wrapped_key_of(sqlite_url, by_custodian)[0] is None

        # The retention job finds the other once the read model knows of the shredding.
        await wait_until(lambda: app.state.intake.finish_shredding(), timeout=10)
        assert wrapped_key_of(sqlite_url, by_retention)[0] is None
        assert await event_types(streams, by_retention) == ["LeadReported", "IdentityShredded"]
