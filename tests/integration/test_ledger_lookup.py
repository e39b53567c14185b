"""Finding a lead by the number on its file: a caller reads SHD-2026-000066 off a letter and
asks for it, by the lead's address or as a filter of the list. Before, the first answered
404 and the filter was ignored (the whole ledger came back). A number the reader may not
see answers exactly as a number never given, and its read is recorded like any other."""

from __future__ import annotations

import pytest

from common.events.catalogue import LeadViewed
from common.subjects import Stream
from common.vocabulary import Category, Flag
from tests.support.ledger import (
    LedgerService,
    filed,
    hidden,
    ids_listed,
    listed,
    read,
    read_in_full,
    report,
    shown,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

NEVER_GIVEN = "SHD-2099-999999"


async def test_a_lead_is_found_by_its_ledger_number_by_whoever_may_see_it(
    service_on_each_database: LedgerService,
) -> None:
    http, js = service_on_each_database.http, service_on_each_database.js
    own = await report(js, village="shd-v01")
    other = await report(js, village="shd-v02")
    committees = await report(
        js, village="shd-v01", category=Category.DUTY_CRIME, flags=(Flag.INVOLVES_OFFICIAL,)
    )
    number = {lead: (await filed(http, lead))["ledger_number"] for lead in (own, other, committees)}
    await shown(http, committees, unit="shd-discipline")

    # By the lead's address: the same lead as by its id (the number in small letters too).
    by_number = await read_in_full(http, number[own], "screener.v01")
    by_id = await read_in_full(http, own, "screener.v01")
    assert by_number["lead_id"] == own
    assert (await read_in_full(http, number[own].lower(), "screener.v01"))["lead_id"] == own
    assert {k: v for k, v in by_number.items() if k != "history"} == {
        k: v for k, v in by_id.items() if k != "history"
    }
    assert (await read_in_full(http, number[committees], "discipline"))["lead_id"] == committees

    # As a filter of the list: that lead only (as the number was written, or in capitals
    # forgotten).
    assert await ids_listed(http, ledger_number=number[other]) == {other}
    assert await ids_listed(http, ledger_number=number[other].lower()) == {other}
    assert await ids_listed(http, ledger_number=NEVER_GIVEN) == set()
    assert (await listed(http, ledger_number=number[own], page_size=1))["total"] == 1

    # Hidden: the same 404 as a number never given, whether the lead is another village's
    # or the committee's; and the list is empty.
    for user, key in (("screener.v01", number[other]), ("screener.v01", number[committees])):
        hidden(await read(http, key, user))
        assert await ids_listed(http, user, ledger_number=key) == set()
    hidden(await read(http, number[own], "police"))
    hidden(await read(http, NEVER_GIVEN, "office"))

    # A filter that is no ledger number is the filter's fault, named.
    wrong = await http.get(
        "/v1/ledger/leads",
        params={"ledger_number": "第66号"},
        headers={"Authorization": "Bearer token-office"},
    )
    assert wrong.status_code == 422, wrong.text
    assert [(p["field"], p["label"]) for p in wrong.json()["detail"]] == [
        ("ledger_number", "台账编号")
    ]

    # Each read by number is recorded under the lead's id; a refused one is not.
    views = await events_on(js, Stream.AUDIT, "audit.ledger.lead.*.LeadViewed")
    read_by = [(v.lead_id, v.actor.user) for v in views if isinstance(v, LeadViewed)]
    assert read_by.count((own, "screener.v01")) == 3
    assert read_by.count((committees, "discipline")) == 1
    assert [lead for lead, user in read_by if user in ("police", "screener.v01")] == [own] * 3
