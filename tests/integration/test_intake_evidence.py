"""Reporters' evidence files: a 20 MB video and a photo with its location sent with the
receipt, sealed chunk by chunk as they arrive and stored once whole, read decrypted by the
staff who may read the lead (each read recorded), still readable once the reporter's
identity is shredded, and unrecoverable once the evidence key is destroyed. Hostile
uploads (too large, a program, too many) are refused naming the limit; other roles are
refused; nothing refused stays in the bucket."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nats.js import JetStreamContext
from PIL import Image
from sqlalchemy import create_engine, select

from common.database import sync_url
from common.events.catalogue import LeadViewed
from common.events.evidence import EvidenceAttached
from common.evidence import (
    CHUNK_BYTES,
    EvidenceStore,
    EvidenceUnreadable,
    bucket_stream,
    evidence_bucket,
)
from common.subjects import Service, Stream
from intake.bootstrap import create_app
from intake.vault import evidence_keys
from tests.conftest import NatsTarget
from tests.support.apps import token
from tests.support.intake import (
    Keys,
    PlantedIdentity,
    everything_in_the_database,
    intake_events,
    intake_settings,
    lead,
    running,
    unique,
    wait_until_projected,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

BUCKET = evidence_bucket(Service.INTAKE)
VIDEO_BYTES = 20 * 1024 * 1024
# A real MP4 start: an ftyp box (brand isom), then a free box; the rest is noise.
MP4_HEADER = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41\x00\x00\x00\x08free"
# The lead is not filed (no ledger runs here): the desk of its town and the county read it.
READERS = ("office", "clerk", "custodian", "auditor")


def photo_with_location(shade: int = 30) -> bytes:
    image = Image.new("RGB", (64, 48), (200, shade, 30))
    exif = Image.Exif()
    exif[0x013B] = "Zhang San"  # Artist
    exif[0x8825] = {1: "N", 2: (32.0, 45.0, 10.0), 3: "E", 4: (113.0, 20.0, 5.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def gps_of(data: bytes) -> dict[int, object]:
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(0x8825))


async def stored_messages(js: JetStreamContext) -> int:
    return (await js.stream_info(bucket_stream(BUCKET))).state.messages


async def described_objects(js: JetStreamContext) -> int:
    """Objects the bucket describes (a refused upload's chunks have no description)."""
    info = await js.stream_info(bucket_stream(BUCKET), subjects_filter=f"$O.{BUCKET}.M.>")
    return len(info.state.subjects or {})


async def report(intake: httpx.AsyncClient, **fields: Any) -> tuple[str, str]:
    reported = await intake.post("/v1/reports", json=lead(unique("举报村霸强占土地"), **fields))
    assert reported.status_code == 201, reported.text
    return reported.json()["lead_id"], reported.json()["receipt"]


async def send(
    intake: httpx.AsyncClient, receipt: str, content: object, strip: bool = False
) -> httpx.Response:
    # The Content-Type is a lie on purpose: the type is judged from the bytes.
    return await intake.post(
        f"/v1/reports/{receipt}/files",
        params={"strip_metadata": "true"} if strip else None,
        content=content,  # type: ignore[arg-type]
        headers={"Content-Type": "image/jpeg"},
    )


async def test_a_reporters_video_and_photo_are_ciphertext_in_the_bucket_and_read_by_staff(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    database_url: str,
    tmp_path: Path,
    keys: Keys,
) -> None:
    settings = intake_settings(nats_target, database_url, tmp_path, keys)
    video = MP4_HEADER + os.urandom(VIDEO_BYTES - len(MP4_HEADER))
    photo = photo_with_location()
    assert gps_of(photo)

    async with running(create_app(settings)) as intake:
        lead_id, receipt = await report(intake, identity=PlantedIdentity.new().as_json())
        await wait_until_projected(database_url, lead_id)
        before = await stored_messages(streams)
        published_while_sending: list[int] = []

        async def streamed() -> AsyncIterator[bytes]:
            # Sent in pieces with no Content-Length; how much the bucket holds is noted as
            # they go: nothing reaches it before the whole file came within its limit.
            for start in range(0, len(video), 1024 * 1024):
                published_while_sending.append(await stored_messages(streams) - before)
                yield video[start : start + 1024 * 1024]

        sent = await send(intake, receipt, streamed())
        assert sent.status_code == 201, sent.text
        assert sent.json()["media_type"] == "video/mp4"
        assert sent.json()["size"] == VIDEO_BYTES
        assert published_while_sending == [0] * len(published_while_sending)
        assert await stored_messages(streams) - before == 2 + -(-VIDEO_BYTES // CHUNK_BYTES)
        video_id = sent.json()["file_id"]

        stripped = await send(intake, receipt, photo, strip=True)
        assert stripped.status_code == 201, stripped.text
        assert stripped.json()["metadata_found"] is True
        assert stripped.json()["metadata_stripped"] is True
        kept = await send(intake, receipt, photo)
        assert kept.status_code == 201, kept.text
        assert (kept.json()["metadata_found"], kept.json()["metadata_stripped"]) == (True, False)

        attached = [
            e for e in await intake_events(streams, lead_id) if isinstance(e, EvidenceAttached)
        ]
        assert [a.file_id for a in attached] == [
            video_id,
            stripped.json()["file_id"],
            kept.json()["file_id"],
        ]
        assert attached[0].size == VIDEO_BYTES
        assert attached[0].metadata_found is False
        assert all(lead_id not in a.file_id for a in attached)

        listed = await intake.get(f"/v1/leads/{lead_id}/files", headers=token("auditor"))
        assert listed.status_code == 200, listed.text
        assert [f["file_id"] for f in listed.json()["files"]] == [a.file_id for a in attached]
        assert listed.json()["files"][1]["metadata_stripped"] is True
        # Police see only the leads handed to their unit: this one is not, so it is not there.
        not_listed = await intake.get(f"/v1/leads/{lead_id}/files", headers=token("police"))
        assert not_listed.status_code == 404, not_listed.text

        # The bucket holds ciphertext only: no stretch of the video, no photo in it.
        bucket = EvidenceStore(streams, BUCKET)
        raw = b"".join([chunk async for chunk in bucket.raw(video_id)])
        assert len(raw) > VIDEO_BYTES
        assert video[5_000_000:5_000_064] not in raw
        assert MP4_HEADER not in raw
        raw_photo = b"".join([chunk async for chunk in bucket.raw(kept.json()["file_id"])])
        assert b"Zhang San" not in raw_photo
        assert photo[200:264] not in raw_photo

        for reader in READERS:
            got = await intake.get(f"/v1/leads/{lead_id}/files/{video_id}", headers=token(reader))
            assert got.status_code == 200, got.text
            assert got.content == video
            assert got.headers["content-type"] == "video/mp4"
        views = await events_on(streams, Stream.AUDIT, f"audit.intake.lead.{lead_id}.LeadViewed")
        assert len(views) == len(READERS)
        assert all(isinstance(v, LeadViewed) and video_id in v.purpose for v in views)

        clean = await intake.get(
            f"/v1/leads/{lead_id}/files/{stripped.json()['file_id']}", headers=token("office")
        )
        assert clean.status_code == 200
        assert gps_of(clean.content) == {}
        assert b"Zhang San" not in clean.content
        original = await intake.get(
            f"/v1/leads/{lead_id}/files/{kept.json()['file_id']}", headers=token("office")
        )
        assert original.content == photo

        # Who may not: the roles that see only the leads handed to their unit or filed in
        # their village (this one is neither: not filed), an administrator, and the public.
        for outsider in ("police", "judicial", "discipline", "screener.v01"):
            refused = await intake.get(
                f"/v1/leads/{lead_id}/files/{video_id}", headers=token(outsider)
            )
            assert refused.status_code == 404, refused.text
        administrator = await intake.get(
            f"/v1/leads/{lead_id}/files/{video_id}", headers=token("admin")
        )
        assert administrator.status_code == 403, administrator.text
        nobody = await intake.get(f"/v1/leads/{lead_id}/files/{video_id}")
        assert nobody.status_code == 401
        other_lead, _ = await report(intake)
        elsewhere = await intake.get(
            f"/v1/leads/{other_lead}/files/{video_id}", headers=token("office")
        )
        assert elsewhere.status_code == 404, elsewhere.text
        unknown = await intake.get(
            f"/v1/leads/{lead_id}/files/{uuid.uuid4().hex}", headers=token("office")
        )
        assert unknown.status_code == 404, unknown.text
        # Refused reads are not reads: only the five readers' and the two photos' recorded.
        assert (
            len(await events_on(streams, Stream.AUDIT, f"audit.intake.lead.{lead_id}.LeadViewed"))
            == len(READERS) + 2
        )

        # Shredding the reporter's identity leaves the evidence as it was.
        shredded = await intake.post(
            f"/v1/leads/{lead_id}/identity/shred",
            json={"reason": "举报人要求销毁身份信息"},
            headers=token("custodian"),
        )
        assert shredded.status_code == 200, shredded.text
        after_shred = await intake.get(
            f"/v1/leads/{lead_id}/files/{video_id}", headers=token("office")
        )
        assert after_shred.status_code == 200
        assert after_shred.content == video

        data_key = _data_key(database_url, lead_id, keys)
        # The custodian alone destroys the key; a second time it is gone already.
        for user, expected in (("clerk", 403), ("admin", 403), ("custodian", 200)):
            destroyed = await intake.post(
                f"/v1/leads/{lead_id}/evidence/destroy-key",
                json={"reason": "举报人申请销毁证据材料"},
                headers=token(user),
            )
            assert destroyed.status_code == expected, destroyed.text
        assert (await intake_events(streams, lead_id))[-1].event_type == "EvidenceKeyDestroyed"

        for file_id in (video_id, stripped.json()["file_id"]):
            gone = await intake.get(f"/v1/leads/{lead_id}/files/{file_id}", headers=token("office"))
            assert gone.status_code == 410, gone.text
        again = await intake.post(
            f"/v1/leads/{lead_id}/evidence/destroy-key",
            json={"reason": "再次销毁证据材料"},
            headers=token("custodian"),
        )
        assert again.status_code == 410, again.text
        late = await send(intake, receipt, photo)
        assert late.status_code == 410, late.text

    # The key is gone from the key store and from the database's files; the ciphertext
    # left in the bucket opens with no other key.
    with create_engine(sync_url(database_url)).connect() as conn:
        row = conn.execute(
            select(evidence_keys.c.wrapped_key, evidence_keys.c.destroyed_at).where(
                evidence_keys.c.lead_id == lead_id
            )
        ).one()
    assert row.wrapped_key is None
    assert row.destroyed_at is not None
    assert data_key not in everything_in_the_database(database_url)
    with pytest.raises(EvidenceUnreadable):
        _ = [c async for c in EvidenceStore(streams, BUCKET).get(os.urandom(32), video_id)]


def _data_key(database_url: str, lead_id: str, keys: Keys) -> bytes:
    """The lead's evidence data key, unwrapped as intake does (to look for it later)."""
    with create_engine(sync_url(database_url)).connect() as conn:
        wrapped = conn.execute(
            select(evidence_keys.c.wrapped_key).where(evidence_keys.c.lead_id == lead_id)
        ).scalar_one()
    kek = AESGCM(base64.b64decode(keys.identity))
    return kek.decrypt(wrapped[:12], wrapped[12:], b"evidence-data-key:" + lead_id.encode())


async def test_oversized_programs_and_one_file_too_many_are_refused_naming_the_limit(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> None:
    settings = intake_settings(nats_target, sqlite_url, tmp_path, keys).model_copy(
        update={
            "evidence_max_bytes": 1024 * 1024,
            "evidence_photo_max_bytes": 64 * 1024,
            "evidence_max_files": 2,
        }
    )
    async with running(create_app(settings)) as intake:
        lead_id, receipt = await report(intake)
        await wait_until_projected(sqlite_url, lead_id)
        before = await described_objects(streams)

        async def too_long() -> AsyncIterator[bytes]:
            yield MP4_HEADER
            for _ in range(3):
                yield os.urandom(512 * 1024)

        # Sent in pieces with no length, and with its length declared: refused either way,
        # naming the file's limit.
        for body in (too_long(), MP4_HEADER + os.urandom(1024 * 1024)):
            too_large = await send(intake, receipt, body)
            assert too_large.status_code == 413, too_large.text
            problem = too_large.json()["detail"][0]
            assert problem["limit_bytes"] == 1024 * 1024
            assert "1,048,576 bytes" in problem["message_en"]
            assert "上限" in problem["message"]

        big_photo = Image.new("RGB", (400, 400))
        big_photo.frombytes(os.urandom(400 * 400 * 3))
        out = io.BytesIO()
        big_photo.save(out, "PNG")
        photo_refused = await send(intake, receipt, out.getvalue())
        assert photo_refused.status_code == 413, photo_refused.text
        assert photo_refused.json()["detail"][0]["limit_bytes"] == 64 * 1024

        for program in (
            b"MZ\x90\x00" + os.urandom(4096),  # a Windows program
            b"\x7fELF\x02\x01\x01" + bytes(4096),  # a Linux one
            b"#!/bin/sh\nrm -rf /\n",  # a script
            b"",
        ):
            refused = await send(intake, receipt, program)
            assert refused.status_code == 415, refused.text
            assert "PDF" in refused.json()["detail"][0]["message_en"]

        # Nothing refused is an object of the bucket.
        assert await described_objects(streams) == before

        for shade in (30, 90):
            sent = await send(intake, receipt, photo_with_location(shade))
            assert sent.status_code == 201, sent.text
        one_more = await send(intake, receipt, photo_with_location(150))
        assert one_more.status_code == 422, one_more.text
        assert "2" in one_more.json()["detail"][0]["message_en"]
        assert (
            len(
                [
                    e
                    for e in await intake_events(streams, lead_id)
                    if isinstance(e, EvidenceAttached)
                ]
            )
            == 2
        )

        unknown = await send(intake, "R" * 20, photo_with_location())
        assert unknown.status_code == 404, unknown.text


async def test_the_same_file_sent_twice_is_held_once(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> None:
    """A form sent twice, or a retry after an answer that was lost: one file, one id, one
    object in the bucket. The same photo sent once as it is and once with its location
    taken out is two files: what is stored differs."""
    async with running(create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))) as (
        intake
    ):
        lead_id, receipt = await report(intake)
        await wait_until_projected(sqlite_url, lead_id)
        before = await described_objects(streams)
        pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
        twice = [await send(intake, receipt, pdf) for _ in range(2)]
        assert [t.status_code for t in twice] == [201, 201], [t.text for t in twice]
        assert twice[0].json() == twice[1].json()
        photo = photo_with_location()
        kept, stripped = [
            await send(intake, receipt, photo, strip=strip) for strip in (False, True)
        ]
        assert kept.json()["file_id"] != stripped.json()["file_id"]
        assert (await send(intake, receipt, photo, strip=True)).json() == stripped.json()

        attached = [
            e for e in await intake_events(streams, lead_id) if isinstance(e, EvidenceAttached)
        ]
        assert [e.file_id for e in attached] == [
            twice[0].json()["file_id"],
            kept.json()["file_id"],
            stripped.json()["file_id"],
        ]
        assert await described_objects(streams) == before + 3
        listed = await intake.get(f"/v1/leads/{lead_id}/files", headers=token("office"))
        assert len(listed.json()["files"]) == 3

        # Sent twice at once (a double click): whichever records first, one file.
        video = MP4_HEADER + os.urandom(2 * 1024 * 1024)
        both = await asyncio.gather(*(send(intake, receipt, video) for _ in range(2)))
        assert [b.status_code for b in both] == [201, 201], [b.text for b in both]
        assert both[0].json()["file_id"] == both[1].json()["file_id"]
        attached = [
            e for e in await intake_events(streams, lead_id) if isinstance(e, EvidenceAttached)
        ]
        assert len(attached) == 4
