"""Who reads a reporter's files in intake, in the demo county of two towns: the rule the
ledger reads leads by (common.visibility). Another town's clerk, and police of a unit the
lead was not handed to, find no such lead (404, the very answer for a lead that does not
exist); the town's own clerk and the county read it; police read it once the ledger hands
it to their station, and the read is on AUDIT. A reporter's identity is asked for, and
decided on, by the same rule. And a refused upload leaves nothing in the bucket."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from sqlalchemy import create_engine, select

from common.database import sync_url
from common.events import Role
from common.events.catalogue import LeadViewed
from common.evidence import bucket_stream, evidence_bucket
from common.organisation import demo_county_file
from common.subjects import Service, Stream
from common.visibility import units_of
from intake.bootstrap import create_app
from intake.projection.tables import reports
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import token, write_people
from tests.support.identity_requests import ASKED
from tests.support.intake import (
    Keys,
    PlantedIdentity,
    intake_settings,
    lead,
    running,
    unique,
    wait_until_projected,
)
from tests.support.ledger import act, filed, ledger_settings, moved_to, serving_ledger
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

BUCKET = evidence_bucket(Service.INTAKE)
# A real MP4 start (an ftyp box, then a free box); the rest is noise.
MP4_HEADER = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41\x00\x00\x00\x08free"

# user -> (role, unit); the token is "token-<user>". "office" is the county office (the
# ledger helpers wait for a filing as "office" sees it).
PEOPLE: dict[str, tuple[Role, str | None]] = {
    "office": (Role.OFFICE, "county"),
    "shd.clerk": (Role.CLERK, "shd-office"),
    "shd.police": (Role.POLICE, "shd-police"),
    "shd.custodian": (Role.CUSTODIAN, "shd-discipline"),
    "zxl.clerk": (Role.CLERK, "zxl-office"),
    "zxl.office": (Role.OFFICE, "zxl-office"),
    "zxl.police": (Role.POLICE, "zxl-police"),
    "zxl.judicial": (Role.JUDICIAL, "zxl-judicial"),
    "zxl.custodian": (Role.CUSTODIAN, "zxl-discipline"),
}


async def send(intake: httpx.AsyncClient, receipt: str, content: object) -> httpx.Response:
    return await intake.post(
        f"/v1/reports/{receipt}/files",
        content=content,  # type: ignore[arg-type]
        headers={"Content-Type": "application/octet-stream"},
    )


def held_in_intake(database_url: str, lead_id: str) -> tuple[str | None, frozenset[str]]:
    """The lead's ledger number and the units it was handed to, as intake's read model has
    them."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(reports.c.ledger_number, reports.c.units).where(reports.c.lead_id == lead_id)
            ).first()
    finally:
        engine.dispose()
    return (None, frozenset()) if row is None else (row.ledger_number, units_of(row.units))


