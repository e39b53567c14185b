"""Each owner's data key for staff files (a lead's, an item's), wrapped by the ledger's
files key in ``staff_file_keys``.

The key is made with the owner's first file and opens all of them (common.evidence). The
table is the ledger's own, not a read model: no replay brings a key back, so it is migrated
(ledger.migrations) and kept by the backup (leadctl.backup.tables). A key is wrapped with
its owner named in the associated data: a row copied onto another owner does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, LargeBinary, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from common.database import UtcDateTime
from common.events import utc_now
from common.evidence import new_data_key

file_keys_metadata = MetaData()

staff_file_keys = Table(
    "staff_file_keys",
    file_keys_metadata,
    # "lead" or "task"
    Column("owner_kind", String(16), primary_key=True),
    Column("owner_id", String(64), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

_NONCE = 12


class FileKeyUnreadable(Exception):
    """The owner has no key, or its key does not open with the files key (another key)."""


class FileKeys:
    def __init__(self, engine: AsyncEngine, key_encryption_key: bytes) -> None:
        self._engine = engine
        self._kek = AESGCM(key_encryption_key)

    async def for_new_file(self, kind: str, owner_id: str) -> bytes:
        """The owner's data key, made now if it has none."""
        key = await self.key(kind, owner_id, missing_ok=True)
        if key is not None:
            return key
        data_key = new_data_key()
        nonce = os.urandom(_NONCE)
        wrapped = nonce + self._kek.encrypt(nonce, data_key, _context(kind, owner_id))
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(staff_file_keys).values(
                        owner_kind=kind,
                        owner_id=owner_id,
                        wrapped_key=wrapped,
                        created_at=utc_now(),
                    )
                )
        except IntegrityError:
            pass  # another upload to the same owner made it first: that one is the key
        else:
            return data_key
        found = await self.key(kind, owner_id)
        assert found is not None  # noqa: S101 - key() raises rather than answer None here
        return found

    async def key(self, kind: str, owner_id: str, *, missing_ok: bool = False) -> bytes | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(staff_file_keys.c.wrapped_key).where(
                        (staff_file_keys.c.owner_kind == kind)
                        & (staff_file_keys.c.owner_id == owner_id)
                    )
                )
            ).first()
        if row is None:
            if missing_ok:
                return None
            raise FileKeyUnreadable(f"{kind} {owner_id}")
        try:
            key: bytes = self._kek.decrypt(
                row.wrapped_key[:_NONCE], row.wrapped_key[_NONCE:], _context(kind, owner_id)
            )
        except (InvalidTag, ValueError) as exc:
            raise FileKeyUnreadable(f"{kind} {owner_id}") from exc
        return key


def _context(kind: str, owner_id: str) -> bytes:
    return f"staff-file-key:{kind}:{owner_id}".encode()
