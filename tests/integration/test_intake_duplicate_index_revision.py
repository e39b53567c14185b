"""The revision that recomputes the duplicate index in 64 bands: a database whose reports
were indexed in 40 bands finds them, after it, under the keys the detector now probes, and
its downgrade writes the 40 bands back. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, select

from common.database import sync_url
from common.migrations import current_revision, downgrade, upgrade
from intake.domain.matters import BANDS, band_keys, shingles
from intake.duplicates import matter_bands, matters

pytestmark = pytest.mark.integration

TOLD = "村霸张某强占村集体鱼塘，还殴打前去理论的村民"
OTHER = "村东头小卖部老板长期放高利贷，逼债上门"
AT = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def indexed(engine: Engine) -> dict[str, set[int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(matter_bands)).all()
    found: dict[str, set[int]] = {}
    for row in rows:
        assert row.reported_at == AT
        found.setdefault(row.lead_id, set()).add(row.band_key)
    return found


def test_the_revision_indexes_every_report_in_the_bands_the_detector_probes(
    database_url: str,
) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        upgrade(engine, "intake", "0001_baseline")
        with engine.begin() as conn:
            conn.execute(
                matters.insert(),
                [
                    {
                        "lead_id": lead_id,
                        "village": village,
                        "category": "village_tyrant",
                        "shingles": " ".join(sorted(shingles(text))),
                        "reported_at": AT,
                    }
                    for lead_id, village, text in (
                        ("told", "shd-v03", TOLD),
                        ("other", None, OTHER),
                    )
                ],
            )
        upgrade(engine, "intake", "0002_matter_bands")
        forty = {
            "told": set(band_keys("village_tyrant", shingles(TOLD), 40)),
            "other": set(band_keys("village_tyrant", shingles(OTHER), 40)),
        }
        assert indexed(engine) == forty

        upgrade(engine, "intake", "0003_matter_bands_64")
        assert current_revision(engine) == "0003_matter_bands_64"
        now = {
            "told": set(band_keys("village_tyrant", shingles(TOLD))),
            "other": set(band_keys("village_tyrant", shingles(OTHER))),
        }
        assert all(len(keys) == BANDS == 64 for keys in now.values())
        assert indexed(engine) == now
        with engine.connect() as conn:
            villages = set(conn.execute(select(matter_bands.c.lead_id, matter_bands.c.village)))
        assert villages == {("told", "shd-v03"), ("other", "")}

        downgrade(engine, "intake", "0002_matter_bands")
        assert indexed(engine) == forty
    finally:
        engine.dispose()
