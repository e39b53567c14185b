"""The assessment never rewards leaving a late lead open."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert
from sqlalchemy.ext.asyncio import create_async_engine

from oversight.projection.queries import assessments
from oversight.projection.tables import leads, metadata

MARCH = datetime(2025, 3, 3, 2, tzinfo=UTC)
DEADLINE = datetime(2025, 3, 20, 10, tzinfo=UTC)
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _lead(lead_id: str, unit: str, concluded: datetime | None) -> dict[str, object]:
    return {
        "lead_id": lead_id,
        "flags": "",
        "same_matter_reports": 1,
        "reported_at": MARCH,
        "registered_at": MARCH,
        "holder": unit,
        "deadline": DEADLINE,
        "deadlines_missed": 1,
        "concluded_at": concluded,
    }


async def test_a_unit_that_concluded_late_scores_above_one_that_left_the_lead_open(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'oversight.db'}"
    sync = create_engine(url)
    metadata.create_all(sync)
    with sync.begin() as conn:
        conn.execute(
            insert(leads),
            [
                _lead("late", "shd-police", datetime(2025, 3, 28, tzinfo=UTC)),
                _lead("open", "shd-judicial", None),
            ],
        )
    sync.dispose()
    engine = create_async_engine(url.replace("sqlite:", "sqlite+aiosqlite:"))
    async with engine.connect() as conn:
        found = {a.unit: a for a in await assessments(conn, NOW)}
    await engine.dispose()

    assert found["shd-judicial"].on_time_rate == 0.0
    assert found["shd-police"].on_time_rate == 0.0
    assert found["shd-police"].score > found["shd-judicial"].score
