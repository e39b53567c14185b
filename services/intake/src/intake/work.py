"""The work intake asks of the public: a solved challenge (common.work) for every report and
every look-up by receipt.

Why work and not a limit: nothing about a member of the public is kept, so a limit could
only be one budget for everyone, and one guesser could spend it and lock every reporter out.
A proof of work costs each request its own price instead. Receipts carry 100 random bits, so
guessing one is hopeless anyway; the work bounds how fast anyone can try, and how fast
anyone can fill the never-purged streams with reports. When public reports come much faster
than usual, each new report costs more: the price doubles with every doubling of the last
hour's count over the usual rate (up to ``MAX_EXTRA_BITS`` more).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import deque
from datetime import UTC, datetime
from typing import Final

from prometheus_client import Counter, Gauge
from sqlalchemy import Column, MetaData, String, Table, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from common.database import UtcDateTime
from common.events import utc_now
from common.work import Challenge, Purpose, WorkIssuer, WorkRefused

MAX_EXTRA_BITS: Final = 8
_WINDOW_SECONDS: Final = 3600.0

WORK_REFUSED: Final = Counter(
    "intake_public_work_refused_total", "Public requests refused for their proof of work"
)
WORK_BITS: Final = Gauge(
    "intake_public_work_bits", "Bits of work a public request must prove now", ["purpose"]
)

work_metadata = MetaData()

# Challenges already spent, until they expire: a proof is accepted once.
spent_work = Table(
    "intake_spent_work",
    work_metadata,
    Column("spend_id", String(32), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)


def work_key(receipt_key: bytes) -> bytes:
    """A key of its own for signing challenges, derived so that no new secret is needed."""
    return hmac.new(receipt_key, b"intake proof-of-work challenges", hashlib.sha256).digest()


class PublicWork:
    def __init__(
        self,
        engine: AsyncEngine,
        key: bytes,
        report_bits: int,
        receipt_bits: int,
        usual_reports_per_hour: int,
    ) -> None:
        self._engine = engine
        self._issuer = WorkIssuer(key)
        self._base = {Purpose.REPORT: report_bits, Purpose.RECEIPT: receipt_bits}
        self._usual = usual_reports_per_hour
        self._reports: deque[float] = deque()
        for purpose, bits in self._base.items():
            WORK_BITS.labels(purpose.value).set(bits)

    def required_bits(self, purpose: Purpose) -> int:
        bits = self._base[purpose]
        if purpose is Purpose.REPORT:
            recent = self._recent_reports()
            if recent > self._usual:
                bits += min(MAX_EXTRA_BITS, math.ceil(math.log2(recent / self._usual)))
        WORK_BITS.labels(purpose.value).set(bits)
        return bits

    def issue(self, purpose: Purpose) -> Challenge:
        return self._issuer.issue(purpose, self.required_bits(purpose))

    async def spend(self, proof: str | None, purpose: Purpose) -> None:
        """Accept a proof once, or raise WorkRefused."""
        try:
            challenge = self._issuer.check(proof, purpose, self.required_bits(purpose))
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(
                        spent_work.insert().values(
                            spend_id=challenge.spend_id,
                            expires_at=datetime.fromtimestamp(challenge.expires_at, UTC),
                        )
                    )
            except IntegrityError:
                raise WorkRefused(
                    "this challenge was used already: fetch a new one", "该题目已使用，请重新获取"
                ) from None
        except WorkRefused:
            WORK_REFUSED.inc()
            raise

    def report_accepted(self) -> None:
        self._reports.append(time.monotonic())

    async def forget_spent(self) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(spent_work).where(spent_work.c.expires_at < utc_now())
            )
        return result.rowcount or 0

    def _recent_reports(self) -> int:
        horizon = time.monotonic() - _WINDOW_SECONDS
        while self._reports and self._reports[0] < horizon:
            self._reports.popleft()
        return len(self._reports)
