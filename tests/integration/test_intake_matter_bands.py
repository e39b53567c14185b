"""The duplicate index's revision fills the bands of the reports recorded before it, so a
database upgraded from the baseline finds its earlier reports as a fresh one would; and its
downgrade removes only the index. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, inspect, select

from common.database import sync_url
from common.migrations import current_revision, downgrade, upgrade
from intake.domain.matters import BANDS, band_keys, shingles
from intake.duplicates import matter_bands, matters

pytestmark = pytest.mark.integration

TOLD = "村霸张某强占村集体鱼塘，还殴打前去理论的村民"
AT = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def test_the_revision_indexes_the_reports_already_recorded(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        upgrade(engine, "intake", "0001_baseline")
        with engine.begin() as conn:
            conn.execute(
                matters.insert(),
                [
                    {
                        "lead_id": "earlier",
                        "village": "shd-v03",
                        "category": "village_tyrant",
                        "shingles": " ".join(sorted(shingles(TOLD))),
                        "reported_at": AT,
                    },
                    {
                        "lead_id": "empty",
                        "village": None,
                        "category": "other",
                        "shingles": "",
                        "reported_at": AT,
                    },
                ],
            )
        upgrade(engine, "intake")
        with engine.connect() as conn:
            rows = conn.execute(select(matter_bands)).all()
        # What the detector would have written for the same report: a later retelling
        # probes these keys.
        expected = set(band_keys("village_tyrant", shingles(TOLD)))
        assert len(expected) == BANDS
        assert {row.band_key for row in rows} == expected
        assert {(row.lead_id, row.village, row.reported_at) for row in rows} == {
            ("earlier", "shd-v03", AT)
        }
        downgrade(engine, "intake", "0001_baseline")
        assert current_revision(engine) == "0001_baseline"
        tables = inspect(engine).get_table_names()
        assert "intake_matter_bands" not in tables
        assert "intake_matters" in tables
    finally:
        engine.dispose()
