"""Each lead's evidence data key, kept wrapped by the intake key in ``evidence_keys``.

The key is made with the lead's first file and opens all of them (common.evidence). It is
a key of its own, never the identity's: shredding the reporter's identity leaves the files
readable, and destroying this key (recorded first, as EvidenceKeyDestroyed) leaves the
identity as it was. A destroyed key's row keeps when it went, with no key in it; the
database's files are then scrubbed as for an identity (intake.vault.scrub_destroyed_keys).
"""

from __future__ import annotations

import os
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from common.events import utc_now
from common.evidence import new_data_key
from intake.domain.evidence import EvidenceKeyGone
from intake.vault import evidence_keys

_NONCE = 12


class EvidenceKeys:
    def __init__(self, engine: AsyncEngine, key_encryption_key: bytes) -> None:
        self._engine = engine
        self._kek = AESGCM(key_encryption_key)

    async def for_new_file(self, lead_id: str) -> bytes:
        """The lead's data key, made now if it has none (EvidenceKeyGone if destroyed)."""
        key = await self.key(lead_id, missing_ok=True)
        if key is not None:
            return key
        data_key = new_data_key()
        nonce = os.urandom(_NONCE)
        wrapped = nonce + self._kek.encrypt(nonce, data_key, _context(lead_id))
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(evidence_keys).values(
                        lead_id=lead_id, wrapped_key=wrapped, created_at=utc_now()
                    )
                )
        except IntegrityError:
            pass  # another upload of the same lead made it first: that one is the key
        else:
            return data_key
        found = await self.key(lead_id)
        assert found is not None  # noqa: S101 - key() raises rather than answer None here
        return found

    async def key(self, lead_id: str, *, missing_ok: bool = False) -> bytes | None:
        """The lead's data key; EvidenceKeyGone if it was destroyed, or if there is none
        and ``missing_ok`` is false."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(evidence_keys.c.wrapped_key, evidence_keys.c.destroyed_at).where(
                        evidence_keys.c.lead_id == lead_id
                    )
                )
            ).first()
        if row is None:
            if missing_ok:
                return None
            raise EvidenceKeyGone
        if row.wrapped_key is None:
            raise EvidenceKeyGone
        try:
            return self._kek.decrypt(
                row.wrapped_key[:_NONCE], row.wrapped_key[_NONCE:], _context(lead_id)
            )
        except (InvalidTag, ValueError) as exc:
            raise EvidenceKeyGone from exc

    async def destroy(self, conn: AsyncConnection, lead_id: str, at: datetime) -> bool:
        """Destroy the lead's data key; False if there was none left to destroy. A lead
        with no file yet gets a destroyed row, so no file can be added to it later."""
        result = await conn.execute(
            update(evidence_keys)
            .where((evidence_keys.c.lead_id == lead_id) & evidence_keys.c.wrapped_key.is_not(None))
            .values(wrapped_key=None, destroyed_at=at)
        )
        if result.rowcount == 1:
            return True
        exists = (
            await conn.execute(
                select(evidence_keys.c.lead_id).where(evidence_keys.c.lead_id == lead_id)
            )
        ).first()
        if exists is None:
            await conn.execute(
                insert(evidence_keys).values(
                    lead_id=lead_id, wrapped_key=None, created_at=at, destroyed_at=at
                )
            )
        return False


def _context(lead_id: str) -> bytes:
    return b"evidence-data-key:" + lead_id.encode()
