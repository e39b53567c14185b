"""Which leads a village screener may not see is the routing decision the ledger recorded
when it filed them, whatever the routing is configured to be. Before, the screener's view
had its own hard-coded copy of the rule: a town that routed village-tyrant leads to the
committee still showed them to the village's screener, next door to the official."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from common.events.catalogue import LeadRegistered, LeadTransferred
from common.vocabulary import Category, Flag
from tests.conftest import NatsTarget
from tests.support.apps import token
from tests.support.ledger import (
    LedgerService,
    filed,
    ids_listed,
    ledger_events,
    ledger_settings,
    report,
    serving_ledger,
)

pytestmark = pytest.mark.integration

DISCIPLINE = "shd-discipline"


@pytest.fixture
async def wider_routing(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    """A town that also hands village-tyrant leads to the committee, and not duty crimes
    nobody flagged."""
    settings = ledger_settings(
        nats_target,
        f"sqlite:///{tmp_path / 'ledger.db'}",
        tmp_path,
        discipline_categories=frozenset({Category.VILLAGE_TYRANT, Category.PROTECTIVE_UMBRELLA}),
    )
    async with serving_ledger(streams, settings) as running:
        yield running


async def screener_reads(service: LedgerService, lead_id: str) -> int:
    response = await service.http.get(f"/v1/ledger/leads/{lead_id}", headers=token("screener.v01"))
    return response.status_code


async def test_a_lead_the_town_routes_to_the_committee_is_hidden_from_its_village(
    wider_routing: LedgerService,
) -> None:
    tyrant = await report(wider_routing.js, village="shd-v01", category=Category.VILLAGE_TYRANT)
    await filed(wider_routing.http, tyrant)
    events = await ledger_events(wider_routing.js, tyrant)
    registered = next(e for e in events if isinstance(e, LeadRegistered))
    assert registered.for_committee is True
    assert [e.to_unit for e in events if isinstance(e, LeadTransferred)] == [DISCIPLINE]

    assert await screener_reads(wider_routing, tyrant) == 404
    assert tyrant not in await ids_listed(wider_routing.http, "screener.v01")
    # The committee holds it; the office still sees the whole ledger.
    assert tyrant in await ids_listed(wider_routing.http, "discipline")
    assert tyrant in await ids_listed(wider_routing.http, "office")


async def test_a_lead_the_town_keeps_is_its_villages_to_see_even_of_a_sensitive_category(
    wider_routing: LedgerService,
) -> None:
    # Nobody flagged an official and this town does not route duty crimes: the office
    # handles it, and the village's screener follows it as any other of the village.
    duty = await report(wider_routing.js, village="shd-v01", category=Category.DUTY_CRIME)
    await filed(wider_routing.http, duty)
    registered = next(
        e for e in await ledger_events(wider_routing.js, duty) if isinstance(e, LeadRegistered)
    )
    assert registered.for_committee is False
    assert await screener_reads(wider_routing, duty) == 200
    assert duty in await ids_listed(wider_routing.http, "screener.v01")

    # A flag still routes, whatever the categories.
    flagged = await report(
        wider_routing.js,
        village="shd-v01",
        category=Category.OTHER,
        flags=(Flag.INVOLVES_OFFICIAL,),
    )
    await filed(wider_routing.http, flagged)
    assert await screener_reads(wider_routing, flagged) == 404
    assert flagged not in await ids_listed(wider_routing.http, "screener.v01")
