"""An evidence upload waits in a spool file before it reaches the append-only bucket: the
file holds ciphertext only, has no name, and is gone once the upload is stored or refused;
when the spool's disk has no room for one more upload, it is refused (503, try later)
before a byte is read, and the next one goes through once there is room."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext

import common.evidence
from common.evidence import (
    CHUNK_BYTES,
    EvidenceSpoolFull,
    EvidenceStore,
    EvidenceTooLarge,
    bucket_config,
    bucket_stream,
    evidence_bucket,
    new_data_key,
)
from common.streams import declare_stream
from common.subjects import Service
from intake.bootstrap import create_app
from tests.conftest import NatsTarget
from tests.support.intake import Keys, intake_settings, lead, running, unique

pytestmark = pytest.mark.integration

MP4_HEADER = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41\x00\x00\x00\x08free"


def spooled(spool_dir: Path) -> list[bytes]:
    """What this process's open files under ``spool_dir`` hold (read through /proc: the
    spool has no name of its own)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(spool_dir)):
            with open(f"/proc/self/fd/{fd}", "rb") as again:
                found.append(again.read())
    return found


async def state(js: JetStreamContext, bucket: str) -> tuple[int, int]:
    info = (await js.stream_info(bucket_stream(bucket))).state
    return info.messages, info.bytes


async def test_the_spool_holds_ciphertext_only_and_is_gone_afterwards(
    js: JetStreamContext, tmp_path: Path
) -> None:
    bucket = f"TEST_{uuid.uuid4().hex[:8]}"
    await declare_stream(js, bucket_config(bucket))
    store = EvidenceStore(js, bucket, spool_dir=tmp_path)
    pieces = [os.urandom(CHUNK_BYTES) for _ in range(4)]
    seen: list[list[bytes]] = []

    async def content() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece
        seen.append(spooled(tmp_path))

    stored = await store.put(new_data_key(), content(), max_bytes=10 * CHUNK_BYTES)
    [[spool]] = seen
    # Three chunks sealed by the time the last one came (the last is held to be marked so).
    assert len(spool) == 3 * (CHUNK_BYTES + 16)
    assert not any(piece[:64] in spool for piece in pieces)
    assert spooled(tmp_path) == []
    assert os.listdir(tmp_path) == []
    assert stored.size == 4 * CHUNK_BYTES

    before = await state(js, bucket)
    with pytest.raises(EvidenceTooLarge):
        await store.put(new_data_key(), content(), max_bytes=3 * CHUNK_BYTES)
    assert await state(js, bucket) == before
    assert spooled(tmp_path) == []


async def test_no_room_on_the_spools_disk_is_a_503_and_nothing_is_stored(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    sqlite_url: str,
    tmp_path: Path,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = intake_settings(nats_target, sqlite_url, tmp_path, keys)
    async with running(create_app(settings)) as intake:
        reported = await intake.post("/v1/reports", json=lead(unique("村霸强占集体鱼塘")))
        assert reported.status_code == 201, reported.text
        receipt = reported.json()["receipt"]
        bucket = evidence_bucket(Service.INTAKE)
        before = await state(streams, bucket)
        body = MP4_HEADER + os.urandom(100_000)

        # Every byte of the disk must stay free: no upload fits.
        free = os.statvfs(tmp_path)
        monkeypatch.setattr(common.evidence, "SPOOL_FLOOR_BYTES", free.f_blocks * free.f_frsize)
        full = await intake.post(f"/v1/reports/{receipt}/files", content=body)
        assert full.status_code == 503, full.text
        assert int(full.headers["Retry-After"]) > 0
        assert "稍后" in full.json()["detail"][0]["message"]
        assert await state(streams, bucket) == before

        monkeypatch.undo()
        stored = await intake.post(f"/v1/reports/{receipt}/files", content=body)
        assert stored.status_code == 201, stored.text
    assert EvidenceSpoolFull.__name__ not in full.text
