"""The unanswered list (未反馈) and the statistics: leads filed long enough ago with neither an
answer nor a result, for the service's own period or one the reader gives, and counts of
the ledger by village, unit, category and month, each limited to what the reader sees."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from common.events import Actor, Role, utc_now
from common.events.catalogue import LeadRegistered
from common.eventstore import EventStore
from common.subjects import Stream
from common.vocabulary import Category, Channel
from tests.conftest import NatsTarget
from tests.support.apps import parse, token
from tests.support.factories import CHINA, new_lead_id
from tests.support.ledger import (
    OFFICE_UNIT,
    LedgerService,
    act,
    filed,
    ledger_settings,
    listed,
    moved_to,
    report_and_file,
    serving_ledger,
    shown,
)

pytestmark = pytest.mark.integration


async def filed_earlier(
    service: LedgerService, number: int, when: datetime, village: str, category: Category
) -> str:
    """A lead filed ``when``. The registrar files with the current time and the API takes
    no date, so an old filing is written to LEDGER directly, as a ledger kept before this
    service would be brought in."""
    lead_id = new_lead_id()
    await EventStore(service.js, Stream.LEDGER, "ledger").append(
        LeadRegistered(
            lead_id=lead_id,
            ledger_number=f"SHD-{when.astimezone(CHINA).year}-{number:06d}",
            unit=OFFICE_UNIT,
            reported_at=when,
            channel=Channel.WALK_IN,
            category=category,
            summary="旧台账线索",
            village=village,
            for_committee=False,
            occurred_at=when,
            actor=Actor(role=Role.SYSTEM, unit=OFFICE_UNIT, user="registrar"),
        )
    )
    await filed(service.http, lead_id)
    return lead_id


@pytest.fixture
async def service_answering_within_25_days(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    settings = ledger_settings(
        nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, unanswered_after_days=25
    )
    async with serving_ledger(streams, settings) as service:
        yield service


@dataclass(frozen=True)
class FourLeads:
    silent: str  # filed 21 days ago in 沙河店村, nothing done since
    unanswered_result: str  # filed 20 days ago in 前营村, concluded, never answered
    done: str  # filed 20 days ago in 前营村, concluded and answered
    recent: str  # filed today in 沙河店村, handed to the police


async def four_leads(service: LedgerService) -> FourLeads:
    http = service.http
    now = utc_now()
    silent = await filed_earlier(
        service, 1, now - timedelta(days=21), "shd-v01", Category.VILLAGE_TYRANT
    )
    unanswered_result = await filed_earlier(
        service, 2, now - timedelta(days=20), "shd-v02", Category.PETITION
    )
    done = await filed_earlier(service, 3, now - timedelta(days=20), "shd-v02", Category.PETITION)
    recent = (await report_and_file(service, village="shd-v01"))["lead_id"]
    for lead_id in (unanswered_result, done):
        moved_to(
            await act(
                http, lead_id, "assign", "office", assignee="zhou.office", assignee_name="周主任"
            ),
            "assigned",
        )
        moved_to(
            await act(
                http, lead_id, "conclude", "office", result="not_in_scope", summary="属一般信访"
            ),
            "concluded",
        )
    moved_to(await act(http, done, "feedback", "office", text="已转信访部门办理"), "answered")
    moved_to(
        await act(http, recent, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"),
        "transferred",
    )
    await shown(http, done, status="answered")
    await shown(http, recent, status="transferred")
    return FourLeads(silent, unanswered_result, done, recent)


async def test_unanswered_lists_old_leads_without_an_answer_or_a_result(
    service_answering_within_25_days: LedgerService,
) -> None:
    service = service_answering_within_25_days
    http = service.http
    leads = await four_leads(service)
    silent, unanswered_result, recent = leads.silent, leads.unanswered_result, leads.recent

    async def unanswered(user: str = "office", **query: Any) -> list[str]:
        response = await http.get("/v1/ledger/unanswered", params=query, headers=token(user))
        assert response.status_code == 200, response.text
        return [row["lead_id"] for row in response.json()]

    # Filed 20 and 21 days ago: inside this service's 25 days, past 15.
    assert await unanswered() == []
    assert await unanswered(days=15) == [silent, unanswered_result]
    assert await unanswered(days=21) == [silent]
    assert await unanswered(days=30) == []
    assert await unanswered("screener.v01", days=15) == [silent]
    assert await unanswered("police", days=15) == []
    # A lead filed today is not overdue for an answer even by the shortest measure.
    assert recent not in await unanswered(days=1)


async def test_the_statistics_count_the_ledger_by_village_unit_category_and_month_as_each_reader_sees_it(
    service_answering_within_25_days: LedgerService,
) -> None:
    service = service_answering_within_25_days
    http = service.http
    await four_leads(service)

    months = Counter(
        parse(row["registered_at"]).astimezone(CHINA).strftime("%Y-%m")
        for row in (await listed(http, page_size=500))["items"]
    )
    stats = await http.get("/v1/ledger/stats", headers=token("office"))
    assert stats.status_code == 200
    assert stats.json() == {
        "village": {"shd-v01": 2, "shd-v02": 2},
        "unit": {OFFICE_UNIT: 3, "shd-police": 1},
        "category": {"petition": 2, "village_tyrant": 2},
        "month": dict(sorted(months.items())),
    }
    own = (await http.get("/v1/ledger/stats", headers=token("screener.v01"))).json()
    assert own["village"] == {"shd-v01": 2}
    assert sum(own["month"].values()) == 2
    police = (await http.get("/v1/ledger/stats", headers=token("police"))).json()
    assert police["unit"] == {"shd-police": 1}
