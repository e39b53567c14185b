"""The hot reads answered by the ledger's fast path (ledger.fastreads) answer exactly as
FastAPI's routes do: the same page, lead and counts, the same refusals of a missing token
and of a lead one may not see, and each lead read in full recorded."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import fastreads
from tests.support.apps import token
from tests.support.ledger import LedgerService, handed_to_police, report_and_file

pytestmark = pytest.mark.integration

# A filter every lead passes: the same request, sent past the fast path to the route.
TO_THE_ROUTE = {"from": "2000-01-01T00:00:00Z"}


@pytest.fixture
def answered_fast(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the fast path answered itself, or refused by what the routes call (rather
    than passed on)."""
    answered: list[str] = []
    original = fastreads.FastReads._answer

    async def counted(self: fastreads.FastReads, scope: Any, receive: Any) -> Any:
        try:
            found = await original(self, scope, receive)
        except Exception:
            answered.append(scope["path"])
            raise
        if found is not None:
            answered.append(scope["path"])
        return found

    monkeypatch.setattr(fastreads.FastReads, "_answer", counted)
    return answered


async def test_the_fast_path_and_the_routes_give_the_same_pages_leads_and_counts(
    service_on_each_database: LedgerService, answered_fast: list[str]
) -> None:
    service = service_on_each_database
    first = await report_and_file(service, village="shd-v01", summary="村里有人放高利贷逼债")
    await report_and_file(service, village="shd-v02", summary="高利贷团伙上门逼债")
    await handed_to_police(service.http, first["lead_id"])
    http = service.http
    answered_fast.clear()

    for user in ("office", "screener.v01", "police"):
        for query in ({"page_size": 1}, {"page_size": 5, "page": 1}, {"q": "高利贷"}):
            fast = await http.get("/v1/ledger/leads", params=query, headers=token(user))
            routed = await http.get(
                "/v1/ledger/leads", params={**query, **TO_THE_ROUTE}, headers=token(user)
            )
            assert fast.status_code == routed.status_code == 200, (user, query, fast.text)
            assert fast.json()["items"] == routed.json()["items"], (user, query)
        counts = await http.get("/v1/ledger/stats", headers=token(user))
        assert counts.status_code == 200
        assert counts.headers["content-type"] == "application/json"
    assert answered_fast.count("/v1/ledger/stats") == 3
    assert answered_fast.count("/v1/ledger/leads") == 9

    lead = await http.get(f"/v1/ledger/leads/{first['lead_id']}", headers=token("police"))
    assert lead.status_code == 200
    assert lead.json()["lead_id"] == first["lead_id"]
    assert [e["event_type"] for e in lead.json()["history"]][:2] == [
        "LeadRegistered",
        "LeadTransferred",
    ]
    assert answered_fast[-1] == f"/v1/ledger/leads/{first['lead_id']}"


async def test_the_fast_path_refuses_as_the_routes_do(
    service_on_each_database: LedgerService, answered_fast: list[str]
) -> None:
    service = service_on_each_database
    hidden = await report_and_file(service, village="shd-v02")
    http = service.http
    answered_fast.clear()

    # A lead of another village is the same 404 as one that does not exist.
    other = await http.get(f"/v1/ledger/leads/{hidden['lead_id']}", headers=token("screener.v01"))
    missing = await http.get("/v1/ledger/leads/no-such-lead", headers=token("screener.v01"))
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()

    # Without a token, and with a role that may not read the ledger.
    anonymous = await http.get("/v1/ledger/leads")
    routed = await http.get("/v1/ledger/leads", params=TO_THE_ROUTE)
    assert anonymous.status_code == routed.status_code == 401
    assert anonymous.json() == routed.json()
    assert anonymous.headers["www-authenticate"] == routed.headers["www-authenticate"]
    # The two refusals of a lead came through the fast path; a request without a token
    # (a person's session, or nothing) always goes to the route.
    assert answered_fast == [
        f"/v1/ledger/leads/{hidden['lead_id']}",
        "/v1/ledger/leads/no-such-lead",
    ]

    # What it does not take goes to the route, which refuses it and says why.
    twice = await http.get("/v1/ledger/leads?page=1&page=2", headers=token("office"))
    assert twice.status_code == 422
    assert len(answered_fast) == 2
