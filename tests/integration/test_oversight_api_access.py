"""Who may use the discipline committee's API: the committee and the administrator read and
decide, the county's auditors only read, the handling units and the office see nothing, and
nobody gets anywhere without a token. Nothing refused is recorded."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from nats.js import JetStreamContext

from common.events import utc_now
from common.subjects import Stream
from common.vocabulary import Flag
from tests.support.apps import token
from tests.support.factories import new_lead_id
from tests.support.oversight import (
    POLICE,
    OversightService,
    case_of,
    decided,
    get,
    oversight_caught_up,
    record,
    registered,
    report,
)
from tests.support.streams import events_on, subjects_on

pytestmark = pytest.mark.integration


async def test_only_the_committee_and_the_administrator_decide_auditors_only_read_and_handling_units_see_nothing(
    streams: JetStreamContext, oversight: OversightService
) -> None:
    js, http = streams, oversight.http
    lead = await report(js, flags=(Flag.PROTECTIVE_UMBRELLA,), summary="镇干部为非法采砂充当保护伞")
    await record(js, registered(lead, utc_now()))
    case = await case_of(http, lead.lead_id)
    await oversight_caught_up(js)

    reads = (
        "/v1/oversight/cases",
        f"/v1/oversight/cases/{case['case_id']}",
        f"/v1/oversight/leads/{lead.lead_id}/responsibility-trace",
        "/v1/oversight/access-log",
        "/v1/oversight/leak-risk",
        "/v1/oversight/assessments",
        "/v1/oversight/assessments.xlsx",
    )
    in_a_month = (utc_now() + timedelta(days=30)).isoformat()
    decisions = (
        ("supervise", {"reason": "督促尽快核查"}),
        ("list-supervision", {"unit": POLICE, "deadline": in_a_month}),
        ("escalate", {"reason": "提级办理"}),
        ("link", {"gang_lead_id": new_lead_id()}),
        (
            "accountability",
            {
                "person": "某干部",
                "unit": POLICE,
                "kind": "public_criticism",
                "form": 1,
                "reason": "履职不力",
            },
        ),
        ("outcome", {"result": "substantiated"}),
    )

    async def statuses(user: str) -> Counter[int]:
        seen: Counter[int] = Counter()
        for path in reads:
            seen[(await http.get(path, headers=token(user))).status_code] += 1
        for decision, body in decisions:
            response = await http.post(
                f"/v1/oversight/cases/{case['case_id']}/{decision}", json=body, headers=token(user)
            )
            seen[response.status_code] += 1
        return seen

    everything = len(reads) + len(decisions)
    for user in ("clerk", "police", "office"):
        assert await statuses(user) == Counter({403: everything}), user
    assert await statuses("auditor") == Counter({200: len(reads), 403: len(decisions)})
    assert (await http.get("/v1/oversight/cases")).status_code == 401

    for user in ("discipline", "admin"):
        assert len(await get(http, "/v1/oversight/cases", user=user)) == 1
        done = await decided(
            http,
            f"/v1/oversight/cases/{case['case_id']}/supervise",
            {"reason": "督促尽快核查"},
            user,
        )
        assert done["event_type"] == "SupervisionOpened"

    # Nothing refused was recorded: the case and the two decisions that were allowed.
    assert await subjects_on(js, Stream.OVERSIGHT) == {
        f"oversight.lead.{lead.lead_id}.CaseOpened": 1,
        f"oversight.lead.{lead.lead_id}.SupervisionOpened": 2,
    }
    # Each allowed supervision is told to the unit holding the lead; nothing refused is.
    assert await subjects_on(js, Stream.DIRECTIVES) == {
        f"directive.lead.{lead.lead_id}.SupervisionNoticed": 2
    }
    deciders = [
        e.actor.user
        for e in await events_on(
            js, Stream.OVERSIGHT, f"oversight.lead.{lead.lead_id}.SupervisionOpened"
        )
    ]
    assert deciders == ["discipline", "admin"]
