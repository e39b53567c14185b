"""Evidence files in a JetStream object store, encrypted chunk by chunk.

A file is never whole in memory, on the way in or out: it is cut into chunks of
:data:`CHUNK_BYTES`, each sealed with AES-256-GCM under the data key its owner keeps (per
lead) as it arrives and spooled to disk sealed, then published, one message of the
bucket's stream per chunk, once the whole file came within its limit; a read fetches
the chunks one by one (a direct get of the next message on the object's chunk subject) and
yields each as soon as it is opened. nats-py's own ``ObjectStore.get`` gathers the object
whole (or hands chunks to a blocking writer in a thread), and its ``put`` reads through a
blocking ``readinto``, so both sides are done here; the messages are laid out as nats-py
lays them out (chunks on ``$O.<bucket>.C.<nuid>``, the object's description rolled up on
``$O.<bucket>.M.<name>``), so ``ObjectStore.get_info``, ``list`` and ``delete`` and the
``nats object`` tools see the objects as they are: ciphertext.

Each object has a random 96-bit base nonce (in its first message); chunk ``i``'s nonce is
the base with ``i`` added into its last four bytes, and the chunk's associated data binds
the object's name, ``i`` and whether it is the last chunk: a chunk moved, dropped, swapped
with another object's or cut off at the end fails to open. Object names are random
(uuid4 hex): they say nothing of the lead, the file or who sent it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    ObjectInfo,
    ObjectMetaOptions,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from common.streams import DUPLICATE_WINDOW, GIB
from common.subjects import Service

#: plaintext bytes per chunk (nats-py's own chunk size); a sealed chunk is 16 bytes more
CHUNK_BYTES: Final = 128 * 1024
#: what an evidence bucket may hold until an administrator grows it (discard new beyond)
BUCKET_MAX_BYTES: Final = 8 * GIB

#: what a spool leaves free on its disk at the least
SPOOL_FLOOR_BYTES: Final = 256 * 1024 * 1024

_MAGIC: Final = b"LEV1"
_NONCE: Final = 12
_COUNTER: Final = 4


class EvidenceUnreadable(Exception):
    """The object is missing, or a chunk does not open with the key given (another key,
    a destroyed one, or chunks moved, dropped or cut off)."""


class EvidenceTooLarge(Exception):
    """More bytes came than the limit allows; nothing of the object is kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class EvidenceSpoolFull(Exception):
    """No room on the spool's disk for one more upload now; it may be sent again later."""


@dataclass(frozen=True)
class StoredEvidence:
    """What was stored: the object's name, and the plaintext's size and SHA-256 (hex)."""

    name: str
    size: int
    sha256: str


def evidence_bucket(service: Service) -> str:
    """The object store bucket a service keeps its evidence files in (one per service)."""
    return f"{service.value.upper()}_EVIDENCE"


#: every service's bucket, for provisioning (the administrator creates them up front)
EVIDENCE_BUCKETS: Final = (evidence_bucket(Service.INTAKE), evidence_bucket(Service.LEDGER))


def bucket_stream(bucket: str) -> str:
    return f"OBJ_{bucket}"


