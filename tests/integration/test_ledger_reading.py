"""Reading the ledger: each reader sees their own part of it (the office, clerks and auditors
all of it, a village screener their village, a handling unit what it was handed, the
discipline committee what was routed to it), each read of a lead is recorded, and the list
filters and pages.

The ledger is fed as in production: a LeadReported on INTAKE, filed by its own registrar."""

from __future__ import annotations

import httpx
import pytest

from common.events import Actor, Role, utc_now
from common.events.catalogue import LeadTransferred, LeadViewed
from common.subjects import Stream
from common.vocabulary import Category, Flag
from tests.conftest import wait_until
from tests.support.apps import token
from tests.support.ledger import (
    OFFICE_UNIT,
    LedgerService,
    act,
    ids_listed,
    ledger_events,
    listed,
    moved_to,
    report_and_file,
    shown,
)
from tests.support.streams import stored_on

pytestmark = pytest.mark.integration


async def test_the_registrar_routes_a_lead_involving_an_official_to_the_discipline_committee(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    flagged = (
        await report_and_file(
            service,
            village="shd-v03",
            category=Category.DUTY_CRIME,
            flags=(Flag.INVOLVES_OFFICIAL,),
        )
    )["lead_id"]

    routed = await shown(http, flagged, unit="shd-discipline", status="transferred")
    assert routed["status_label"] == "已移交"
    [transfer] = [e for e in await ledger_events(js, flagged) if isinstance(e, LeadTransferred)]
    assert (transfer.from_unit, transfer.to_unit, transfer.actor.user) == (
        OFFICE_UNIT,
        "shd-discipline",
        "registrar",
    )


async def test_each_reader_sees_their_own_part_of_the_ledger(service: LedgerService) -> None:
    http = service.http
    own = (await report_and_file(service, village="shd-v01"))["lead_id"]
    other = (await report_and_file(service, village="shd-v02"))["lead_id"]
    flagged = (
        await report_and_file(
            service,
            village="shd-v03",
            category=Category.DUTY_CRIME,
            flags=(Flag.INVOLVES_OFFICIAL,),
        )
    )["lead_id"]
    # Routed by the registrar to the discipline committee.
    await shown(http, flagged, unit="shd-discipline", status="transferred")

    everything = {own, other, flagged}
    for user in ("office", "clerk", "auditor"):
        assert await ids_listed(http, user) == everything, user
    assert await ids_listed(http, "screener.v01") == {own}
    assert await ids_listed(http, "screener.v02") == {other}
    assert await ids_listed(http, "discipline") == {flagged}
    assert await ids_listed(http, "judicial") == set()
    assert await ids_listed(http, "police") == set()
    assert (
        await http.get(f"/v1/ledger/leads/{other}", headers=token("screener.v01"))
    ).status_code == 404
    assert (await http.get(f"/v1/ledger/leads/{own}", headers=token("police"))).status_code == 404

    moved_to(
        await act(http, own, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"),
        "transferred",
    )
    await wait_until(lambda: _listed_exactly(http, "police", {own}))
    assert (await http.get(f"/v1/ledger/leads/{own}", headers=token("police"))).status_code == 200
    assert (await http.get(f"/v1/ledger/leads/{other}", headers=token("police"))).status_code == 404


async def test_each_read_of_a_lead_is_recorded_with_its_reader_and_purpose(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    own = (await report_and_file(service, village="shd-v01"))["lead_id"]

    views = f"audit.ledger.lead.{own}.LeadViewed"
    before = await stored_on(js, Stream.AUDIT, views)
    read = await http.get(
        f"/v1/ledger/leads/{own}", params={"purpose": "季度抽查"}, headers=token("auditor")
    )
    assert read.status_code == 200
    after = await stored_on(js, Stream.AUDIT, views)
    assert len(after) == len(before) + 1
    [viewed] = [s.event for s in after[len(before) :]]
    assert isinstance(viewed, LeadViewed)
    assert (viewed.lead_id, viewed.service, viewed.purpose) == (own, "ledger", "季度抽查")
    assert viewed.actor == Actor(role=Role.AUDITOR, unit="county", user="auditor")


async def _listed_exactly(http: httpx.AsyncClient, user: str, wanted: set[str]) -> bool:
    return await ids_listed(http, user) == wanted


async def test_the_list_filters_by_status_village_category_unit_and_filing_time_and_pages(
    service: LedgerService,
) -> None:
    http = service.http
    early = [
        (await report_and_file(service, village=v, category=c))["lead_id"]
        for v, c in (
            ("shd-v01", Category.VILLAGE_TYRANT),
            ("shd-v01", Category.PUBLIC_ORDER),
            ("shd-v02", Category.VILLAGE_TYRANT),
        )
    ]
    moment = utc_now()
    await wait_until(lambda: utc_now() > moment)
    late = [
        (await report_and_file(service, village=v, category=c))["lead_id"]
        for v, c in (("shd-v02", Category.PETITION), ("shd-v03", Category.VILLAGE_TYRANT))
    ]
    a, b, c, d, e = *early, *late
    moved_to(
        await act(http, e, "transfer", "office", to_unit="shd-police", reason="涉嫌犯罪"),
        "transferred",
    )
    await shown(http, e, status="transferred")

    assert await ids_listed(http, status="transferred") == {e}
    assert await ids_listed(http, status="registered") == {a, b, c, d}
    assert await ids_listed(http, village="shd-v01") == {a, b}
    assert await ids_listed(http, category="village_tyrant") == {a, c, e}
    assert await ids_listed(http, village="shd-v02", category="village_tyrant") == {c}
    assert await ids_listed(http, unit="shd-police") == {e}
    assert await ids_listed(http, **{"from": moment.isoformat()}) == {d, e}
    assert await ids_listed(http, to=moment.isoformat()) == {a, b, c}
    # No lead has a deadline yet; the deadline test lists an overdue one.
    assert await ids_listed(http, overdue="true") == set()
    assert await ids_listed(http, overdue="false") == {a, b, c, d, e}

    pages = [await listed(http, page=n, page_size=2) for n in (1, 2, 3, 4)]
    assert [(p["total"], p["page"], p["page_size"], len(p["items"])) for p in pages] == [
        (5, 1, 2, 2),
        (5, 2, 2, 2),
        (5, 3, 2, 1),
        (5, 4, 2, 0),
    ]
    in_order = [item for p in pages for item in p["items"]]
    # Newest first: filed one after another, so by ledger number, descending.
    assert [i["lead_id"] for i in in_order] == [e, d, c, b, a]
    assert [i["ledger_number"] for i in in_order] == sorted(
        (i["ledger_number"] for i in in_order), reverse=True
    )

    too_small = await http.get("/v1/ledger/leads", params={"page_size": 0}, headers=token("office"))
    assert too_small.status_code == 422
    assert [(p["field"], p["label"]) for p in too_small.json()["detail"]] == [
        ("page_size", "每页条数")
    ]
