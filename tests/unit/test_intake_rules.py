"""Intake's rules, as given events -> decision -> event or refusal: a lead folded from its
own events, what the reporter and staff add to it, a named reporter's identity disclosed or
shredded (only while it is still held), and whether two reports tell the same matter."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.events import Actor, Event
from common.events.catalogue import Attachment, IdentityDisclosed, LeadSupplemented
from intake.domain import lead as rules
from intake.domain.matters import shingles, similarity
from tests.unit.rules_support import CLERK, CUSTODIAN, LEAD, reported, shredded

Decision = Callable[[rules.IntakeLead, str, Actor], Event]
PHOTO = (Attachment(name="鱼塘.jpg", size=2048, sha256="cd" * 32),)


def lead_of(*events: Event) -> rules.IntakeLead:
    return rules.fold(events)


# --- the lead folded from its events ------------------------------------------------------


def test_a_lead_that_was_never_reported_here_is_not_found() -> None:
    with pytest.raises(rules.LeadNotFound):
        rules.fold([shredded()])


def test_a_named_report_holds_the_sealed_identity() -> None:
    lead = lead_of(reported(named=True))
    assert lead.named
    assert lead.ciphertext == "v1.c2VhbGVk"
    assert not lead.shredded


def test_an_anonymous_report_holds_no_identity() -> None:
    lead = lead_of(reported(named=False))
    assert (lead.named, lead.ciphertext) == (False, None)


def test_a_shredding_is_remembered_and_other_events_change_nothing() -> None:
    supplement = LeadSupplemented(lead_id=LEAD, text="晚上有人看守", actor=CLERK)
    lead = lead_of(reported(named=True), supplement, shredded(), supplement)
    assert lead.shredded
    assert lead_of(reported(named=True), supplement).shredded is False


# --- what is added to a lead -------------------------------------------------------------


def test_a_supplement_carries_its_text_and_files_in_the_reports_correlation() -> None:
    report = reported()
    event = rules.supplement(lead_of(report), "晚上有人看守", PHOTO, CLERK)
    assert (event.lead_id, event.text, event.attachments) == (LEAD, "晚上有人看守", PHOTO)
    assert (event.correlation_id, event.causation_id) == (report.event_id, report.event_id)


def test_a_reporter_may_still_add_information_after_the_identity_was_shredded() -> None:
    lead = lead_of(reported(named=True), shredded())
    assert rules.supplement(lead, "补充", (), CLERK).text == "补充"


def test_a_message_to_the_office_carries_its_text() -> None:
    report = reported()
    event = rules.post_message(lead_of(report), "请问处理进度？", CLERK)
    assert (event.lead_id, event.text, event.causation_id) == (
        LEAD,
        "请问处理进度？",
        report.event_id,
    )


# --- a named reporter's identity ---------------------------------------------------------


def test_a_custodian_discloses_a_named_identity_with_a_reason() -> None:
    report = reported(named=True)
    event = rules.disclose(lead_of(report), "依法调查需要", CUSTODIAN)
    assert (event.lead_id, event.reason, event.actor) == (LEAD, "依法调查需要", CUSTODIAN)
    assert event.causation_id == report.event_id


def test_a_disclosed_identity_is_still_held_and_can_be_shredded() -> None:
    disclosed = IdentityDisclosed(lead_id=LEAD, reason="依法调查需要", actor=CUSTODIAN)
    lead = lead_of(reported(named=True), disclosed)
    event = rules.shred(lead, "举报人申请", CUSTODIAN)
    assert (event.lead_id, event.reason) == (LEAD, "举报人申请")


@pytest.mark.parametrize("decide", [rules.disclose, rules.shred], ids=["disclose", "shred"])
def test_an_anonymous_report_has_no_identity_to_disclose_or_shred(decide: Decision) -> None:
    with pytest.raises(rules.NotNamed):
        decide(lead_of(reported(named=False)), "依法调查需要", CUSTODIAN)


@pytest.mark.parametrize("decide", [rules.disclose, rules.shred], ids=["disclose", "shred"])
def test_a_shredded_identity_is_neither_disclosed_nor_shredded_again(decide: Decision) -> None:
    lead = lead_of(reported(named=True), shredded())
    with pytest.raises(rules.IdentityAlreadyShredded):
        decide(lead, "依法调查需要", CUSTODIAN)


# --- the same matter? --------------------------------------------------------------------


def test_a_text_is_cut_into_its_character_pairs() -> None:
    assert shingles("村霸强占鱼塘") == {"村霸", "霸强", "强占", "占鱼", "鱼塘"}


@pytest.mark.parametrize(
    "retold",
    ["村霸，强占鱼塘。", "村霸 强占\n鱼塘！", "“村霸”强占（鱼塘）", "村霸、强占鱼塘…"],
)
def test_punctuation_and_spacing_do_not_count(retold: str) -> None:
    assert shingles(retold) == shingles("村霸强占鱼塘")


def test_width_and_case_do_not_count() -> None:
    assert shingles("ＫＴＶ包厢") == shingles("ktv包厢")


@pytest.mark.parametrize(("text", "pairs"), [("霸", {"霸"}), ("", set()), ("，。！ ", set())])
def test_a_text_too_short_for_a_pair_is_its_one_character_or_nothing(
    text: str, pairs: set[str]
) -> None:
    assert shingles(text) == pairs


def test_the_same_wording_is_wholly_alike_and_other_wording_not_at_all() -> None:
    pond = shingles("村霸强占鱼塘")
    assert similarity(pond, shingles("村霸，强占鱼塘！")) == 1.0
    assert similarity(pond, shingles("赌场设在旧厂房")) == 0.0


def test_similarity_is_the_share_of_pairs_in_common() -> None:
    # {村霸, 霸强, 强占, 占鱼, 鱼塘} and {村霸, 霸强, 强占, 占山}: 3 shared of 6.
    assert similarity(shingles("村霸强占鱼塘"), shingles("村霸强占山")) == 0.5


@pytest.mark.parametrize("other", ["村霸强占鱼塘", ""])
def test_nothing_is_alike_to_an_empty_text(other: str) -> None:
    assert similarity(shingles(""), shingles(other)) == 0.0


FAST = settings(max_examples=80, derandomize=True, database=None, deadline=None)
TEXTS = st.text(alphabet="村霸强占鱼塘赌场，。 abcＡＢ!?", max_size=20)


@FAST
@given(TEXTS, TEXTS)
def test_similarity_is_a_symmetric_share(a: str, b: str) -> None:
    left, right = shingles(a), shingles(b)
    score = similarity(left, right)
    assert 0.0 <= score <= 1.0
    assert score == similarity(right, left)
    assert similarity(left, left) == (1.0 if left else 0.0)


@FAST
@given(TEXTS)
def test_punctuation_added_anywhere_changes_nothing(text: str) -> None:
    spaced = "，".join(text)
    assert shingles(spaced) == shingles(text)
