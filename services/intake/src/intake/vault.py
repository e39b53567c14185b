"""The identity vault: named reporters' identities, encrypted per lead.

Envelope encryption: each lead's identity is sealed with its own data key (AES-256-GCM);
the data key is stored only here, wrapped by the intake key. Events carry the sealed
identity and nothing else, so destroying the wrapped key (crypto-shredding) makes the
identity unrecoverable everywhere, from every copy of the immutable log.
"""

from __future__ import annotations

import base64
import os
import re
from datetime import datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import (
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from common.database import UtcDateTime
from common.errors import Gone
from common.events import utc_now
from intake.domain.lead import IDENTITY_DESTROYED

vault_metadata = MetaData()

identity_keys = Table(
    "identity_keys",
    vault_metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("shredded_at", UtcDateTime, nullable=True),
)

# Each lead's evidence data key (common.evidence), beside the identity key and apart from
# it: shredding the identity leaves the files readable; destroying this key is its own act.
evidence_keys = Table(
    "evidence_keys",
    vault_metadata,
    Column("lead_id", String(64), primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("destroyed_at", UtcDateTime, nullable=True),
)

_NONCE = 12
_KEPT_DEAD = re.compile(r"(\d+) dead row versions cannot be removed yet")


class Identity(BaseModel):
    """Who a named reporter is. Never logged, never in an event in the clear."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: str = Field(default="", max_length=50)
    phone: str = Field(default="", max_length=30, pattern=r"^[0-9+\- ()]*$")
    id_number: str = Field(default="", max_length=18, pattern=r"^[0-9Xx]*$")
    address: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _something_given(self) -> Identity:
        if not any((self.name, self.phone, self.id_number, self.address)):
            raise ValueError("a named report needs at least a name or a way to reach the reporter")
        return self


class IdentitySealedBadly(Exception):
    """The sealed identity opens but no longer fits the form (its values are withheld)."""


class IdentityGone(Gone):
    """The identity's key was destroyed (or never existed): it cannot be read again."""

    def __init__(self, lead_id: str) -> None:
        super().__init__(IDENTITY_DESTROYED)
        self.lead_id = lead_id


class Vault:
    def __init__(self, key_encryption_key: bytes) -> None:
        self._kek = AESGCM(key_encryption_key)

    def seal(self, lead_id: str, identity: Identity) -> tuple[str, bytes]:
        """Encrypt an identity for one lead: (ciphertext for the event, wrapped data key)."""
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE)
        sealed = nonce + AESGCM(data_key).encrypt(
            nonce, orjson.dumps(identity.model_dump()), lead_id.encode()
        )
        wrap_nonce = os.urandom(_NONCE)
        wrapped = wrap_nonce + self._kek.encrypt(wrap_nonce, data_key, _wrap_context(lead_id))
        return base64.b64encode(sealed).decode(), wrapped

    def open(self, lead_id: str, ciphertext: str, wrapped_key: bytes | None) -> Identity:
        if wrapped_key is None:
            raise IdentityGone(lead_id)
        try:
            data_key = self._kek.decrypt(
                wrapped_key[:_NONCE], wrapped_key[_NONCE:], _wrap_context(lead_id)
            )
            sealed = base64.b64decode(ciphertext)
            plain = AESGCM(data_key).decrypt(sealed[:_NONCE], sealed[_NONCE:], lead_id.encode())
        except (InvalidTag, ValueError) as exc:
            raise IdentityGone(lead_id) from exc
        try:
            return Identity.model_validate(orjson.loads(plain))
        except ValidationError:
            # Never let the error carry the decrypted values into a log or a traceback.
            raise IdentitySealedBadly(lead_id) from None

    # --- the key store --------------------------------------------------------------

    async def store_key(self, conn: AsyncConnection, lead_id: str, wrapped: bytes) -> None:
        await conn.execute(
            identity_keys.insert().values(
                lead_id=lead_id, wrapped_key=wrapped, created_at=utc_now(), shredded_at=None
            )
        )

    async def replace_key(self, conn: AsyncConnection, lead_id: str, wrapped: bytes) -> None:
        await conn.execute(
            update(identity_keys)
            .where(identity_keys.c.lead_id == lead_id)
            .values(wrapped_key=wrapped, shredded_at=None)
        )

    async def wrapped_key(self, conn: AsyncConnection, lead_id: str) -> bytes | None:
        row = (
            await conn.execute(
                select(identity_keys.c.wrapped_key).where(identity_keys.c.lead_id == lead_id)
            )
        ).first()
        return None if row is None else row.wrapped_key

    async def shred(self, conn: AsyncConnection, lead_id: str, at: datetime) -> bool:
        """Destroy the lead's data key; False if there was none left to destroy."""
        result = await conn.execute(
            update(identity_keys)
            .where((identity_keys.c.lead_id == lead_id) & identity_keys.c.wrapped_key.is_not(None))
            .values(wrapped_key=None, shredded_at=at)
        )
        return result.rowcount == 1

    async def forget_key(self, conn: AsyncConnection, lead_id: str) -> None:
        """Remove a key that seals nothing anyone can read (its report never reached the log)."""
        await conn.execute(delete(identity_keys).where(identity_keys.c.lead_id == lead_id))


def scrub_destroyed_keys(engine: Engine) -> bool:
    """Leave no copy of a destroyed key (an identity's or evidence's) in the database's
    files; False if the database was too busy (try again later).

    Overwriting the row is not enough. SQLite keeps the page as it was in the write-ahead log
    until a checkpoint, and a checkpoint only copies pages back: the log file is truncated
    here so the old page images go (``secure_delete``, set on every connection, zeroes
    the freed cell and page space in the main file). PostgreSQL keeps the old row version in
    the heap until vacuumed, and a plain VACUUM frees the space without overwriting it;
    VACUUM FULL writes the table anew and truncates the old file. (PostgreSQL's own
    write-ahead log and any backup still hold the key until they are recycled: README.)"""
    if engine.dialect.name == "sqlite":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        return bool(busy == 0)
    # A row version still visible to some open transaction is copied by VACUUM FULL too
    # ("dead row versions cannot be removed yet"): then it is not done, and is tried again.
    details: list[str] = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        driver = conn.connection.driver_connection
        assert driver is not None  # noqa: S101 - a live connection has its driver's

        def keep(diagnostic: Any) -> None:
            details.append(diagnostic.message_detail or "")

        driver.add_notice_handler(keep)
        try:
            conn.exec_driver_sql(
                f"VACUUM (FULL, VERBOSE) {identity_keys.name}, {evidence_keys.name}"
            )
        finally:
            driver.remove_notice_handler(keep)
    kept = [int(m.group(1)) for d in details for m in [_KEPT_DEAD.search(d)] if m]
    return not any(kept)


def _wrap_context(lead_id: str) -> bytes:
    return b"identity-data-key:" + lead_id.encode()
