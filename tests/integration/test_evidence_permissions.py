"""Intake's evidence bucket under the deployment's own deploy/nats/auth.conf: provisioned by
the administrator, written and read by intake alone, and append-only for everyone (no one
with a service's credentials can purge evidence, and the stream itself refuses a purge)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from common.evidence import EvidenceStore, bucket_stream, evidence_bucket, new_data_key
from common.subjects import Service
from tests.support.nats_users import PermissionedServer, connected, permissioned_server

pytestmark = pytest.mark.integration

BUCKET = evidence_bucket(Service.INTAKE)
STREAM = bucket_stream(BUCKET)


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PermissionedServer]:
    with permissioned_server(tmp_path_factory.mktemp("nats")) as server:
        yield server


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_only_intake_writes_and_reads_its_bucket_and_nobody_purges_it(
    nats_server: PermissionedServer,
) -> None:
    assert await nats_server.provision() == []
    key, content = new_data_key(), os.urandom(300_000)
    async with connected(nats_server, "intake") as intake:
        bucket = EvidenceStore(intake.js, BUCKET)
        stored = await bucket.put(key, _once(content), max_bytes=1_000_000)
        assert b"".join([c async for c in bucket.get(key, stored.name)]) == content
        purge = f"$JS.API.STREAM.PURGE.{STREAM}"
        assert await intake.ask(purge, b"{}") is None
        await intake.violation_for(purge)

    for other in ("ledger", "oversight"):
        async with connected(nats_server, other) as conn:
            direct = f"$JS.API.DIRECT.GET.{STREAM}"
            assert await conn.ask(direct, json.dumps({"seq": 1}).encode()) is None
            await conn.violation_for(direct)
            info = f"$JS.API.STREAM.INFO.{STREAM}"
            assert await conn.ask(info) is None
            await conn.violation_for(info)
            await conn.nc.publish(f"$O.{BUCKET}.C.forged", b"not evidence")
            await conn.violation_for(f"$O.{BUCKET}.C.forged")

    async with connected(nats_server, "admin") as admin:
        refused = await admin.ask(f"$JS.API.STREAM.PURGE.{STREAM}", b"{}")
        assert refused is not None
        assert "purge" in json.loads(refused.data)["error"]["description"].lower()
        state = (await admin.jsm.stream_info(STREAM)).state
        assert state.messages == stored_messages_of(stored_chunks=(300_000 // (128 * 1024)) + 1)


def stored_messages_of(stored_chunks: int) -> int:
    """The header, the sealed chunks, the description: only intake's object is there."""
    return 1 + stored_chunks + 1
