"""The conflict-of-interest rule on a task or rectification item (ledger.domain.conflict):
the item's problem and measures and its village are what may name a person, and only the
committee's accountability and umbrella guards, on any lead, keep a person off items."""

from __future__ import annotations

from common.events.conflict import ConflictGuardLifted, ConflictGuardSet
from ledger.domain.conflict import Target, TaskTexts, guards_on_any_lead, task_refusals

VILLAGES = {"shd-v01": "沙河店村", "shd-v02": "前营村"}


def item(
    problem: str = "集体土地被违规占用", *measures: str, village: str | None = None
) -> TaskTexts:
    return TaskTexts(problem, measures or ("限期收回土地",), village, VILLAGES)


def codes(texts: TaskTexts, target: Target, guards: dict[str, str] | None = None) -> list[str]:
    return [g.code for g in task_refusals("task-1", texts, target, guards or {})]


TIED = Target("li.police", "李四", ties=(("village", "shd-v01"),))


def test_a_tie_to_the_village_the_finding_names_or_the_responsible_village_refuses() -> None:
    [ground] = task_refusals("task-1", item("沙河店村集体土地被违规占用"), TIED, {})
    assert ground.code == "tie"
    assert ground.zh == "责任人申报过与本事项涉及的村存在利害关系"
    assert ground.en == "the responsible person declared a tie to a village the item concerns"
    assert codes(item("整改不到位", "督促沙河店村收回土地"), TIED) == ["tie"]
    assert codes(item(village="shd-v01"), TIED) == ["tie"]
    # Another village, or none, is no tie.
    assert codes(item("前营村集体土地被违规占用", village="shd-v02"), TIED) == []


def test_a_name_in_the_problem_or_the_measures_refuses_and_says_where() -> None:
    chen = Target("chen.police", "陈建国", aliases=("陈老三",))
    [ground] = task_refusals("task-1", item("陈 建国 包庇赌场"), chen, {})
    assert (ground.code, ground.zh) == ("named", "事项的问题描述中出现责任人的姓名或别名")
    [ground] = task_refusals("task-1", item("赌场未取缔", "约谈陈老三"), chen, {})
    assert ground.zh == "事项的整改措施中出现责任人的姓名或别名"
    assert codes(item("陈某包庇赌场"), chen) == []


def test_only_case_guards_keep_a_person_off_items_and_a_recusal_from_the_item() -> None:
    plain = Target("a.b", "某某", recused_from=frozenset({"task-1"}))
    assert codes(item(), plain) == ["recused"]
    someone = Target("a.b", "某某")
    assert codes(item(), someone, {"a.b": "accountability"}) == ["guard"]
    [ground] = task_refusals("task-1", item(), someone, {"a.b": "umbrella"})
    assert ground.zh == "责任人是纪委保护伞案件的当事人"
    # An "other" guard speaks of its lead only.
    assert codes(item(), someone, {"a.b": "other"}) == []


def test_guards_on_any_lead_follow_each_lead_s_last_word() -> None:
    on_one = ConflictGuardSet(lead_id="lead-1", account="a.b", reason="accountability")
    on_two = ConflictGuardSet(lead_id="lead-2", account="a.b", reason="umbrella")
    other = ConflictGuardSet(lead_id="lead-3", account="c.d", reason="other")
    lifted_one = ConflictGuardLifted(lead_id="lead-1", account="a.b")
    lifted_two = ConflictGuardLifted(lead_id="lead-2", account="a.b")
    assert guards_on_any_lead([on_one, on_two, other]) == {"a.b": "umbrella"}
    # One lead's guard lifted leaves the other standing.
    assert guards_on_any_lead([on_one, on_two, lifted_two]) == {"a.b": "accountability"}
    assert guards_on_any_lead([on_one, on_two, lifted_one, lifted_two]) == {}
