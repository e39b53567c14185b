"""The conflict-of-interest rule (ledger.domain.conflict), on its own."""

from __future__ import annotations

from common.events.conflict import (
    ConflictGuardLifted,
    ConflictGuardSet,
    ConflictOverrideApproved,
    ConflictOverrideRefused,
)
from ledger.domain.conflict import LeadTexts, Target, approved_of, guards_of, refusals


def texts(summary: str = "村霸强占集体土地", details: str = "", *additions: str) -> LeadTexts:
    return LeadTexts(summary, details, additions, "shd-v01", {"shd-v01": "大王庄村"})


def codes(lead: LeadTexts, target: Target, guards: dict[str, str] | None = None) -> list[str]:
    return [g.code for g in refusals("lead-1", lead, target, guards or {})]


CHEN = Target(user="chen.police", display_name="陈建国")


def test_a_whole_name_is_matched_in_every_text_spacing_ignored() -> None:
    assert codes(texts(details="陈建国收了好处"), CHEN) == ["named"]
    assert codes(texts(details="陈 建国 收了好处"), CHEN) == ["named"]
    assert codes(texts("", "", "补充：陈·建国也在场"), CHEN) == ["named"]
    # Part of the name is not the name.
    assert codes(texts(details="陈某收了好处，建设局有人参与"), CHEN) == []


def test_one_character_names_match_nothing_and_latin_names_match_words() -> None:
    assert codes(texts(details="王说了算"), Target("w", "王")) == []
    lee = Target("lee.police", "Lee")
    assert codes(texts(details="Lee took money"), lee) == ["named"]
    assert codes(texts(details="asleep on duty"), lee) == []
    assert codes(texts(details="lee.police 通风报信"), lee) == ["named"]


def test_an_alias_a_tie_and_a_recusal_refuse() -> None:
    target = Target(
        "li.police",
        "李四",
        aliases=("李小四",),
        ties=(("business", "鑫源砂石厂"), ("village", "shd-v09")),
        recused_from=frozenset({"lead-1"}),
    )
    assert codes(texts(details="李小四和鑫源砂石厂"), target) == ["named", "tie", "recused"]
    # The lead's village by its code, or by its name in the texts.
    assert codes(texts(), Target("a.b", "某某", ties=(("village", "shd-v01"),))) == ["tie"]
    named_village = LeadTexts("大王庄村有人赌博", "", (), None, {"shd-v01": "大王庄村"})
    assert codes(named_village, Target("a.b", "某某", ties=(("village", "shd-v01"),))) == ["tie"]


def test_the_committee_s_guards_and_overrides_follow_their_last_word() -> None:
    set_ = ConflictGuardSet(lead_id="lead-1", account="a.b", reason="umbrella")
    lifted = ConflictGuardLifted(lead_id="lead-1", account="a.b")
    assert guards_of([set_]) == {"a.b": "umbrella"}
    assert guards_of([set_, lifted]) == {}
    found = refusals("lead-1", texts(), Target("a.b", "某某"), {"a.b": "umbrella"})
    assert [g.code for g in found] == ["guard"]
    assert "保护伞" in found[0].zh
    yes = ConflictOverrideApproved(lead_id="lead-1", account="a.b")
    no = ConflictOverrideRefused(lead_id="lead-1", account="a.b")
    assert approved_of([yes]) == {"a.b"}
    assert approved_of([yes, no]) == frozenset()


def test_the_reason_never_quotes_the_lead() -> None:
    [ground] = refusals("lead-1", texts(details="陈建国每次检查前都打电话"), CHEN, {})
    assert "检查" not in ground.zh + ground.en
    assert "陈建国" not in ground.zh + ground.en
