"""The conflict-of-interest guard in a county of two towns: a town's committee keeps people
off its own town's leads alone and decides on its own town's overrides alone; another
town's lead answers, on the API and on the desk, exactly as one that does not exist, and
nothing is recorded. The guards and overrides a town's member and auditor read are their
town's; the county's own units read both."""

from __future__ import annotations

import httpx
import pytest
from nats.js import JetStreamContext

from common.events import Actor, Role
from common.events.conflict import ConflictOverrideRequested
from common.eventstore import EventStore
from common.subjects import Stream
from tests.integration.test_county import county  # noqa: F401 - the fixture
from tests.integration.test_oversight_towns import (  # noqa: F401 - the fixture
    Town,
    committees,
    flagged_in_each_town,
)
from tests.support.apps import token
from tests.support.factories import new_lead_id
from tests.support.ledger import LedgerService
from tests.support.oversight import (
    OversightService,
    csrf_token_of,
    get,
    person,
    record,
    sign_in_on_page,
)

pytestmark = pytest.mark.integration

GUARDS = "/v1/conflict/guards"
OVERRIDES = "/v1/conflict/overrides"
REPORT = "/v1/leak-risk/conflict-overrides"
# A person each town's office asked to hand its lead to despite a conflict.
ASKED = "chen.guard"


def asked_for(lead_id: str, unit: str) -> ConflictOverrideRequested:
    return ConflictOverrideRequested(
        lead_id=lead_id,
        account=ASKED,
        reason="全乡仅此一名熟悉情况的民警",
        grounds=("tie",),
        actor=Actor(role=Role.OFFICE, unit=unit, user=f"{unit}.office"),
    )


async def asked_in_each_town(
    county: LedgerService,  # noqa: F811 - the fixture imported above
    committees: OversightService,  # noqa: F811 - the fixture imported above
) -> tuple[Town, Town]:
    """A flagged lead filed in each town, and each town's office asking for an override
    on its own."""
    shd, zxl = await flagged_in_each_town(county, committees)
    await record(
        county.js, asked_for(shd.lead_id, "shd-office"), asked_for(zxl.lead_id, "zxl-office")
    )
    return shd, zxl


async def guard_events(js: JetStreamContext, lead_id: str) -> int:
    store = EventStore(js, Stream.DIRECTIVES, "directive")
    history = await store.read_subject(f"directive.lead.{lead_id}.>")
    return len(history.events)


def as_if_none(theirs: httpx.Response, none: httpx.Response) -> None:
    assert theirs.status_code == 404, theirs.text
    assert (theirs.status_code, theirs.json()) == (none.status_code, none.json())


async def test_a_towns_committee_guards_and_decides_on_its_own_towns_leads_alone(
    county: LedgerService,  # noqa: F811 - the fixture imported above
    committees: OversightService,  # noqa: F811 - the fixture imported above
    streams: JetStreamContext,
) -> None:
    http = committees.http
    shd, zxl = await asked_in_each_town(county, committees)
    before = await guard_events(streams, zxl.lead_id)

    # Every write on the other town's lead: 404, as for a lead there is not.
    writes = {
        GUARDS: {"account": ASKED, "reason": "umbrella"},
        f"{GUARDS}/lifted": {"account": ASKED},
        OVERRIDES: {"account": ASKED, "decision": "approve"},
    }
    for path, body in writes.items():
        theirs = await http.post(
            path, json={**body, "lead_id": zxl.lead_id}, headers=token("shd.discipline")
        )
        none = await http.post(
            path, json={**body, "lead_id": new_lead_id()}, headers=token("shd.discipline")
        )
        as_if_none(theirs, none)
    assert await guard_events(streams, zxl.lead_id) == before

    # Each town's own: the town's committee on its lead, the county's on the other's.
    for user, lead_id in (("shd.discipline", shd.lead_id), ("county.discipline", zxl.lead_id)):
        for path, body in ((GUARDS, writes[GUARDS]), (OVERRIDES, writes[OVERRIDES])):
            done = await http.post(path, json={**body, "lead_id": lead_id}, headers=token(user))
            assert done.status_code == 202, (user, path, done.text)

    # The leak-risk report: each town's reader, their town's overrides; the county's, both.
    def leads_in(report: list[dict[str, object]]) -> set[object]:
        return {row["lead_id"] for row in report}

    for user in ("shd.discipline", "shd.auditor"):
        shown = await get(http, REPORT, user)
        assert leads_in(shown) == {shd.lead_id}, user
        assert {row["decision"] for row in shown} == {"approved"}
    assert leads_in(await get(http, REPORT, "zxl.discipline")) == {zxl.lead_id}
    assert leads_in(await get(http, REPORT, "nowhere.discipline")) == set()
    assert leads_in(await get(http, REPORT, "county.auditor")) >= {shd.lead_id, zxl.lead_id}


async def test_the_conflict_desk_shows_and_takes_the_members_town_alone(
    county: LedgerService,  # noqa: F811 - the fixture imported above
    committees: OversightService,  # noqa: F811 - the fixture imported above
    streams: JetStreamContext,
) -> None:
    http = committees.http
    shd, zxl = await asked_in_each_town(county, committees)
    for user, lead_id in (("shd.discipline", shd.lead_id), ("county.discipline", zxl.lead_id)):
        done = await http.post(
            GUARDS,
            json={"lead_id": lead_id, "account": ASKED, "reason": "accountability"},
            headers=token(user),
        )
        assert done.status_code == 202, done.text
    before = await guard_events(streams, zxl.lead_id)

    member = await person(streams, committees.app, "sun.shd", Role.DISCIPLINE, "shd-discipline")
    await sign_in_on_page(http, member)
    for path in ("/desk/conflict", "/desk/leak-risk"):
        page = await http.get(path)
        assert page.status_code == 200, (path, page.text)
        assert shd.lead_id in page.text, path
        assert zxl.lead_id not in page.text, path

    # A guard typed on the desk for the other town's lead: no such lead, nothing recorded.
    page = await http.get("/desk/conflict")
    posted = await http.post(
        "/desk/conflict/guards",
        data={
            "csrf_token": csrf_token_of(page),
            "lead_id": zxl.lead_id,
            "account": "wang.other",
            "reason": "umbrella",
        },
    )
    assert posted.status_code == 404, posted.text
    assert "没有该线索" in posted.text
    assert await guard_events(streams, zxl.lead_id) == before

    # The county's member on the desk sees both towns' guards and requests.
    inspector = await person(streams, committees.app, "li.county", Role.DISCIPLINE, "county")
    await sign_in_on_page(http, inspector)
    page = await http.get("/desk/conflict")
    assert shd.lead_id in page.text
    assert zxl.lead_id in page.text
