"""Every time the ledger answers carries its offset, and a deadline given as a date means
the end of that day on the township's clock (China time)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from common.events import utc_now
from tests.support.apps import token
from tests.support.factories import CHINA
from tests.support.ledger import (
    LedgerService,
    act,
    filed,
    handed_to_police,
    moved_to,
    report,
)

pytestmark = pytest.mark.integration


async def the_lead(service: LedgerService, lead_id: str) -> dict[str, object]:
    answer = await service.http.get(f"/v1/ledger/leads/{lead_id}", headers=token("police"))
    assert answer.status_code == 200, answer.text
    lead: dict[str, object] = answer.json()
    return lead


def aware(text: object) -> datetime:
    moment = datetime.fromisoformat(str(text))
    assert moment.tzinfo is not None, f"{text!r} has no offset"
    return moment


async def test_a_deadline_set_in_china_time_reads_back_as_the_same_moment_with_its_offset(
    service: LedgerService,
) -> None:
    lead_id = await report(service.js)
    await filed(service.http, lead_id)
    await handed_to_police(service.http, lead_id)
    in_a_month = (
        (utc_now() + timedelta(days=30))
        .astimezone(CHINA)
        .replace(hour=18, minute=0, second=0, microsecond=0)
    )
    moved_to(
        await act(
            service.http,
            lead_id,
            "assign",
            "police",
            assignee="wang.police",
            assignee_name="王警官",
            deadline=in_a_month.isoformat(),
        ),
        "assigned",
    )
    lead = await the_lead(service, lead_id)
    assert aware(lead["deadline"]) == in_a_month
    for field in ("registered_at", "reported_at", "updated_at"):
        if lead.get(field) is not None:
            aware(lead[field])
    for entry in lead["history"]:  # type: ignore[attr-defined]
        aware(entry["occurred_at"])


async def test_a_deadline_given_as_a_date_is_the_end_of_that_day_in_china(
    service: LedgerService,
) -> None:
    lead_id = await report(service.js)
    await filed(service.http, lead_id)
    await handed_to_police(service.http, lead_id)
    day = (utc_now() + timedelta(days=20)).astimezone(CHINA).date()
    moved_to(
        await act(
            service.http,
            lead_id,
            "assign",
            "police",
            assignee="wang.police",
            assignee_name="王警官",
            deadline=day.isoformat(),
        ),
        "assigned",
    )
    deadline = aware((await the_lead(service, lead_id))["deadline"]).astimezone(CHINA)
    assert (deadline.date(), deadline.hour, deadline.minute) == (day, 23, 59)

    naive = await act(
        service.http,
        lead_id,
        "extend-deadline",
        "police",
        deadline=f"{date(2030, 1, 1).isoformat()}T18:00:00",
        reason="需要补充调查",
    )
    assert naive.status_code == 422, naive.text
    assert naive.json()["detail"][0]["field"] == "deadline"
