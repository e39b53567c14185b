"""Reports of the same matter, named on each other's page: intake suspects a later report
is the same matter as an earlier one (DuplicateSuspected); the ledger names the other
lead, with its ledger number, on both leads' pages. A reader is told only of the leads they
may see: a village screener reading the earlier report is not told that a report about an
official, held by the committee, is the same matter."""

from __future__ import annotations

from typing import Any

import pytest

from common.vocabulary import Flag
from tests.conftest import wait_until
from tests.support.ledger import (
    LedgerService,
    filed,
    handed_to_police,
    linked_as_same_matter,
    read_in_full,
    report,
    shown,
)

pytestmark = pytest.mark.integration

MATTER = "村霸张某强占村集体鱼塘，还殴打前去理论的村民"


def named(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(d["lead_id"], d["ledger_number"]) for d in page["duplicates"]]


async def test_reports_of_the_same_matter_name_each_other_as_far_as_the_reader_may_see(
    service_on_each_database: LedgerService,
) -> None:
    http, js = service_on_each_database.http, service_on_each_database.js
    first = await report(js, summary=MATTER)
    again = await report(js, summary="张某霸占鱼塘、殴打村民（电话举报）")
    # The same matter, reported with the village official said to shield him: it goes to
    # the discipline committee, and no village screener sees it.
    official = await report(js, summary="村支书包庇张某霸占鱼塘", flags=(Flag.INVOLVES_OFFICIAL,))
    unrelated = await report(js, summary="村东头小卖部老板放高利贷")
    numbers = {
        lead: (await filed(http, lead))["ledger_number"] for lead in (first, again, official)
    }
    await filed(http, unrelated)
    await shown(http, official, unit="shd-discipline")

    await linked_as_same_matter(js, again, duplicate_of=first)
    await linked_as_same_matter(js, official, duplicate_of=first)

    async def both_linked() -> bool:
        return len((await read_in_full(http, first))["duplicates"]) == 2

    await wait_until(both_linked)

    # The office sees every lead: each names the others of its matter, both ways round.
    assert named(await read_in_full(http, first)) == sorted(
        [(again, numbers[again]), (official, numbers[official])], key=lambda d: d[1]
    )
    assert named(await read_in_full(http, again)) == [(first, numbers[first])]
    assert named(await read_in_full(http, official)) == [(first, numbers[first])]
    assert named(await read_in_full(http, unrelated)) == []
    [link] = (await read_in_full(http, again))["duplicates"]
    assert "alike" in link["basis"]
    assert link["suspected_at"]

    # The village screener: the committee's lead is not named, not even by its id.
    screeners = await read_in_full(http, first, "screener.v01")
    assert named(screeners) == [(again, numbers[again])]
    assert official not in str(screeners)
    assert numbers[official] not in str(screeners)

    # The committee reads its own lead, but the earlier report was not handed to it.
    assert named(await read_in_full(http, official, "discipline")) == []

    # Handed to the police, the earlier report is theirs to read; the later one is not.
    await handed_to_police(http, first)
    await shown(http, first, unit="shd-police")
    assert named(await read_in_full(http, first, "police")) == []
