"""The ledger's staff-file bucket under the deployment's own deploy/nats/auth.conf: written
and read by the ledger alone (intake and oversight can neither read a chunk nor plant one),
and append-only for everyone, as intake's is."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from common.evidence import EvidenceStore, bucket_stream, evidence_bucket, new_data_key
from common.subjects import Service
from tests.support.nats_users import PermissionedServer, connected, permissioned_server

pytestmark = pytest.mark.integration

BUCKET = evidence_bucket(Service.LEDGER)
STREAM = bucket_stream(BUCKET)


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PermissionedServer]:
    with permissioned_server(tmp_path_factory.mktemp("nats")) as server:
        yield server


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_only_the_ledger_writes_and_reads_its_bucket_and_nobody_purges_it(
    nats_server: PermissionedServer,
) -> None:
    assert await nats_server.provision() == []
    key, content = new_data_key(), os.urandom(300_000)
    async with connected(nats_server, "ledger") as ledger:
        bucket = EvidenceStore(ledger.js, BUCKET)
        stored = await bucket.put(key, _once(content), max_bytes=1_000_000)
        assert b"".join([c async for c in bucket.get(key, stored.name)]) == content
        purge = f"$JS.API.STREAM.PURGE.{STREAM}"
        assert await ledger.ask(purge, b"{}") is None
        await ledger.violation_for(purge)

    for other in ("intake", "oversight"):
        async with connected(nats_server, other) as conn:
            direct = f"$JS.API.DIRECT.GET.{STREAM}"
            assert await conn.ask(direct, json.dumps({"seq": 1}).encode()) is None
            await conn.violation_for(direct)
            await conn.nc.publish(f"$O.{BUCKET}.C.forged", b"not a staff file")
            await conn.violation_for(f"$O.{BUCKET}.C.forged")