def bucket_config(bucket: str, replicas: int = 1) -> StreamConfig:
    """The bucket's stream: nats-py's ``create_object_store`` layout, append-only like every
    stream of record (nothing deleted or purged, so no one with the service's credentials
    can make evidence disappear), file-backed and bounded. An object's description is
    written once (its name is new), so no roll-up is needed. Nothing is published of an
    upload until all of it came within its limit (:meth:`EvidenceStore.put` spools it
    first), so an upload refused halfway takes none of the bucket's size."""
    return StreamConfig(
        name=bucket_stream(bucket),
        description=f"evidence files ({bucket}), encrypted per lead",
        subjects=[f"$O.{bucket}.C.>", f"$O.{bucket}.M.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_bytes=BUCKET_MAX_BYTES,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
        allow_direct=True,
        deny_delete=True,
        deny_purge=True,
    )


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


class EvidenceStore:
    """One bucket's objects, written and read chunk by chunk."""

    def __init__(self, js: JetStreamContext, bucket: str, spool_dir: Path | None = None) -> None:
        self._js = js
        self.bucket = bucket
        self.stream = bucket_stream(bucket)
        #: where uploads are sealed before they are published (None: the system's temp
        #: directory, TMPDIR)
        self.spool_dir = spool_dir

    async def put(
        self,
        key: bytes,
        data: AsyncIterable[bytes],
        max_bytes: int,
        *,
        before_publish: Callable[[str], Awaitable[None]] | None = None,
    ) -> StoredEvidence:
        """Seal what ``data`` yields, a chunk at a time, into a spool file, and once all of
        it came within ``max_bytes`` store it under a new random name. Refused halfway
        (:class:`EvidenceTooLarge` as soon as more than ``max_bytes`` came, the sender
        gone, ``before_publish`` raising), nothing reaches the bucket: an append-only
        bucket keeps whatever is published to it, counted against its size for good.
        ``before_publish`` is given the SHA-256 of what came, so that a file held already
        can be refused before it is stored twice.

        The spool holds ciphertext only (each chunk is sealed before it is written) in an
        unnamed temporary file of ``spool_dir``, gone when closed or when the process dies.
        Spools are bounded by the disk: each reserves room for its limit's worth of sealed
        chunks before its first byte, and one that would leave the spool directory's disk
        with less than :data:`SPOOL_FLOOR_BYTES` free, counting what this process's other
        spools reserved, is refused (:class:`EvidenceSpoolFull`, to be tried again later).
        Only a failure of the broker while publishing can leave chunks without a
        description."""
        name, nuid = uuid.uuid4().hex, uuid.uuid4().hex
        base = os.urandom(_NONCE)
        aead = AESGCM(key)
        plain_digest = hashlib.sha256()
        size = 0
        sealed: list[int] = []
        async with _room(self.spool_dir, _sealed_bytes(max_bytes)):
            spool = tempfile.TemporaryFile(dir=self.spool_dir)  # noqa: SIM115 - closed below
            try:

                def seal(index: int, plain: bytes, last: bool) -> None:
                    message = aead.encrypt(_nonce(base, index), plain, _bound(name, index, last))
                    spool.write(message)
                    sealed.append(len(message))

                index = 0
                held: bytes | None = None
                async for piece in _rechunked(data):
                    size += len(piece)
                    if size > max_bytes:
                        raise EvidenceTooLarge(max_bytes)
                    plain_digest.update(piece)
                    if held is not None:
                        await asyncio.to_thread(seal, index, held, False)
                        index += 1
                    held = piece
                # The last chunk says so (an empty file is one empty last chunk).
                await asyncio.to_thread(seal, index, held if held is not None else b"", True)
                if before_publish is not None:
                    await before_publish(plain_digest.hexdigest())
                await asyncio.to_thread(spool.seek, 0)
                await self._publish(name, nuid, _MAGIC + base, spool, sealed)
            finally:
                spool.close()
        return StoredEvidence(name, size, plain_digest.hexdigest())

    async def _publish(
        self, name: str, nuid: str, header: bytes, spool: BinaryIO, sealed: list[int]
    ) -> None:
        """The object's messages as nats-py lays them out: its chunks, then its description."""
        subject = self._chunks(nuid)
        stored_digest = hashlib.sha256()
        stored = 0
        for length in (None, *sealed):
            payload = header if length is None else await asyncio.to_thread(spool.read, length)
            await self._js.publish(subject, payload, stream=self.stream)
            stored_digest.update(payload)
            stored += len(payload)
        info = ObjectInfo(
            name=name,
            bucket=self.bucket,
            nuid=nuid,
            size=stored,
            chunks=1 + len(sealed),
            digest="SHA-256=" + base64.urlsafe_b64encode(stored_digest.digest()).decode(),
            mtime=datetime.now(UTC).isoformat(),
            options=ObjectMetaOptions(max_chunk_size=CHUNK_BYTES + 16),
        )
        await self._js.publish(
            self._meta(name), json.dumps(info.as_dict()).encode(), stream=self.stream
        )

    async def get(self, key: bytes, name: str) -> AsyncIterator[bytes]:
        """The plaintext, a chunk at a time (:class:`EvidenceUnreadable` on the way if the
        object is missing or a chunk does not open). A caller answering a request should
        take the first chunk before it answers: a wrong key fails there."""
        aead = AESGCM(key)
        info = await self.info(name)
        chunks = self._messages(name, info)
        try:
            header = await anext(chunks)
        except StopAsyncIteration:
            raise EvidenceUnreadable(name) from None
        if len(header) != len(_MAGIC) + _NONCE or not header.startswith(_MAGIC):
            raise EvidenceUnreadable(name)
        base = header[len(_MAGIC) :]
        count = (info.chunks or 0) - 1
        index = 0
        async for sealed in chunks:
            try:
                plain: bytes = aead.decrypt(
                    _nonce(base, index), sealed, _bound(name, index, index == count - 1)
                )
            except InvalidTag:
                raise EvidenceUnreadable(name) from None
            yield plain
            index += 1
        if index != count or count < 1:
            raise EvidenceUnreadable(name)

    async def raw(self, name: str) -> AsyncIterator[bytes]:
        """The object's stored messages as they are (ciphertext), one at a time."""
        async for message in self._messages(name, await self.info(name)):
            yield message

    async def _messages(self, name: str, info: ObjectInfo) -> AsyncIterator[bytes]:
        subject, sequence = self._chunks(info.nuid), 1
        for _ in range(info.chunks or 0):
            try:
                msg = await self._js.get_msg(
                    self.stream, seq=sequence, subject=subject, direct=True, next=True
                )
            except NotFoundError:
                raise EvidenceUnreadable(name) from None
            yield msg.data or b""
            sequence = (msg.seq or sequence) + 1

    async def info(self, name: str) -> ObjectInfo:
        try:
            msg = await self._js.get_msg(self.stream, subject=self._meta(name), direct=True)
            info: ObjectInfo = ObjectInfo.from_response(json.loads(msg.data or b"{}"))
        except (NotFoundError, ValueError, TypeError):
            raise EvidenceUnreadable(name) from None
        if info.deleted or not info.nuid:
            raise EvidenceUnreadable(name)
        return info

    def _chunks(self, nuid: str) -> str:
        return f"$O.{self.bucket}.C.{nuid}"

    def _meta(self, name: str) -> str:
        return f"$O.{self.bucket}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"


async def _rechunked(data: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """What ``data`` yields, in pieces of exactly CHUNK_BYTES (the last one shorter)."""
    pending = bytearray()
    async for part in data:
        pending += part
        while len(pending) >= CHUNK_BYTES:
            yield bytes(pending[:CHUNK_BYTES])
            del pending[:CHUNK_BYTES]
    if pending:
        yield bytes(pending)


# What the spools of this process reserved on their disks (puts run on one event loop: the
# look at the free space and the reservation happen with no await between them).
_reserved: dict[str, int] = {}


@asynccontextmanager
async def _room(spool_dir: Path | None, wanted: int) -> AsyncIterator[None]:
    where = str(spool_dir) if spool_dir is not None else tempfile.gettempdir()
    free = (await asyncio.to_thread(shutil.disk_usage, where)).free
    if free - _reserved.get(where, 0) - wanted < SPOOL_FLOOR_BYTES:
        raise EvidenceSpoolFull(where)
    _reserved[where] = _reserved.get(where, 0) + wanted
    try:
        yield
    finally:
        _reserved[where] -= wanted


def _sealed_bytes(max_bytes: int) -> int:
    """The spool's size for a file of ``max_bytes``: 16 bytes of tag more per chunk."""
    return max_bytes + 16 * (max_bytes // CHUNK_BYTES + 1)


def _nonce(base: bytes, index: int) -> bytes:
    counter = (int.from_bytes(base[-_COUNTER:], "big") + index) % (1 << (8 * _COUNTER))
    return base[:-_COUNTER] + counter.to_bytes(_COUNTER, "big")


def _bound(name: str, index: int, last: bool) -> bytes:
    return b"evidence:%s:%d:%d" % (name.encode(), index, 1 if last else 0)
