"""Every supervision (督办), by an automatic rule or by a member on a case, is on the
committee's list and reaches the unit holding the lead as a directive (SupervisionNoticed on
DIRECTIVES): once, however often the rules run again, whether its first append was lost or
acknowledged too late, and with nothing of the case in it. A lead no unit holds yet is
supervised all the same, and its unit told once the lead is filed.

The leads' ledger histories are scripted on LEDGER, with the times the test chooses. The
rules run when the test runs them: their own round runs once as the service starts, then an
hour later. Each test runs on SQLite, then on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from common.events import Event, utc_now
from common.events.catalogue import (
    CaseOpened,
    DuplicateSuspected,
    LeadReported,
    ResponsibilityAssigned,
    SupervisionOpened,
)
from common.subjects import Stream
from common.vocabulary import Flag
from oversight.application.supervision import tell_holder
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import parse, token
from tests.support.oversight import (
    CLERK_ACTOR,
    DISCIPLINE,
    OFFICE,
    POLICE,
    POLICE_ACTOR,
    OversightService,
    case_of,
    decided,
    failing_notices,
    handed_over,
    intake_log,
    notices_on,
    oversight_caught_up,
    oversight_settings,
    record,
    registered,
    report,
    serving_oversight,
    supervisions,
    supervisions_of,
)
from tests.support.streams import events_on, raw_on

pytestmark = pytest.mark.integration

# What every event carries; anything else in a stored event is the event's own content.
ENVELOPE = frozenset(Event.model_fields)


@pytest.fixture
async def oversight_by_hand(
    streams: JetStreamContext, nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> AsyncIterator[OversightService]:
    """Oversight on SQLite, then on PostgreSQL, its rules' own rounds an hour apart: the
    test runs the rounds itself (the service's first round, as it starts, may still be
    under way: when a rule has fired, either round may have fired it)."""
    settings = oversight_settings(nats_target, database_url, tmp_path, rules_check_seconds=3600)
    async with serving_oversight(settings) as running:
        yield running


async def overdue_with_the_police(js: JetStreamContext, number: int = 7) -> LeadReported:
    """A lead without a case, filed three days ago, handed to the police, whose deadline
    passed yesterday."""
    now = utc_now()
    lead = await report(js, at=now - timedelta(days=3, hours=1))
    await record(
        js,
        registered(lead, now - timedelta(days=3), number=number),
        handed_over(lead, now - timedelta(days=2, hours=23)),
        ResponsibilityAssigned(
            lead_id=lead.lead_id,
            unit=POLICE,
            assignee="police",
            assignee_name="王警官",
            deadline=now - timedelta(days=1),
            occurred_at=now - timedelta(days=2),
            actor=POLICE_ACTOR,
        ),
    )
    return lead


async def supervision_on(js: JetStreamContext, lead_id: str) -> SupervisionOpened:
    [opened] = await events_on(js, Stream.OVERSIGHT, f"oversight.lead.{lead_id}.SupervisionOpened")
    assert isinstance(opened, SupervisionOpened)
    return opened


async def test_an_overdue_lead_without_a_case_is_supervised_listed_and_its_unit_told_once(
    streams: JetStreamContext,
    oversight_by_hand: OversightService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    js, service = streams, oversight_by_hand
    ox, http = service.oversight, service.http
    # The notice cannot be appended when the rule fires: the supervision stands, the notice
    # is owed.
    failing = failing_notices(monkeypatch, stored=False, times=1_000_000)
    lead = await overdue_with_the_police(js)
    await oversight_caught_up(js)
    await ox.apply_rules()
    opened = await supervision_on(js, lead.lead_id)
    assert (opened.rule, opened.case_id) == ("overdue", None)
    await wait_until(lambda: failing.failed >= 1)
    assert await notices_on(js, lead.lead_id) == []
    await oversight_caught_up(js)
    [listed] = await supervisions_of(http, lead.lead_id)
    assert {k: v for k, v in listed.items() if k not in ("supervision_id", "at")} == {
        "lead_id": lead.lead_id,
        "ledger_number": registered(lead, utc_now(), number=7).ledger_number,
        "case_id": None,
        "rule": "overdue",
        "rule_label": "逾期未办结",
        "rule_label_en": "deadline passed",
        "reason": "deadline passed more than 0 days ago",
        "unit": POLICE,
        "noticed_unit": None,
        "noticed_at": None,
    }
    assert listed["supervision_id"] == opened.event_id
    assert parse(listed["at"]) == opened.occurred_at

    # The log answers again: the next round opens nothing and sends what is owed, and the
    # rounds after it send nothing.
    failing.times = 0
    for _ in range(4):
        assert await ox.apply_rules() == 0
    await oversight_caught_up(js)
    [notice] = await notices_on(js, lead.lead_id)
    assert (notice.unit, notice.rule, notice.reason) == (
        POLICE,
        "overdue",
        "deadline passed more than 0 days ago",
    )
    assert notice.causation_id == opened.event_id
    [listed] = await supervisions_of(http, lead.lead_id)
    assert listed["noticed_unit"] == POLICE
    assert parse(listed["noticed_at"]) == notice.occurred_at
    assert await supervision_on(js, lead.lead_id) == opened


async def test_a_notice_stored_without_an_acknowledgement_is_not_sent_again(
    streams: JetStreamContext,
    oversight_by_hand: OversightService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    js, service = streams, oversight_by_hand
    ox = service.oversight
    failing = failing_notices(monkeypatch, stored=True)
    lead = await overdue_with_the_police(js)
    await oversight_caught_up(js)
    await ox.apply_rules()
    await wait_until(lambda: failing.failed == 1)
    assert len(await notices_on(js, lead.lead_id)) == 1

    # Retried at once (before oversight has read its own directive back), redelivered, and
    # decided again by the next rounds: still one notice.
    opened = await supervision_on(js, lead.lead_id)
    assert await ox.send_owed_notices() == 0
    assert await tell_holder(ox, opened) is None
    for _ in range(3):
        assert await ox.apply_rules() == 0
    await oversight_caught_up(js)
    [notice] = await notices_on(js, lead.lead_id)
    assert (notice.unit, notice.causation_id) == (POLICE, opened.event_id)


async def test_a_lead_no_unit_holds_yet_is_supervised_and_its_unit_told_once_it_is_filed(
    streams: JetStreamContext, oversight_by_hand: OversightService
) -> None:
    js, service = streams, oversight_by_hand
    ox, http = service.oversight, service.http
    now = utc_now()
    first = await report(js, at=now - timedelta(hours=2), summary="砂石厂夜间盗采河砂")
    second = await report(js, at=now - timedelta(hours=1), summary="河道里有人偷挖沙子")
    await intake_log(js).append(
        DuplicateSuspected(
            lead_id=second.lead_id,
            duplicate_of=first.lead_id,
            basis="同一地点、同一行为",
            actor=CLERK_ACTOR,
        )
    )
    await oversight_caught_up(js)

    await ox.apply_rules()
    assert (await supervision_on(js, first.lead_id)).rule == "same_matter"
    await oversight_caught_up(js)
    [listed] = await supervisions_of(http, first.lead_id)
    assert (listed["rule"], listed["unit"], listed["ledger_number"], listed["noticed_unit"]) == (
        "same_matter",
        None,
        None,
        None,
    )
    assert await notices_on(js) == []

    await record(js, registered(first, now - timedelta(minutes=30), number=3))
    await oversight_caught_up(js)
    for _ in range(3):
        assert await ox.apply_rules() == 0
    await oversight_caught_up(js)
    [notice] = await notices_on(js)
    assert (notice.lead_id, notice.unit, notice.rule) == (first.lead_id, OFFICE, "same_matter")
    [listed] = await supervisions_of(http, first.lead_id)
    assert (listed["unit"], listed["ledger_number"], listed["noticed_unit"]) == (
        OFFICE,
        f"SHD-{(now - timedelta(minutes=30)).year}-000003",
        OFFICE,
    )


async def test_a_supervision_by_hand_reaches_the_unit_once_and_says_nothing_of_the_case(
    streams: JetStreamContext,
    oversight_by_hand: OversightService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    js, service = streams, oversight_by_hand
    ox, http = service.oversight, service.http
    now = utc_now()
    lead = await report(
        js,
        flags=(Flag.INVOLVES_OFFICIAL,),
        summary="村主任挪用征地补偿款",
        at=now - timedelta(days=1),
    )
    await record(
        js,
        registered(lead, now - timedelta(hours=20)),
        handed_over(lead, now - timedelta(hours=19)),
    )
    case = await case_of(http, lead.lead_id)
    await oversight_caught_up(js)
    case_path = f"/v1/oversight/cases/{case['case_id']}"
    private = {"person": "赵主任", "accountability": "对挪用补偿款负有领导责任"}
    await decided(
        http,
        f"{case_path}/accountability",
        {
            "person": private["person"],
            "unit": POLICE,
            "kind": "accountability",
            "form": 2,
            "reason": private["accountability"],
        },
    )

    done = await decided(http, f"{case_path}/supervise", {"reason": "请于五日内核实并报告进展"})
    [notice] = await notices_on(js, lead.lead_id)
    assert (notice.unit, notice.rule, notice.reason, notice.causation_id) == (
        POLICE,
        None,
        "请于五日内核实并报告进展",
        done["event_id"],
    )

    # The attack: the unit reading its directive learns it is supervised and why; not that
    # there is a case, its id, on what basis, or who is held accountable.
    [opened_case] = await events_on(
        js, Stream.OVERSIGHT, f"oversight.lead.{lead.lead_id}.CaseOpened"
    )
    assert isinstance(opened_case, CaseOpened)
    [raw] = await raw_on(js, Stream.DIRECTIVES, f"directive.lead.{lead.lead_id}.SupervisionNoticed")
    body = json.loads(raw.data or b"")
    assert set(body) - ENVELOPE == {"unit", "reason", "rule"}
    assert body["actor"] == {"role": "discipline", "unit": DISCIPLINE, "user": None}
    wire = (raw.data or b"").decode()
    for secret in (case["case_id"], opened_case.event_id, opened_case.basis, *private.values()):
        assert secret not in wire, secret

    # A second supervision whose notice cannot be appended is still decided (200, never to
    # be decided twice); the next round tells the unit, and no round tells it again.
    failing = failing_notices(monkeypatch, stored=False)
    again = await decided(http, f"{case_path}/supervise", {"reason": "逾期未报告，再次督办"})
    assert failing.failed == 1
    assert len(await notices_on(js, lead.lead_id)) == 1
    for _ in range(3):
        assert await ox.apply_rules() == 0
    await oversight_caught_up(js)
    notices = await notices_on(js, lead.lead_id)
    assert [(n.causation_id, n.reason) for n in notices] == [
        (done["event_id"], "请于五日内核实并报告进展"),
        (again["event_id"], "逾期未报告，再次督办"),
    ]
    listed = await supervisions_of(http, lead.lead_id)
    assert [(s["supervision_id"], s["case_id"], s["rule"], s["rule_label"]) for s in listed] == [
        (again["event_id"], case["case_id"], None, "人工督办"),
        (done["event_id"], case["case_id"], None, "人工督办"),
    ]
    assert {s["noticed_unit"] for s in listed} == {POLICE}


async def test_the_list_filters_by_rule_unit_and_time_pages_and_refuses_what_it_cannot_take(
    streams: JetStreamContext, oversight_by_hand: OversightService
) -> None:
    js, service = streams, oversight_by_hand
    ox, http = service.oversight, service.http
    overdue = await overdue_with_the_police(js, number=1)
    await oversight_caught_up(js)
    await ox.apply_rules()
    await supervision_on(js, overdue.lead_id)

    kept = await report(js, flags=(Flag.INVOLVES_OFFICIAL,), summary="村会计虚报冒领低保金")
    await record(js, registered(kept, utc_now(), number=2))
    case = await case_of(http, kept.lead_id)
    await oversight_caught_up(js)
    by_hand = await decided(
        http, f"/v1/oversight/cases/{case['case_id']}/supervise", {"reason": "督促尽快核查"}
    )
    await oversight_caught_up(js)

    def leads(page: dict[str, object]) -> list[tuple[object, ...]]:
        items = page["items"]
        assert isinstance(items, list)
        return [(s["lead_id"], s["rule"], s["unit"]) for s in items]

    everything = await supervisions(http)
    assert everything["total"] == 2
    assert leads(everything) == [
        (kept.lead_id, None, OFFICE),
        (overdue.lead_id, "overdue", POLICE),
    ]
    assert leads(await supervisions(http, rule="overdue")) == [(overdue.lead_id, "overdue", POLICE)]
    assert leads(await supervisions(http, rule="manual")) == [(kept.lead_id, None, OFFICE)]
    assert leads(await supervisions(http, rule="open_too_long")) == []
    assert leads(await supervisions(http, unit=POLICE)) == [(overdue.lead_id, "overdue", POLICE)]
    newest: datetime = parse(everything["items"][0]["at"])
    assert leads(await supervisions(http, since=newest.isoformat())) == [
        (kept.lead_id, None, OFFICE)
    ]
    second = await supervisions(http, page=2, page_size=1)
    assert (second["total"], second["page"], second["page_size"]) == (2, 2, 1)
    assert leads(second) == [(overdue.lead_id, "overdue", POLICE)]
    assert (await supervisions(http, user="auditor"))["total"] == 2
    assert everything["items"][0]["supervision_id"] == by_hand["event_id"]

    async def refused(field: str, **query: object) -> None:
        response = await http.get(
            "/v1/oversight/supervisions", params=query, headers=token("discipline")
        )
        assert response.status_code == 422, response.text
        assert [p["field"] for p in response.json()["detail"]] == [field], response.text

    await refused("rule", rule="deadline")
    await refused("unit", unit="nowhere")
    await refused("since", since="2026-03-01T10:00:00")  # a time without its zone
    await refused("page_size", page_size=501)
    await refused("page", page=0)
    for user in ("police", "office", "clerk"):
        response = await http.get("/v1/oversight/supervisions", headers=token(user))
        assert response.status_code == 403, user
    assert (await http.get("/v1/oversight/supervisions")).status_code == 401
