"""Who may enter which leads into intake: a screener only their own village's, through
village screening; the police from their incident system, not the hotline; the public
without an account; staff only with a token of a role that enters leads. A refused entry
publishes nothing."""

from __future__ import annotations

import httpx
import pytest
from nats.js import JetStreamContext

from common.vocabulary import Channel
from tests.support.apps import token
from tests.support.intake import OTHER_VILLAGE, event_types, lead, stored_in_intake, unique

pytestmark = pytest.mark.integration


async def test_a_screener_enters_leads_of_their_own_village_through_village_screening_only(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    screener = token("screener.v01")
    screening = Channel.VILLAGE_SCREENING.value

    other_village = await intake.post(
        "/v1/leads",
        json=lead(unique("邻村有人强揽工程"), OTHER_VILLAGE, channel=screening),
        headers=screener,
    )
    assert other_village.status_code == 403, other_village.text
    assert await stored_in_intake(streams) == 0

    hotline = await intake.post(
        "/v1/leads",
        json=lead(unique("电话里听说有人放高利贷"), channel=Channel.HOTLINE.value),
        headers=screener,
    )
    assert hotline.status_code == 403, hotline.text
    assert await stored_in_intake(streams) == 0

    own = await intake.post(
        "/v1/leads", json=lead(unique("本村有人强占集体鱼塘"), channel=screening), headers=screener
    )
    assert own.status_code == 201, own.text
    assert await event_types(streams, own.json()["lead_id"]) == ["LeadReported"]


async def test_police_enter_leads_from_their_incident_system_but_not_from_the_hotline(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    police = token("police")

    hotline = await intake.post(
        "/v1/leads",
        json=lead(unique("有人在电话里举报赌博"), channel=Channel.HOTLINE.value),
        headers=police,
    )
    assert hotline.status_code == 403, hotline.text
    assert await stored_in_intake(streams) == 0

    incident = await intake.post(
        "/v1/leads",
        json=lead(unique("警情：村口聚众斗殴"), channel=Channel.POLICE_INCIDENT.value),
        headers=police,
    )
    assert incident.status_code == 201, incident.text
    assert await event_types(streams, incident.json()["lead_id"]) == ["LeadReported"]


async def test_the_public_reports_without_an_account_but_staff_entry_needs_a_token(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    no_token = await intake.post(
        "/v1/leads", json=lead(unique("没有登录的录入"), channel=Channel.HOTLINE.value)
    )
    assert no_token.status_code == 401, no_token.text
    not_staff = await intake.post(
        "/v1/leads",
        json=lead(unique("审计员不录入线索"), channel=Channel.HOTLINE.value),
        headers=token("auditor"),
    )
    assert not_staff.status_code == 403, not_staff.text
    assert await stored_in_intake(streams) == 0

    public = await intake.post("/v1/reports", json=lead(unique("匿名举报村霸欺压村民")))
    assert public.status_code == 201, public.text
    assert public.json()["receipt"]
    assert await event_types(streams, public.json()["lead_id"]) == ["LeadReported"]
