"""Which leads are the discipline committee's: one predicate, and the decision the ledger
recorded on a registration read back the same from old and new events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import pytest

from common.events import BY_TYPE, EVENT_CLASSES, Event, decode
from common.events.catalogue import LeadRegistered
from common.events.envelope import EVENT_REGISTRY
from common.routing import CommitteeRule, is_umbrella
from common.vocabulary import Category, Flag


def test_a_flag_or_a_category_of_the_rule_makes_a_lead_the_committees() -> None:
    rule = CommitteeRule()
    assert rule.takes([Flag.INVOLVES_OFFICIAL], Category.PETITION)
    assert rule.takes([], Category.DUTY_CRIME)
    assert rule.takes([Flag.KEY_PERSON_OR_PLACE], Category.PROTECTIVE_UMBRELLA)
    assert not rule.takes([Flag.KEY_PERSON_OR_PLACE], Category.VILLAGE_TYRANT)


def test_a_town_may_route_fewer_or_more_leads() -> None:
    flagged_only = CommitteeRule(categories=frozenset())
    assert not flagged_only.takes([], Category.DUTY_CRIME)
    assert flagged_only.takes([Flag.PROTECTIVE_UMBRELLA], Category.OTHER)
    wider = CommitteeRule(categories=frozenset({Category.VILLAGE_TYRANT}))
    assert wider.takes([], Category.VILLAGE_TYRANT)


def test_an_umbrella_is_said_by_its_flag_or_its_category() -> None:
    assert is_umbrella([Flag.PROTECTIVE_UMBRELLA], Category.OTHER)
    assert is_umbrella([], Category.PROTECTIVE_UMBRELLA)
    assert not is_umbrella([Flag.INVOLVES_OFFICIAL], Category.DUTY_CRIME)


def _v1_registration(**changes: Any) -> bytes:
    raw: dict[str, Any] = {
        "event_type": "LeadRegistered",
        "schema_version": 1,
        "event_id": "e1",
        "lead_id": "L1",
        "occurred_at": "2026-03-01T02:00:00Z",
        "ledger_number": "SHD-2026-000001",
        "unit": "shd-office",
        "reported_at": "2026-03-01T01:00:00Z",
        "channel": "hotline",
        "category": "village_tyrant",
        "summary": "村霸强占土地",
        "village": "shd-v01",
        "flags": [],
        **changes,
    }
    return orjson.dumps(raw)


@pytest.mark.parametrize(
    ("changes", "routed"),
    [
        ({}, False),
        ({"flags": ["involves_official"]}, True),
        ({"category": "duty_crime"}, True),
        ({"flags": ["protective_umbrella"], "category": "other"}, True),
    ],
)
def test_a_registration_written_before_routing_was_recorded_reads_as_the_rule_decided(
    changes: dict[str, Any], routed: bool
) -> None:
    # Readers hid such leads from screeners by the default rule: the upcast says the same.
    event = decode(_v1_registration(**changes), "LeadRegistered")
    assert isinstance(event, LeadRegistered)
    assert event.schema_version == 2
    assert event.for_committee is routed


def test_a_registration_always_says_whether_the_lead_went_to_the_committee() -> None:
    # No default: a writer that forgot to decide must not make a lead visible to a village.
    with pytest.raises(ValueError, match="for_committee"):
        LeadRegistered(
            lead_id="L1",
            ledger_number="SHD-2026-000001",
            unit="shd-office",
            reported_at=datetime(2026, 3, 1, tzinfo=UTC),
            channel="hotline",
            category="other",
            summary="s",
        )


def test_every_event_type_is_registered_by_its_class_alone() -> None:
    assert set(BY_TYPE) == {cls.type_name() for cls in EVENT_CLASSES}
    assert BY_TYPE["LeadRegistered"] is LeadRegistered
    # Bases without a type of their own are not events of the catalogue.
    assert all(name[0].isupper() and not name.startswith("_") for name in BY_TYPE)


def test_two_classes_cannot_claim_one_event_type() -> None:
    with pytest.raises(TypeError, match="defined twice"):

        class Impostor(Event):
            event_type: Literal["LeadRegistered"] = "LeadRegistered"

    assert EVENT_REGISTRY["LeadRegistered"] is LeadRegistered
