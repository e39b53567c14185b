"""The read side attacked from inside: a police officer searching for the words of a report
the discipline committee holds, and a village screener asking for the exchange with the
reporter of a lead routed to the committee (by its id, or by the number on its file). The
search finds nothing of it, and the lead answers exactly as a lead that does not exist;
neither attempt is recorded as a read. Who may read the lead reads all of it."""

from __future__ import annotations

import pytest

from common.events.catalogue import LeadViewed
from common.subjects import Stream
from common.vocabulary import Category, Flag
from tests.conftest import wait_until
from tests.support.factories import new_lead_id
from tests.support.ledger import (
    LedgerService,
    added_by_reporter,
    filed,
    found_by_search,
    handed_to_police,
    hidden,
    read,
    read_in_full,
    report,
    shown,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

OFFICIAL = "镇党委副书记李某收受砂石场老板的好处费，为其非法采砂打招呼。"
ADDED = "补充：好处费是在县城茶楼交的，采砂场的会计可以作证。"
TYRANT = "砂石场老板雇人殴打阻拦采砂的村民，还向村民索要好处费。"


async def test_what_the_committee_holds_is_found_and_read_by_no_one_else(
    service_on_each_database: LedgerService,
) -> None:
    http, js = service_on_each_database.http, service_on_each_database.js
    committees = await report(
        js,
        village="shd-v01",
        category=Category.DUTY_CRIME,
        flags=(Flag.INVOLVES_OFFICIAL,),
        summary="反映镇干部充当保护伞",
        details=OFFICIAL,
    )
    polices = await report(js, village="shd-v01", summary="砂石场殴打村民", details=TYRANT)
    number = (await filed(http, committees))["ledger_number"]
    await filed(http, polices)
    await shown(http, committees, unit="shd-discipline")
    await handed_to_police(http, polices)
    await shown(http, polices, unit="shd-police")
    await added_by_reporter(js, committees, ADDED)

    async def indexed() -> bool:
        return await found_by_search(http, "县城茶楼") == {committees}

    await wait_until(indexed)
    views_before = await events_on(js, Stream.AUDIT, "audit.ledger.lead.*.LeadViewed")

    # The words both reports share find, for each reader, only what that reader may see.
    assert await found_by_search(http, "好处费", "office") == {committees, polices}
    assert await found_by_search(http, "好处费", "discipline") == {committees}
    assert await found_by_search(http, "好处费", "police") == {polices}
    assert await found_by_search(http, "好处费", "screener.v01") == {polices}

    # Words only the committee's report has, from its details or the reporter's addition:
    # nothing, for the police and for the village screener.
    for words in ("李某收", "党委副书记", "县城茶楼", "会计可以作证", "保护伞"):
        assert await found_by_search(http, words, "discipline") == {committees}, words
        for user in ("police", "screener.v01", "screener.v02", "judicial"):
            assert await found_by_search(http, words, user) == set(), (user, words)

    # The screener asks for the committee's lead, with its exchange with the reporter: the
    # answer is the one for a lead that never existed, by id and by number alike.
    never = await read(http, new_lead_id(), "screener.v01")
    hidden(never)
    for key in (committees, number):
        for user in ("screener.v01", "police"):
            attempt = await read(http, key, user)
            hidden(attempt)
            assert attempt.content == never.content
            assert attempt.headers["content-type"] == never.headers["content-type"]
    views_after = await events_on(js, Stream.AUDIT, "audit.ledger.lead.*.LeadViewed")
    assert views_after == views_before  # refused reads are not reads

    # The committee reads it all: what was reported and what was added.
    page = await read_in_full(http, committees, "discipline")
    assert page["details"] == OFFICIAL
    assert [(e["kind"], e["text"]) for e in page["thread"]] == [("supplement", ADDED)]
    [viewed] = [
        v
        for v in await events_on(js, Stream.AUDIT, "audit.ledger.lead.*.LeadViewed")
        if v not in views_before
    ]
    assert isinstance(viewed, LeadViewed)
    assert (viewed.lead_id, viewed.actor.user) == (committees, "discipline")
