"""The duplicate detector's scope, on SQLite and PostgreSQL: a report is compared with the
earlier reports of its category from its own village or of unknown village (every village's
when its own is unknown), never with later ones; of equally similar reports the first told is
named. Driven through the detector itself, with the link it would append recorded."""

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
from intake.duplicates import DuplicateDetector
from tests.support.intake import DuplicateLinks

pytestmark = pytest.mark.integration

TOLD = "村霸张某强占村集体鱼塘，还殴打前去理论的村民，群众多次反映无人处理"
RETOLD = "村霸张某强占村集体鱼塘还殴打前去理论的村民，群众多次反映无人处理了"
START = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def _report(lead_id: str, minute: int, village: str | None, text: str, category: Category) -> Any:
    return LeadReported.model_construct(
        event_id=str(uuid.uuid4()),
        lead_id=lead_id,
        category=category,
        village=village,
        summary=text,
        details="",
        occurred_at=START + timedelta(minutes=minute),
        correlation_id=None,
        reporter=None,
        channel=Channel.HOTLINE,
    )


async def test_a_report_is_compared_within_its_scope(database_url: str) -> None:
    database = Database(database_url)
    try:
        upgrade(database.sync_engine, "intake")
        links = DuplicateLinks()
        detect = DuplicateDetector(
            SimpleNamespace(database=database, store=lambda _stream: links),  # type: ignore[arg-type]
            0.6,
        )
        tyrant, order = Category.VILLAGE_TYRANT, Category.PUBLIC_ORDER
        first = _report("first", 0, "v1", TOLD, tyrant)
        reports = [
            first,
            _report("elsewhere", 1, "v2", TOLD, tyrant),
            _report("other-matter", 2, None, TOLD, order),
            _report("unknown-place", 3, None, RETOLD, tyrant),
            _report("same-place", 4, "v1", RETOLD, tyrant),
            _report("anywhere", 5, None, TOLD, tyrant),
            _report("far-village", 6, "v3", TOLD, tyrant),
        ]
        for report in reports:
            await detect(report)
        # Told again (a redelivery): later reports of the same wording stay unnamed.
        await detect(first)
        assert links.named == {
            # Its own village has none, and another village's report is out of its scope.
            "unknown-place": "first",
            # The unknown village's report told in the same words, before its own village's.
            "same-place": "unknown-place",
            # Unknown village: every village's; of the identical ones, the first told.
            "anywhere": "first",
            # Only the unknown village's reports are in its scope: the identical one.
            "far-village": "anywhere",
        }
    finally:
        await database.dispose()
