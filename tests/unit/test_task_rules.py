"""The rules of a task or rectification item (ledger.domain.task): its state machine, who
may do what, and the bounds of what is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.errors import NotFound, NotPermitted, RuleViolation, Settled
from common.events import Actor, Event, Role
from common.events.catalogue import Attachment
from common.events.tasks import TaskSource
from ledger.domain import task as rules
from ledger.domain.task import Responsibility, Task, TaskStatus

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
CLERK = Actor(role=Role.CLERK, unit="shd-office", user="clerk")
POLICE = Actor(role=Role.POLICE, unit="shd-police", user="wang.police")
JUDICIAL = Actor(role=Role.JUDICIAL, unit="shd-judicial", user="judicial")
DISCIPLINE = Actor(role=Role.DISCIPLINE, unit="shd-discipline", user="discipline")
PROOF = Attachment(name="photo.jpg", size=10, sha256="b" * 64)
WHO = Responsibility("shd-police", "wang.police", "王警官", NOW + timedelta(days=30), "shd")


def opened(actor: Actor = OFFICE, **changes: Any) -> Task:
    given: dict[str, Any] = {
        "task_id": "t-1",
        "source": TaskSource.INSPECTION,
        "source_ref": "督导反馈",
        "problem": "  线索反馈不及时  ",
        "measures": ["逐条反馈", "  ", "建立台账"],
        "who": WHO,
        "list_id": None,
        "actor": actor,
        "now": NOW,
        **changes,
    }
    event = rules.open_task(**given)
    return rules.fold([event])


def then(task: Task, *events: Event) -> Task:
    for event in events:
        task = rules.evolve(task, event)
    return task


def test_an_item_is_opened_by_the_office_with_its_text_trimmed_and_blank_measures_dropped() -> None:
    task = opened()
    assert (task.status, task.problem, task.measures) == (
        "open",
        "线索反馈不及时",
        ("逐条反馈", "建立台账"),
    )
    assert opened(CLERK).unit == "shd-police"


@pytest.mark.parametrize("actor", [POLICE, DISCIPLINE, JUDICIAL])
def test_only_the_office_and_clerks_open_items(actor: Actor) -> None:
    with pytest.raises(NotPermitted):
        opened(actor)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"problem": "   "}, "problem"),
        ({"problem": "问" * 5001}, "problem"),
        ({"measures": [" "]}, "measures"),
        ({"measures": ["措施"] * 31}, "measures"),
        ({"measures": ["措" * 1001]}, "measures"),
        ({"source_ref": "文" * 201}, "source_ref"),
        ({"who": Responsibility("shd-police", "wang.police", "王", NOW, "shd")}, "deadline"),
        (
            {"who": Responsibility("shd-police", "wang.police", " ", WHO.deadline, "shd")},
            "assignee_name",
        ),
    ],
)
def test_what_an_item_records_is_bounded(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        opened(**changes)
    assert refused.value.field == field


def test_the_whole_life_open_progress_request_return_progress_request_close() -> None:
    task = opened()
    with pytest.raises(RuleViolation):
        rules.request_closure(task, "已整改", POLICE)  # no progress yet
    task = then(task, rules.report_progress(task, "复核12条", [PROOF], POLICE))
    assert (task.progress_count, task.latest_progress) == (1, "复核12条")
    task = then(task, rules.request_closure(task, "已整改", POLICE))
    assert task.status == TaskStatus.CLOSURE_REQUESTED
    with pytest.raises(RuleViolation):
        rules.report_progress(task, "还有", [], POLICE)
    with pytest.raises(RuleViolation):
        rules.request_closure(task, "再申请", POLICE)
    task = then(task, rules.return_task(task, "材料不全", CLERK))
    assert (task.status, task.return_reason) == (TaskStatus.RETURNED, "材料不全")
    with pytest.raises(RuleViolation):
        rules.request_closure(task, "已整改", POLICE)  # new progress needed after a return
    task = then(task, rules.report_progress(task, "补充", [PROOF], POLICE))
    assert task.status == TaskStatus.OPEN
    task = then(task, rules.request_closure(task, "已整改", POLICE))
    closing = rules.close(task, "同意销号", OFFICE)
    task = then(task, closing)
    assert (task.status, task.closed_at) == (TaskStatus.CLOSED, closing.occurred_at)
    assert not task.overdue(NOW + timedelta(days=365))


def test_a_closed_item_is_settled_for_everyone() -> None:
    task = opened()
    task = then(task, rules.report_progress(task, "完成", [PROOF], POLICE))
    task = then(task, rules.request_closure(task, "完成", POLICE))
    task = then(task, rules.close(task, "", OFFICE))
    for attempt in (
        lambda: rules.report_progress(task, "又做了", [], POLICE),
        lambda: rules.request_closure(task, "再申请", POLICE),
        lambda: rules.close(task, "", OFFICE),
        lambda: rules.return_task(task, "重新整改", OFFICE),
        lambda: rules.reassign(task, WHO, "调整", OFFICE, NOW),
    ):
        with pytest.raises(Settled):
            attempt()


def test_only_the_responsible_unit_reports_and_asks_and_only_the_office_decides() -> None:
    task = opened()
    for actor in (OFFICE, JUDICIAL, DISCIPLINE):
        with pytest.raises(NotPermitted):
            rules.report_progress(task, "代报", [], actor)
    task = then(task, rules.report_progress(task, "完成", [], POLICE))
    with pytest.raises(NotPermitted):
        rules.request_closure(task, "完成", OFFICE)
    task = then(task, rules.request_closure(task, "完成", POLICE))
    for actor in (POLICE, DISCIPLINE):
        with pytest.raises(NotPermitted):
            rules.close(task, "", actor)
        with pytest.raises(NotPermitted):
            rules.return_task(task, "理由", actor)


def test_the_office_decides_only_on_a_request() -> None:
    with pytest.raises(RuleViolation):
        rules.close(opened(), "", OFFICE)
    with pytest.raises(RuleViolation):
        rules.return_task(opened(), "理由", OFFICE)


def test_progress_is_bounded() -> None:
    task = opened()
    with pytest.raises(RuleViolation) as too_long:
        rules.report_progress(task, "进" * 5001, [], POLICE)
    assert too_long.value.field == "text"
    with pytest.raises(RuleViolation) as too_many:
        rules.report_progress(task, "进展", [PROOF] * 51, POLICE)
    assert too_many.value.field == "evidence"


def test_reassignment_moves_the_item_and_who_sees_it() -> None:
    task = opened()
    judicial = Responsibility("shd-judicial", "judicial", "司法所", NOW + timedelta(days=10), "shd")
    with pytest.raises(RuleViolation):
        rules.reassign(task, WHO, "不变", OFFICE, NOW)
    with pytest.raises(NotPermitted):
        rules.reassign(task, judicial, "调整", POLICE, NOW)
    task = then(task, rules.reassign(task, judicial, "职责调整", OFFICE, NOW))
    assert (task.unit, task.assignee, task.deadline) == (
        "shd-judicial",
        "judicial",
        judicial.deadline,
    )
    rules.report_progress(task, "已接手", [], JUDICIAL)
    with pytest.raises(NotPermitted):
        rules.report_progress(task, "还是我们", [], POLICE)


@pytest.mark.parametrize(
    ("role", "unit", "town", "sees"),
    [
        (Role.OFFICE, "shd-office", "shd", True),
        (Role.OFFICE, "zxl-office", "zxl", False),
        (Role.DISCIPLINE, "zxl-discipline", "zxl", False),
        (Role.CLERK, "shd-office", "shd", True),
        (Role.AUDITOR, "county", "shd", True),
        (Role.DISCIPLINE, "shd-discipline", "shd", True),
        (Role.OFFICE, "other-office", "other", False),
        (Role.POLICE, "shd-police", "shd", True),
        (Role.POLICE, "other-police", "shd", False),
        (Role.JUDICIAL, "shd-judicial", "shd", False),
        (Role.SCREENER, "shd-v01", "shd", False),
        (Role.ADMIN, None, None, False),
    ],
)
def test_who_sees_an_item(role: Role, unit: str | None, town: str | None, sees: bool) -> None:
    assert rules.may_see("shd-police", "shd", role, unit, town) is sees


@pytest.mark.parametrize("role", [Role.OFFICE, Role.CLERK, Role.AUDITOR, Role.DISCIPLINE])
def test_the_county_sees_every_towns_items(role: Role) -> None:
    assert rules.may_see("zxl-police", "zxl", role, "county", None, county=True)
    assert not rules.may_see("zxl-police", "zxl", Role.POLICE, "county", None, county=True)


def test_overdue_is_past_the_deadline_and_not_closed() -> None:
    task = opened()
    assert not task.overdue(WHO.deadline)
    assert task.overdue(WHO.deadline + timedelta(seconds=1))


def test_an_item_without_its_opening_does_not_exist() -> None:
    with pytest.raises(NotFound):
        rules.fold([])
