"""A list says how many leads it holds without counting the whole ledger: past the count's
bound, the API's ``total`` is a floor and ``total_exact`` is false (the desk shows "N+");
under the bound the total is exact."""

from __future__ import annotations

import pytest

from ledger.projection import queries
from tests.support.ledger import LedgerService, listed, report_and_file

pytestmark = pytest.mark.integration


async def test_a_list_past_its_count_bound_says_its_total_is_at_least(
    service_on_each_database: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = service_on_each_database
    for _ in range(3):
        await report_and_file(service, village="shd-v02")
    monkeypatch.setattr(queries, "COUNT_LIMIT", 1)

    bounded = await listed(service.http, "office", village="shd-v02", page_size=1)
    assert (bounded["total"], bounded["total_exact"]) == (1, False)
    assert len(bounded["items"]) == 1

    # A page reaching past the bound is counted to its end, and to the end of the list here.
    whole = await listed(service.http, "office", village="shd-v02", page_size=50)
    assert (whole["total"], whole["total_exact"]) == (3, True)
