"""What a projection refuses to apply before any handler runs: an undecodable message, one
whose payload names another lead than its subject, and (counted, logged) a type no contract
defines."""

from __future__ import annotations

from structlog.testing import capture_logs

from common.events import encode
from common.projection import UNKNOWN_EVENTS, Item, decode_batch
from tests.support.factories import new_lead_id, reported
from tests.support.projections import recording_projection

PROJECTION = recording_projection("decode-batch")


def subject(lead_id: str, event_type: str = "LeadReported") -> str:
    return f"intake.lead.{lead_id}.{event_type}"


def test_an_event_filed_under_another_leads_subject_is_refused() -> None:
    event = reported()
    elsewhere = new_lead_id()
    items, failures = decode_batch(
        PROJECTION,
        [
            (1, subject(event.lead_id), encode(event), event.event_id),
            (2, subject(elsewhere), encode(event), event.event_id),
        ],
    )
    assert items == [Item(1, event), Item(2, None)]
    [(index, reason)] = failures
    assert index == 1
    assert elsewhere in reason
    assert event.lead_id in reason


def test_a_type_no_contract_defines_is_counted_and_logged_but_not_applied() -> None:
    before = UNKNOWN_EVENTS.labels(PROJECTION.name)._value.get()
    with capture_logs() as logs:
        items, failures = decode_batch(
            PROJECTION, [(7, subject(new_lead_id(), "NoSuchEvent"), b"\x00garbage", None)]
        )
    assert items == [Item(7, None)]
    assert failures == []
    assert UNKNOWN_EVENTS.labels(PROJECTION.name)._value.get() == before + 1
    assert [entry["event"] for entry in logs] == ["unknown_event_type_skipped"]


def test_a_known_type_the_projection_does_not_handle_is_passed_over_quietly() -> None:
    with capture_logs() as logs:
        items, failures = decode_batch(
            PROJECTION, [(3, subject(new_lead_id(), "IdentityShredded"), b"not decoded", None)]
        )
    assert (items, failures, logs) == ([Item(3, None)], [], [])


def test_an_event_no_append_stored_is_refused() -> None:
    event = reported()
    body = encode(event)
    items, failures = decode_batch(
        PROJECTION,
        [
            (1, subject(event.lead_id), body, None),  # no headers: a direct read's bare answer
            (2, subject(event.lead_id), body, "some-other-id"),
            (3, subject(event.lead_id), body, event.event_id),
        ],
    )
    assert items == [Item(1, None), Item(2, None), Item(3, event)]
    assert [index for index, _ in failures] == [0, 1]
    assert all("not stored by an append" in reason for _, reason in failures)
