"""Numbering survives a message on the registrations' subject that cannot be read: the
registrar steps over it to the last registration it can read, and every lead reported
after it is still filed, gap-free."""

from __future__ import annotations

import pytest

from tests.integration.test_ledger import (  # noqa: F401 - fixtures
    LedgerService,
    filed,
    report,
    service,
    sqlite_url,
    streams,
)

pytestmark = pytest.mark.integration


def number_of(lead: dict[str, object]) -> int:
    return int(str(lead["ledger_number"]).rsplit("-", 1)[1])


async def test_an_unreadable_registration_does_not_stop_the_numbering(
    service: LedgerService,  # noqa: F811 - the fixture imported above
) -> None:
    first = await filed(service.http, await report(service.js))

    # Anything holding the ledger's publish rights (a bug, a stolen credential) writes
    # garbage where the last registration is looked up.
    await service.js.publish(
        "ledger.lead.0123456789abcdef0123456789abcdef.LeadRegistered", b"\xff not an event"
    )

    later = [await report(service.js) for _ in range(3)]
    numbers = [number_of(await filed(service.http, lead_id)) for lead_id in later]
    assert numbers == [number_of(first) + 1, number_of(first) + 2, number_of(first) + 3]
