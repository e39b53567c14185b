"""Subject names, and the position a JetStream delivery's reply subject carries."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg

from common.pull import Position, position_of
from common.subjects import (
    OWNED_STREAMS,
    READ_STREAMS,
    Service,
    Stream,
    check_token,
    declared_streams,
    lead_filter,
    lead_subject,
    subject_matches,
)


def test_a_lead_event_is_stored_under_its_prefix_lead_and_type() -> None:
    assert lead_subject("ledger", "lead-1", "LeadRegistered") == "ledger.lead.lead-1.LeadRegistered"


def test_an_event_of_no_lead_is_stored_under_global() -> None:
    assert (
        lead_subject("audit.ledger", None, "LedgerExported") == "audit.ledger.global.LedgerExported"
    )


def test_a_lead_filter_matches_every_event_of_that_lead() -> None:
    assert lead_filter("intake", "lead_2") == "intake.lead.lead_2.>"


@pytest.mark.parametrize(
    "value",
    ["a.b", "*", ">", "lead.>", "a b", "", "tab\there", "line\n", "x" * 65, "引线"],
    ids=repr,
)
def test_a_token_that_would_change_a_subjects_meaning_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="subject token"):
        check_token(value)


def test_a_token_of_letters_digits_dashes_and_underscores_is_accepted() -> None:
    assert check_token("Lead_01-x") == "Lead_01-x"


@pytest.mark.parametrize("lead_id", ["a.b", "*", "x y", ""], ids=repr)
def test_a_lead_subject_refuses_a_lead_id_that_is_not_a_single_token(lead_id: str) -> None:
    with pytest.raises(ValueError, match="lead id"):
        lead_subject("ledger", lead_id, "LeadRegistered")
    with pytest.raises(ValueError, match="lead id"):
        lead_filter("ledger", lead_id)


@pytest.mark.parametrize(
    ("subject", "pattern", "matches"),
    [
        ("oversight.lead.L1.CaseOpened", "oversight.>", True),
        ("oversight", "oversight.>", False),
        ("ledger.lead.L1.CaseOpened", "oversight.>", False),
        ("intake.lead.L1.LeadReported", "intake.lead.*.LeadReported", True),
        ("intake.lead.L1.x.LeadReported", "intake.lead.*.LeadReported", False),
        ("intake.lead.L1", "intake.lead.*.LeadReported", False),
        ("audit.oversight.lead.L1.LeadViewed", ">", True),
        ("dlq.intake.c", "dlq.intake.c", True),
    ],
)
def test_a_subject_matches_a_pattern_token_by_token(
    subject: str, pattern: str, matches: bool
) -> None:
    assert subject_matches(subject, pattern) is matches


def test_intake_and_ledger_do_not_declare_the_audit_stream_they_may_not_read() -> None:
    assert declared_streams(Service.INTAKE) == (
        Stream.INTAKE,
        Stream.DLQ_INTAKE,
        Stream.SESSIONS,
        Stream.ACCOUNTS,
    )
    assert declared_streams(Service.LEDGER) == (
        Stream.LEDGER,
        Stream.DLQ_LEDGER,
        Stream.SESSIONS,
        Stream.ACCOUNTS,
    )
    assert Stream.AUDIT in declared_streams(Service.OVERSIGHT)
    assert declared_streams(Service.LEADCTL) == ()


def test_no_service_may_write_an_account_only_record_sign_ins() -> None:
    # A service taken over must not be able to give anyone a role.
    for service in (Service.INTAKE, Service.LEDGER, Service.OVERSIGHT, Service.LEADCTL):
        assert Stream.ACCOUNTS not in OWNED_STREAMS[service]
    for service in (Service.INTAKE, Service.LEDGER, Service.OVERSIGHT):
        assert Stream.SESSIONS in OWNED_STREAMS[service]
        assert {Stream.ACCOUNTS, Stream.SESSIONS} <= set(READ_STREAMS[service])


def test_only_oversight_and_the_operator_read_the_audit_stream() -> None:
    readers = {service for service, streams in READ_STREAMS.items() if Stream.AUDIT in streams}
    assert readers == {Service.OVERSIGHT, Service.LEADCTL}


def _delivery(reply: str) -> Msg:
    return Msg(_client=None, subject="intake.lead.l1.LeadReported", reply=reply)  # type: ignore[arg-type]


EXPECTED = Position(stream_sequence=17, delivered=3, pending=4, timestamp_ns=1795819255876473443)


def test_the_position_is_read_from_a_classic_nine_token_reply_subject() -> None:
    msg = _delivery("$JS.ACK.INTAKE.d1.3.17.9.1795819255876473443.4")
    assert position_of(msg) == EXPECTED


def test_the_position_is_read_from_a_reply_subject_with_domain_and_account_hash() -> None:
    # $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
    msg = _delivery("$JS.ACK.hub.ACCHASH1.INTAKE.d1.3.17.9.1795819255876473443.4")
    assert position_of(msg) == EXPECTED


def test_the_position_is_read_from_a_twelve_token_reply_subject_ending_in_a_random_token() -> None:
    # The v2 form nats-py documents (nats/aio/msg.py, _V2_TOKEN_COUNT = 12):
    # $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>
    #   .<pending>.<random token>
    msg = _delivery("$JS.ACK.hub.ACCHASH1.INTAKE.d1.3.17.9.1795819255876473443.4.kT9xQ2")
    assert position_of(msg) == EXPECTED


def test_a_reply_subject_that_is_not_a_jetstream_delivery_is_refused() -> None:
    with pytest.raises(ValueError, match="not a JetStream delivery"):
        position_of(_delivery("_INBOX_intake.abc"))


def test_a_message_without_a_reply_subject_is_refused() -> None:
    with pytest.raises(ValueError, match="not a JetStream delivery"):
        position_of(_delivery(""))
