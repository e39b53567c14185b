"""Idempotent intake: a retried request (same ``Idempotency-Key``) gets the same lead back.

The first request claims the key in the database before anything is published; a retry
finds the claim and waits for its answer. The answer to a public report holds the
receipt, so it is kept encrypted under a key derived from the client's Idempotency-Key,
which the server does not keep: only the client that sent the key can have it replayed.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import (
    Column,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from common.database import UtcDateTime, as_utc
from common.events import utc_now

idempotency_metadata = MetaData()

claims = Table(
    "idempotency_claims",
    idempotency_metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("lead_id", String(64), nullable=False),
    Column("state", String(10), nullable=False),
    Column("answer", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

_NAMESPACE: Final = uuid.UUID("6f1d2a8e-4c1b-4f5e-9d61-2b8a7c0e5d11")
PENDING: Final = "pending"
DONE: Final = "done"
# The attempt ended without knowing whether its event was stored: a retry takes it over at
# once, publishing the same event id (JetStream keeps one).
UNSETTLED: Final = "unsettled"
KEEP_FOR: Final = timedelta(days=1)
# A claim still pending this long belongs to a request that will never finish.
ABANDONED_AFTER: Final = timedelta(seconds=60)


class StillInProgress(Exception):
    """The first request with this key has not finished yet."""


@dataclass(frozen=True)
class Claim:
    key_hash: str
    lead_id: str
    event_id: str
    secret: bytes


def claim_for(scope: str, key: str) -> Claim:
    """Ids derived from the key, so two racing retries name the same lead and event (and
    JetStream keeps one of them)."""
    key_hash = hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()
    secret = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"intake-idempotency", info=scope.encode()
    ).derive(key.encode())
    return Claim(
        key_hash=key_hash,
        lead_id=uuid.uuid5(_NAMESPACE, "lead:" + key_hash).hex,
        event_id=str(uuid.uuid5(_NAMESPACE, "event:" + key_hash)),
        secret=secret,
    )


def _seal(secret: bytes, answer: dict[str, str]) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(secret).encrypt(nonce, orjson.dumps(answer), None)


def _open(secret: bytes, sealed: bytes) -> dict[str, str]:
    answer: dict[str, str] = orjson.loads(AESGCM(secret).decrypt(sealed[:12], sealed[12:], None))
    return answer


@dataclass(frozen=True)
class Taken:
    """What claiming a key gave: the answer to give, and whether it still has to be
    published (ours, or taken over from an attempt that died) or was finished before."""

    answer: dict[str, str]
    finished: bool


class Claims:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def take(self, claim: Claim, answer: dict[str, str]) -> Taken:
        """Claim the key for this answer; or find the earlier request's claim and wait for
        its answer; or take over a claim whose request died before finishing."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    claims.insert().values(
                        key_hash=claim.key_hash,
                        lead_id=claim.lead_id,
                        state=PENDING,
                        answer=_seal(claim.secret, answer),
                        created_at=utc_now(),
                    )
                )
            return Taken(answer, finished=False)
        except IntegrityError:
            return await self._earlier(claim)

    async def _earlier(self, claim: Claim, wait: float = 5.0) -> Taken:
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            async with self._engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(claims.c.state, claims.c.answer, claims.c.created_at).where(
                            claims.c.key_hash == claim.key_hash
                        )
                    )
                ).first()
            if row is None:
                raise StillInProgress  # released by a failed attempt this instant: retry
            answer = _open(claim.secret, row.answer)
            if row.state == DONE:
                return Taken(answer, finished=True)
            created = as_utc(row.created_at)
            if row.state == UNSETTLED or utc_now() - created > ABANDONED_AFTER:
                # The attempt that claimed it died; its answer (and receipt) is ours to give.
                return Taken(answer, finished=False)
            if asyncio.get_running_loop().time() > deadline:
                raise StillInProgress
            await asyncio.sleep(0.05)  # the first request is publishing; look again shortly

    async def done(self, claim: Claim) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(claims).where(claims.c.key_hash == claim.key_hash).values(state=DONE)
            )

    async def unsettle(self, claim: Claim) -> None:
        """The attempt ended not knowing whether it stored its event: let a retry with the
        same key take over now rather than after ``ABANDONED_AFTER``."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(claims)
                .where((claims.c.key_hash == claim.key_hash) & (claims.c.state == PENDING))
                .values(state=UNSETTLED)
            )

    async def release(self, claim: Claim) -> None:
        """Give the key up after a failure, so the client's retry can try afresh."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(claims).where(claims.c.key_hash == claim.key_hash))

    async def forget_old(self) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(claims).where(claims.c.created_at < utc_now() - KEEP_FOR)
            )
        return result.rowcount
