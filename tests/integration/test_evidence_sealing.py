"""The sealing of evidence objects (common.evidence) against a real JetStream: an object
opens only whole and in order, with its own key. Chunks moved, dropped, cut off at the end
or taken from another object make the read fail; what opens is exactly what was put."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext

from common.evidence import (
    CHUNK_BYTES,
    EvidenceStore,
    EvidenceTooLarge,
    EvidenceUnreadable,
    bucket_config,
    new_data_key,
)
from common.streams import declare_stream

pytestmark = pytest.mark.integration


async def _pieces(data: bytes, size: int = 10_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
async def bucket(js: JetStreamContext) -> EvidenceStore:
    name = f"TEST_{uuid.uuid4().hex[:8]}"
    await declare_stream(js, bucket_config(name))
    return EvidenceStore(js, name)


async def _read(bucket: EvidenceStore, key: bytes, name: str) -> bytes:
    return b"".join([chunk async for chunk in bucket.get(key, name)])


async def _forge(bucket: EvidenceStore, name: str, messages: list[bytes]) -> None:
    """Describe ``name`` anew as these stored messages (what someone able to write to the
    bucket could do): a newer description is the one read."""
    # The test plays the attacker, writing with the bucket's own connection.
    js, nuid = bucket._js, uuid.uuid4().hex
    for message in messages:
        await js.publish(f"$O.{bucket.bucket}.C.{nuid}", message)
    info = await bucket.info(name)
    info.nuid, info.chunks = nuid, len(messages)
    meta = f"$O.{bucket.bucket}.M." + base64.urlsafe_b64encode(name.encode()).decode()
    await js.publish(meta, json.dumps(info.as_dict()).encode())


async def test_an_object_opens_only_whole_in_order_and_with_its_own_key(
    bucket: EvidenceStore,
) -> None:
    key = new_data_key()
    content = os.urandom(3 * CHUNK_BYTES + 123)
    stored = await bucket.put(key, _pieces(content), max_bytes=len(content))
    assert stored.size == len(content)
    assert await _read(bucket, key, stored.name) == content
    empty = await bucket.put(key, _pieces(b""), max_bytes=10)
    assert await _read(bucket, key, empty.name) == b""

    with pytest.raises(EvidenceUnreadable):
        await _read(bucket, new_data_key(), stored.name)

    raw = [message async for message in bucket.raw(stored.name)]
    assert len(raw) == 1 + 4  # the header, four sealed chunks
    other = await bucket.put(key, _pieces(os.urandom(2 * CHUNK_BYTES)), max_bytes=10**7)
    theirs = [message async for message in bucket.raw(other.name)]
    header, chunks = raw[0], raw[1:]
    for forged in (
        [header, chunks[1], chunks[0], *chunks[2:]],  # moved
        [header, chunks[0], *chunks[2:]],  # dropped
        [header, *chunks[:-1]],  # cut off at the end
        [header, *chunks[:-1], theirs[-1]],  # another object's last chunk
        [theirs[0], *chunks],  # another object's nonce
    ):
        await _forge(bucket, stored.name, forged)
        with pytest.raises(EvidenceUnreadable):
            await _read(bucket, key, stored.name)

    with pytest.raises(EvidenceTooLarge):
        await bucket.put(key, _pieces(content), max_bytes=len(content) - 1)
