"""Reads of a campaign are recorded on AUDIT as reads of an item are (CampaignViewed): the
campaign with its answers (API and desk alike), the report to print; the download is
recorded as an export; a refused or hidden read, and a command's answer, record nothing."""

from __future__ import annotations

import httpx
import pytest

from common.events import Role
from common.events.campaigns import CampaignViewed
from common.events.catalogue import LedgerExported
from common.events.tasks import TaskViewed
from common.subjects import Stream
from tests.integration.test_ledger_campaigns import CAMPAIGNS, desk, self_check_answered
from tests.support.accounts import open_account
from tests.support.apps import token
from tests.support.ledger import LedgerService, signed_in_on_page
from tests.support.streams import events_on

pytestmark = pytest.mark.integration
__all__ = ["desk"]  # the ledger taking sessions, for the print page


async def views(service: LedgerService, campaign_id: str) -> list[tuple[str | None, str]]:
    found = await events_on(
        service.js, Stream.AUDIT, f"audit.ledger.campaign.{campaign_id}.CampaignViewed"
    )
    return [(v.actor.user, v.part) for v in found if isinstance(v, CampaignViewed)]


async def test_each_read_of_a_campaign_is_recorded_and_nothing_else_is(
    service: LedgerService,
) -> None:
    http = service.http
    campaign_id = await self_check_answered(http)
    # Answering is a command, not a read.
    assert await views(service, campaign_id) == []

    for user in ("auditor", "police"):
        shown = await http.get(f"{CAMPAIGNS}/{campaign_id}", headers=token(user))
        assert shown.status_code == 200, shown.text
    # A unit's person refused the report, and a campaign that does not exist: nothing.
    refused = await http.get(f"{CAMPAIGNS}/{campaign_id}/report.xlsx", headers=token("police"))
    assert refused.status_code == 403, refused.text
    missing = await http.get(f"{CAMPAIGNS}/{'0' * 32}", headers=token("office"))
    assert missing.status_code == 404, missing.text
    assert await views(service, campaign_id) == [("auditor", "campaign"), ("police", "campaign")]

    # The download is an export, recorded as one (not twice).
    download = await http.get(f"{CAMPAIGNS}/{campaign_id}/report.xlsx", headers=token("office"))
    assert download.status_code == 200, download.text
    exports = await events_on(service.js, Stream.AUDIT, "audit.ledger.global.LedgerExported")
    assert [
        (e.actor.user, e.filters.get("campaign")) for e in exports if isinstance(e, LedgerExported)
    ] == [("office", campaign_id)]
    assert len(await views(service, campaign_id)) == 2
    # Nothing recorded as the read of an item.
    assert not [
        e
        for e in await events_on(service.js, Stream.AUDIT, "audit.ledger.task.*.TaskViewed")
        if isinstance(e, TaskViewed)
    ]


async def test_the_desk_s_campaign_and_its_print_page_are_recorded(desk: LedgerService) -> None:
    campaign_id = await self_check_answered(desk.http)
    password = "沙河店镇自查自纠的密码"
    await open_account(desk.js, "office.desk", Role.OFFICE, "shd-office", password)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=desk.app), base_url="http://service"
    ) as office:
        await signed_in_on_page(office, "office.desk", password)
        page = await office.get(f"/desk/campaigns/{campaign_id}")
        assert page.status_code == 200, page.text
        printed = await office.get(f"/desk/campaigns/{campaign_id}/report")
        assert printed.status_code == 200, printed.text
    assert await views(desk, campaign_id) == [
        ("office.desk", "campaign"),
        ("office.desk", "print"),
    ]
