"""What the detector writes to the band index is what band_rows describes (the rows the
revisions filling the index write), though it writes them in one statement with the keys
unpacked by the database: the same 64-bit keys, village, moment and lead, once each, also
when a report is delivered again; and the keys themselves are those the index was built
with. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from bench.duplicate_corpus import corpus
from common.database import Database
from common.events.catalogue import LeadReported
from common.migrations import upgrade
from common.vocabulary import Category, Channel
from intake.domain.matters import band_keys, shingles
from intake.duplicates import DuplicateDetector, band_rows, matter_bands
from tests.support.intake import DuplicateLinks

pytestmark = pytest.mark.integration

TOLD = "村霸王某强多次强占村集体鱼塘，村民敢怒不敢言。"
AT = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
# Computed before the detector's writes were reworked: stored keys must never move without a
# revision recomputing them.
FIRST_KEYS = [8830294594386174742, -5267111024555824503, 2777175017982576660, 6035468791810900253]
CORPUS_DIGEST = "be63535e343ea652600275325940e4aae599b92e792f49d8ecc84764753d1f66"
# The 40 bands the index had before revision 0003, which it still computes.
CORPUS_DIGEST_40 = "7c814e5046ec36dcbbb16e6d37f620a8181fdf5df50006ef66d89dc4671deecf"


def _report(lead_id: str, text: str, village: str | None, at: datetime) -> Any:
    return LeadReported.model_construct(
        event_id=str(uuid.uuid4()),
        lead_id=lead_id,
        category=Category.VILLAGE_TYRANT,
        village=village,
        summary=text,
        details="",
        occurred_at=at,
        correlation_id=None,
        reporter=None,
        channel=Channel.HOTLINE,
    )


def _digest(reports: int, bands: int) -> str:
    digest = hashlib.sha256()
    for report in itertools.islice(corpus(seed=11, villages=50), reports):
        for key in band_keys(report.category.value, shingles(report.text), bands):
            digest.update(key.to_bytes(8, "big", signed=True))
    return digest.hexdigest()


def test_the_band_keys_are_those_the_index_was_built_with() -> None:
    assert band_keys("village_tyrant", shingles(TOLD))[:4] == FIRST_KEYS
    assert band_keys("village_tyrant", frozenset()) == []
    assert _digest(500, 64) == CORPUS_DIGEST
    assert _digest(200, 40) == CORPUS_DIGEST_40


async def test_the_detector_writes_the_rows_band_rows_describes_once(database_url: str) -> None:
    database = Database(database_url)
    try:
        upgrade(database.sync_engine, "intake")
        detect = DuplicateDetector(
            SimpleNamespace(database=database, store=lambda _stream: DuplicateLinks()),  # type: ignore[arg-type]
            0.6,
        )
        reports = [
            _report("known", TOLD, "shd-v03", AT),
            _report("unknown", TOLD + "请上级部门调查", None, AT + timedelta(minutes=1)),
            _report("empty", "，。", "shd-v03", AT + timedelta(minutes=2)),
        ]
        for report in [*reports, reports[0]]:
            await detect(report)
        expected = sorted(
            (row["band_key"], row["village"], row["reported_at"], row["lead_id"])
            for r in reports
            for row in band_rows(
                r.lead_id, r.village, r.category.value, shingles(r.summary), r.occurred_at
            )
        )
        with database.sync_engine.connect() as conn:
            written = sorted(tuple(row) for row in conn.execute(select(matter_bands)).all())
        assert len(expected) == 128
        assert written == expected
    finally:
        await database.dispose()
