"""The custody of a named reporter's identity: it is never in the clear (not in any
stream, database, rebuilt database or log), it is read on a request a custodian approved
(a custodian's or a clerk's read alone is refused), and once shredded (on request, or by itself once its lead has been archived long enough) it
is gone, from a replay too."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import create_engine, select

from common.database import sync_url
from common.events import Actor, Role, utc_now
from common.events.catalogue import LeadArchived
from common.eventstore import EventStore
from common.subjects import Stream
from intake.bootstrap import create_app
from intake.projection.tables import reports
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import token
from tests.support.identity_requests import handed_to, read_on_approval
from tests.support.intake import (
    Keys,
    PlantedIdentity,
    another_empty_database,
    event_types,
    everything_in_jetstream,
    everything_in_the_database,
    intake_settings,
    lead,
    rebuild_from_the_log,
    running,
    unique,
    wait_until_projected,
    wrapped_key_of,
)

pytestmark = pytest.mark.integration


async def test_a_named_reporters_identity_is_never_in_the_clear_and_once_shredded_is_gone(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    database_url: str,
    tmp_path: Path,
    keys: Keys,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    planted = PlantedIdentity.new()
    reason = {"reason": "依法核查需要联系举报人"}
    settings = intake_settings(nats_target, database_url, tmp_path, keys)

    async with running(create_app(settings)) as intake:
        reported = await intake.post(
            "/v1/reports",
            json=lead(unique("举报村霸暴力拆迁"), identity=planted.as_json()),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert reported.status_code == 201, reported.text
        lead_id, receipt = reported.json()["lead_id"], reported.json()["receipt"]
        await wait_until_projected(database_url, lead_id)

        status = await intake.get(f"/v1/reports/{receipt}")
        assert status.status_code == 200, status.text
        assert status.json()["status"] == "received"
        supplement = await intake.post(
            f"/v1/reports/{receipt}/messages", json={"text": "补充：拆迁时有人持械"}
        )
        assert supplement.status_code == 201, supplement.text

        by_clerk = await intake.post(
            f"/v1/leads/{lead_id}/identity/disclose", json=reason, headers=token("clerk")
        )
        assert by_clerk.status_code == 403, by_clerk.text
        alone = await intake.post(
            f"/v1/leads/{lead_id}/identity/disclose", json=reason, headers=token("custodian")
        )
        assert alone.status_code == 403, alone.text
        await handed_to(streams, database_url, lead_id, "shd-police")
        disclosed = await read_on_approval(intake, lead_id)
        assert disclosed.status_code == 200, disclosed.text
        assert disclosed.json() == planted.as_json()
        assert planted.found_in(disclosed.content) == list(planted.as_json().values())
        assert (await event_types(streams, lead_id))[-1] == "IdentityDisclosed"

        shredded = await intake.post(
            f"/v1/leads/{lead_id}/identity/shred",
            json={"reason": "举报人要求销毁身份信息"},
            headers=token("custodian"),
        )
        assert shredded.status_code == 200, shredded.text
        assert (await event_types(streams, lead_id))[-1] == "IdentityShredded"

        after_shredding = await intake.post(
            f"/v1/leads/{lead_id}/identity/disclose", json=reason, headers=token("custodian")
        )
        assert after_shredding.status_code == 410, after_shredding.text
        shredded_twice = await intake.post(
            f"/v1/leads/{lead_id}/identity/shred",
            json={"reason": "再次销毁身份信息"},
            headers=token("admin"),
        )
        assert shredded_twice.status_code == 410, shredded_twice.text

    wrapped_key, shredded_at = wrapped_key_of(database_url, lead_id)
    assert wrapped_key is None
    assert shredded_at is not None

    # A replay: the same keys, the same log, a new empty database rebuilt from the log.
    with another_empty_database(database_url, tmp_path) as rebuilt_url:
        await rebuild_from_the_log(streams, rebuilt_url)
        rebuilt = intake_settings(nats_target, rebuilt_url, tmp_path, keys)
        async with running(create_app(rebuilt)) as intake:
            still_there = await intake.get(f"/v1/reports/{receipt}")
            assert still_there.status_code == 200, still_there.text
            replayed = await intake.post(
                f"/v1/leads/{lead_id}/identity/disclose", json=reason, headers=token("custodian")
            )
            assert replayed.status_code == 410, replayed.text
        rebuilt_database = everything_in_the_database(rebuilt_url)

    stored = await everything_in_jetstream(streams)
    assert any(lead_id.encode() in blob for _, _, blob in stored)
    for stream, sequence, blob in stored:
        assert not planted.found_in(blob), f"identity in the clear in {stream} #{sequence}"
        assert receipt.encode() not in blob, f"the receipt in the clear in {stream} #{sequence}"
    for database in (everything_in_the_database(database_url), rebuilt_database):
        assert not planted.found_in(database)
        assert receipt.encode() not in database
    logs = capfd.readouterr()
    output = logs.out + logs.err + caplog.text
    assert lead_id in output, "the service's log was not captured"
    assert not planted.found_in(output.encode())


async def test_an_identity_is_shredded_by_itself_once_its_lead_has_been_archived_long_enough(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> None:
    app = create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))
    async with running(app) as intake:
        old, recent = [
            (
                await intake.post(
                    "/v1/reports", json=lead(unique(summary), identity={"name": "保留期测试"})
                )
            ).json()["lead_id"]
            for summary in ("村霸多年前强占耕地", "村霸近来强收保护费")
        ]
        ledger = EventStore(streams, Stream.LEDGER, "ledger")
        office = Actor(role=Role.OFFICE, unit="shd-office", user="office")
        long_ago = utc_now() - timedelta(days=6 * 365)
        await ledger.append(LeadArchived(lead_id=old, occurred_at=long_ago, actor=office))
        await ledger.append(LeadArchived(lead_id=recent, actor=office))
        engine = create_engine(sync_url(sqlite_url))

        def both_archived() -> bool:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(reports.c.lead_id).where(reports.c.archived_at.is_not(None))
                )
                return {r.lead_id for r in rows} == {old, recent}

        await wait_until(both_archived)
        engine.dispose()

        await app.state.intake.apply_retention()
        await app.state.intake.apply_retention()  # once is enough; twice changes nothing

        assert (await event_types(streams, old)).count("IdentityShredded") == 1
        assert "IdentityShredded" not in await event_types(streams, recent)
        assert wrapped_key_of(sqlite_url, old)[0] is None
        assert wrapped_key_of(sqlite_url, recent)[0] is not None
        refused = await intake.post(
            f"/v1/leads/{old}/identity/disclose",
            json={"reason": "核实举报人身份"},
            headers=token("custodian"),
        )
        assert refused.status_code == 410
