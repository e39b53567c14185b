"""Oversight's automatic supervision rules (自动督办): a deadline passed, two reports of the same
matter, a lead open too long. Each opens supervision of the lead once, however often the
rules run, and not again after oversight restarts; none of it leaves the committee.

The leads' ledger histories are scripted on LEDGER, with the times the test chooses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from common.events import utc_now
from common.events.catalogue import (
    DuplicateSuspected,
    ResponsibilityAssigned,
    SupervisionOpened,
)
from common.subjects import Stream
from tests.conftest import NatsTarget, wait_until
from tests.support.oversight import (
    CLERK_ACTOR,
    OFFICE,
    OFFICE_ACTOR,
    intake_log,
    oversight_caught_up,
    oversight_settings,
    record,
    registered,
    report,
    serving_oversight,
)
from tests.support.streams import events_on, subjects_on

pytestmark = pytest.mark.integration


async def rules_fired(js: JetStreamContext) -> dict[str, list[str]]:
    """Each lead's automatic supervision on OVERSIGHT, by rule, as often as it is there."""
    fired: dict[str, list[str]] = {}
    for event in await events_on(js, Stream.OVERSIGHT, "oversight.lead.*.SupervisionOpened"):
        assert isinstance(event, SupervisionOpened)
        assert event.actor.user == "oversight-rules"
        fired.setdefault(event.lead_id, []).append(event.rule or "by hand")
    return {lead: sorted(rules) for lead, rules in fired.items()}


async def test_each_automatic_rule_opens_supervision_once_however_often_it_runs_and_not_after_a_restart(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    js = streams
    database_url = f"sqlite:///{tmp_path / 'oversight.db'}"
    settings = oversight_settings(nats_target, database_url, tmp_path, open_days=1)
    now = utc_now()
    async with serving_oversight(settings) as first:
        overdue = await report(js, at=now - timedelta(hours=3))
        await record(
            js,
            registered(overdue, now - timedelta(hours=2)),
            ResponsibilityAssigned(
                lead_id=overdue.lead_id,
                unit=OFFICE,
                assignee="office",
                assignee_name="张主任",
                deadline=now - timedelta(minutes=30),
                occurred_at=now - timedelta(hours=1),
                actor=OFFICE_ACTOR,
            ),
        )
        first_report = await report(js, at=now - timedelta(hours=2), summary="砂石厂夜间盗采河砂")
        second_report = await report(js, at=now - timedelta(hours=1), summary="河道里有人偷挖沙子")
        await intake_log(js).append(
            DuplicateSuspected(
                lead_id=second_report.lead_id,
                duplicate_of=first_report.lead_id,
                basis="同一地点、同一行为",
                actor=CLERK_ACTOR,
            )
        )
        filed_long_ago = await report(js, at=now - timedelta(days=2, hours=1))
        await record(js, registered(filed_long_ago, now - timedelta(days=2), number=2))

        expected = {
            overdue.lead_id: ["overdue"],
            first_report.lead_id: ["same_matter"],
            filed_long_ago.lead_id: ["open_too_long"],
        }

        async def all_fired() -> bool:
            return await rules_fired(js) == expected

        await wait_until(all_fired)
        for _ in range(3):
            assert await first.oversight.apply_rules() == 0
        await oversight_caught_up(js)
        assert await rules_fired(js) == expected
        [supervision] = await events_on(
            js, Stream.OVERSIGHT, f"oversight.lead.{overdue.lead_id}.SupervisionOpened"
        )
        assert isinstance(supervision, SupervisionOpened)
        assert supervision.case_id is None  # no case: the rule presses the handling unit alone
        assert supervision.reason == "deadline passed more than 0 days ago"

    async with serving_oversight(settings) as restarted:
        await oversight_caught_up(js)
        for _ in range(3):
            assert await restarted.oversight.apply_rules() == 0
        await oversight_caught_up(js)
    assert await rules_fired(js) == expected
    # Each filed lead's holding unit is told once; a lead not filed yet has no unit to tell.
    assert await subjects_on(js, Stream.DIRECTIVES) == {
        f"directive.lead.{overdue.lead_id}.SupervisionNoticed": 1,
        f"directive.lead.{filed_long_ago.lead_id}.SupervisionNoticed": 1,
    }