async def test_a_towns_files_are_read_by_its_people_and_the_units_it_was_handed_to(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    sqlite_url: str,
    tmp_path: Path,
    keys: Keys,
) -> None:
    users = write_people(tmp_path / "county-users.toml", PEOPLE)
    county = demo_county_file()
    in_intake = intake_settings(nats_target, sqlite_url, tmp_path, keys).model_copy(
        update={"users_file": users, "org_file": county}
    )
    in_ledger = ledger_settings(
        nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, org_file=county
    ).model_copy(update={"users_file": users})
    content = MP4_HEADER + os.urandom(300_000)
    planted = PlantedIdentity.new()

    async with (
        serving_ledger(streams, in_ledger) as ledger,
        running(create_app(in_intake)) as intake,
    ):
        reported = await intake.post(
            "/v1/reports",
            json=lead(unique("某乡 砂石盗采团伙威胁村民"), "zxl-v01", identity=planted.as_json()),
        )
        assert reported.status_code == 201, reported.text
        lead_id, receipt = reported.json()["lead_id"], reported.json()["receipt"]
        await wait_until_projected(sqlite_url, lead_id)
        sent = await send(intake, receipt, content)
        assert sent.status_code == 201, sent.text
        file_id = sent.json()["file_id"]
        files, one_file = f"/v1/leads/{lead_id}/files", f"/v1/leads/{lead_id}/files/{file_id}"

        numbered = await filed(ledger.http, lead_id)
        assert str(numbered["ledger_number"]).startswith("ZXL-")
        await wait_until(lambda: held_in_intake(sqlite_url, lead_id)[0] is not None)

        # The answer for a lead that does not exist, to compare the refusals with.
        nothing = uuid.uuid4().hex
        no_lead = await intake.get(f"/v1/leads/{nothing}/files", headers=token("zxl.clerk"))
        assert no_lead.status_code == 404, no_lead.text
        no_file = await intake.get(
            f"/v1/leads/{nothing}/files/{file_id}", headers=token("zxl.clerk")
        )

        def hidden(response: httpx.Response, like: httpx.Response) -> None:
            assert response.status_code == 404, response.text
            assert response.json() == like.json()

        # Another town's clerk: no such lead, in the list and in a download alike.
        hidden(await intake.get(files, headers=token("shd.clerk")), no_lead)
        hidden(await intake.get(one_file, headers=token("shd.clerk")), no_file)
        # The town's own clerk and the county read it.
        listed = await intake.get(files, headers=token("zxl.clerk"))
        assert listed.status_code == 200, listed.text
        assert [f["file_id"] for f in listed.json()["files"]] == [file_id]
        for reader in ("zxl.clerk", "office"):
            got = await intake.get(one_file, headers=token(reader))
            assert got.status_code == 200, got.text
            assert got.content == content

        # Police read what is handed to their station, and only that.
        hidden(await intake.get(one_file, headers=token("zxl.police")), no_file)
        moved_to(
            await act(
                ledger.http,
                lead_id,
                "transfer",
                "zxl.office",
                to_unit="zxl-police",
                reason="涉嫌违法犯罪",
            ),
            "transferred",
        )
        await wait_until(lambda: "zxl-police" in held_in_intake(sqlite_url, lead_id)[1])
        by_police = await intake.get(one_file, headers=token("zxl.police"))
        assert by_police.status_code == 200, by_police.text
        assert by_police.content == content
        hidden(await intake.get(one_file, headers=token("shd.police")), no_file)
        hidden(await intake.get(files, headers=token("zxl.judicial")), no_lead)
        views = await events_on(streams, Stream.AUDIT, f"audit.intake.lead.{lead_id}.LeadViewed")
        readers = [v.actor.user for v in views if isinstance(v, LeadViewed)]
        assert readers == ["zxl.clerk", "office", "zxl.police"]

        # The reporter's identity: asked for by who may read the lead, decided on by the
        # custodian of its town; another town's custodian finds no such lead either.
        def ask(user: str, about: str = lead_id) -> Any:
            return intake.post(
                f"/v1/leads/{about}/identity/requests", json=ASKED, headers=token(user)
            )

        no_such = await ask("zxl.police", nothing)
        assert no_such.status_code == 404, no_such.text
        hidden(await ask("shd.police"), no_such)
        asked = await ask("zxl.police")
        assert asked.status_code == 201, asked.text
        request = f"/v1/leads/{lead_id}/identity/requests/{asked.json()['request_id']}"
        hidden(
            await intake.post(f"{request}/approve", json={}, headers=token("shd.custodian")),
            no_such,
        )
        hidden(
            await intake.get(
                f"/v1/leads/{lead_id}/identity/requests", headers=token("shd.custodian")
            ),
            no_such,
        )
        approved = await intake.post(f"{request}/approve", json={}, headers=token("zxl.custodian"))
        assert approved.status_code == 200, approved.text
        read = await intake.post(f"{request}/read", headers=token("zxl.police"))
        assert read.status_code == 200, read.text
        assert read.json() == planted.as_json()
        # Nor does another town's custodian destroy the lead's evidence key.
        hidden(
            await intake.post(
                f"/v1/leads/{lead_id}/evidence/destroy-key",
                json={"reason": "举报人申请销毁证据材料"},
                headers=token("shd.custodian"),
            ),
            no_lead,
        )
        still = await intake.get(one_file, headers=token("zxl.clerk"))
        assert still.status_code == 200

        # Nor shreds the reporter's identity: another town's custodian finds no such lead
        # and the identity stays; the town's own custodian shreds it.
        shred = f"/v1/leads/{lead_id}/identity/shred"
        because = {"reason": "举报人申请销毁身份信息"}
        hidden(await intake.post(shred, json=because, headers=token("shd.custodian")), no_lead)
        kept = await events_on(streams, Stream.INTAKE, f"intake.lead.{lead_id}.IdentityShredded")
        assert kept == []
        shredded = await intake.post(shred, json=because, headers=token("zxl.custodian"))
        assert shredded.status_code == 200, shredded.text
        assert shredded.json()["identity"] == "shredded"
        after = await events_on(streams, Stream.INTAKE, f"intake.lead.{lead_id}.IdentityShredded")
        assert [e.actor.user for e in after] == ["zxl.custodian"]


async def bucket_state(js: JetStreamContext) -> tuple[int, int]:
    state = (await js.stream_info(bucket_stream(BUCKET))).state
    return state.messages, state.bytes


async def test_an_upload_refused_halfway_leaves_nothing_in_the_bucket(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> None:
    settings = intake_settings(nats_target, sqlite_url, tmp_path, keys).model_copy(
        update={"evidence_max_bytes": 1024 * 1024, "evidence_max_files": 1}
    )
    async with running(create_app(settings)) as intake:
        reported = await intake.post("/v1/reports", json=lead(unique("村霸强占集体鱼塘")))
        assert reported.status_code == 201, reported.text
        lead_id, receipt = reported.json()["lead_id"], reported.json()["receipt"]
        await wait_until_projected(sqlite_url, lead_id)
        before = await bucket_state(streams)

        # Too large, sent in pieces with no Content-Length: 1.5 MiB of a 1 MiB limit, most
        # of it sealed and spooled before the limit is passed.
        async def too_long() -> AsyncIterator[bytes]:
            yield MP4_HEADER
            for _ in range(3):
                yield os.urandom(512 * 1024)

        refused = await send(intake, receipt, too_long())
        assert refused.status_code == 413, refused.text
        assert await bucket_state(streams) == before

        # The last slot taken while a file is still coming: that file is refused before
        # any of it is published. The first one is held after its first bytes (it passed
        # the look for room made before the body is read) while another takes the slot.
        reading, release = asyncio.Event(), asyncio.Event()

        async def held_back() -> AsyncIterator[bytes]:
            yield MP4_HEADER + os.urandom(20_000)
            reading.set()
            await release.wait()
            yield os.urandom(400_000)

        slow = asyncio.create_task(send(intake, receipt, held_back()))
        await asyncio.wait_for(reading.wait(), timeout=10)
        fast = await send(intake, receipt, MP4_HEADER + os.urandom(200_000))
        assert fast.status_code == 201, fast.text
        taken = await bucket_state(streams)
        assert taken[0] > before[0]
        release.set()
        late = await slow
        assert late.status_code == 422, late.text
        assert late.json()["detail"][0]["field"] == "file"
        assert await bucket_state(streams) == taken
