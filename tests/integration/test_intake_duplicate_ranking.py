"""The detector confirms only the earlier reports sharing the most bands with a new one
(MAX_CONFIRMED): a retelling told after reports only partly alike is still the one
confirmed and linked, though they came first. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from common.database import Database
from common.events.catalogue import LeadReported
from common.migrations import upgrade
from common.vocabulary import Category, Channel
from intake import duplicates
from intake.domain.matters import band_keys, shingles
from intake.duplicates import DuplicateDetector, near_reports, sharing_reports
from tests.support.intake import DuplicateLinks

pytestmark = pytest.mark.integration

TOLD = "村霸张某强占村集体鱼塘，还殴打前去理论的村民，群众多次反映无人处理"
# 51 % and 56 % alike: below the threshold, each sharing a few of the 64 bands.
PARTLY = (
    "村霸张某强占村集体鱼塘，还向商户收取保护费，群众多次反映无人处理",
    "村霸李某强占村集体鱼塘，还殴打前去理论的村民",
)
RETOLD = "村霸张某强占村集体鱼塘还殴打前去理论的村民，群众多次反映无人处理了"
START = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def _report(lead_id: str, minute: int, text: str) -> Any:
    return LeadReported.model_construct(
        event_id=str(uuid.uuid4()),
        lead_id=lead_id,
        category=Category.VILLAGE_TYRANT,
        village="v1",
        summary=text,
        details="",
        occurred_at=START + timedelta(minutes=minute),
        correlation_id=None,
        reporter=None,
        channel=Channel.HOTLINE,
    )


async def test_the_report_sharing_most_bands_is_confirmed_before_earlier_ones(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(duplicates, "MAX_CONFIRMED", 1)
    database = Database(database_url)
    try:
        upgrade(database.sync_engine, "intake")
        links = DuplicateLinks()
        detect = DuplicateDetector(
            SimpleNamespace(database=database, store=lambda _stream: links),  # type: ignore[arg-type]
            0.6,
        )
        earlier = [_report(f"partly-{n}", n, text) for n, text in enumerate(PARTLY)]
        earlier.append(_report("retold", 10, RETOLD))
        for report in earlier:
            await detect(report)

        new = _report("new", 20, TOLD)
        keys = band_keys(new.category.value, shingles(TOLD))
        sharing = sharing_reports(keys, new.village, new.occurred_at, new.lead_id)
        near = near_reports(keys, new.category.value, new.village, new.occurred_at, "new")
        async with database.async_engine.connect() as conn:
            shared = {row.lead_id: row.shared for row in await conn.execute(*sharing)}
            chosen = (await conn.execute(*near)).all()
        # All three share bands with it, the retelling by far the most.
        assert set(shared) == {"partly-0", "partly-1", "retold"}
        assert shared["retold"] > max(shared["partly-0"], shared["partly-1"]) > 0
        assert [row.lead_id for row in chosen] == ["retold"]

        await detect(new)
        assert links.named == {"new": "retold"}
    finally:
        await database.dispose()
