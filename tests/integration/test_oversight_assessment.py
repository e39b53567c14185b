"""The monthly assessment (月度考核) of each handling unit: leads handled, hours to register,
deadlines kept, answers given, leads concluded, deadlines missed, and the score they make,
on screen and in the spreadsheet, against numbers worked out by hand for a scripted month.

The leads' ledger histories are scripted on LEDGER in China time: the assessment's months
turn there, not in UTC."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from nats.js import JetStreamContext
from openpyxl import load_workbook

from common.events import Actor, Event, Role
from common.events.catalogue import (
    DeadlineMissed,
    FeedbackGiven,
    LeadConcluded,
    LeadReported,
    LeadTransferred,
    ResponsibilityAssigned,
)
from common.vocabulary import Conclusion
from tests.support.apps import token
from tests.support.factories import CHINA
from tests.support.oversight import (
    JUDICIAL,
    OFFICE,
    OFFICE_ACTOR,
    POLICE,
    OversightService,
    get,
    oversight_caught_up,
    record,
    registered,
    report,
)

pytestmark = pytest.mark.integration

DEADLINE_WATCH = Actor(role=Role.SYSTEM, unit=OFFICE, user="deadline-watch")


def china(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=CHINA)


@dataclass(frozen=True)
class Handled:
    """One lead's life, in China time: who holds it and when each step happened."""

    unit: str
    reported: str
    registered: str
    deadline: str | None = None
    missed: bool = False
    concluded: str | None = None
    answered: str | None = None

    def events(self, lead: LeadReported, number: int) -> list[Event]:
        filed = china(self.registered)
        lead_id = lead.lead_id
        steps: list[Event] = [
            registered(lead, filed, number),
            LeadTransferred(
                lead_id=lead_id,
                from_unit=OFFICE,
                to_unit=self.unit,
                reason="按职责移交",
                occurred_at=filed + timedelta(hours=1),
                actor=OFFICE_ACTOR,
            ),
        ]
        holder = Actor(role=Role.POLICE if self.unit == POLICE else Role.JUDICIAL, unit=self.unit)
        if self.deadline:
            steps.append(
                ResponsibilityAssigned(
                    lead_id=lead_id,
                    unit=self.unit,
                    assignee="officer",
                    assignee_name="承办人",
                    deadline=china(self.deadline),
                    occurred_at=filed + timedelta(hours=2),
                    actor=holder,
                )
            )
        if self.deadline and self.missed:
            steps.append(
                DeadlineMissed(
                    lead_id=lead_id,
                    unit=self.unit,
                    assignee="officer",
                    deadline=china(self.deadline),
                    occurred_at=china(self.deadline) + timedelta(minutes=1),
                    actor=DEADLINE_WATCH,
                )
            )
        if self.concluded:
            steps.append(
                LeadConcluded(
                    lead_id=lead_id,
                    result=Conclusion.SUBSTANTIATED,
                    summary="查证属实",
                    occurred_at=china(self.concluded),
                    actor=holder,
                )
            )
        if self.answered:
            steps.append(
                FeedbackGiven(
                    lead_id=lead_id,
                    text="已办理，感谢您的举报",
                    occurred_at=china(self.answered),
                    actor=holder,
                )
            )
        return sorted(steps, key=lambda e: e.occurred_at)


# March 2025 at the police station, one lead of the judicial office, and one police lead
# filed at 06:00 on 1 April China time, which is still 31 March in UTC.
HISTORY = (
    # 2 h to register; concluded before its deadline; answered
    Handled(
        POLICE,
        "2025-03-03 09:00",
        "2025-03-03 11:00",
        deadline="2025-03-20 18:00",
        concluded="2025-03-15 10:00",
        answered="2025-03-16 10:00",
    ),
    # 6 h; the deadline was missed, concluded after it; never answered
    Handled(
        POLICE,
        "2025-03-05 08:00",
        "2025-03-05 14:00",
        deadline="2025-03-25 18:00",
        missed=True,
        concluded="2025-03-28 10:00",
    ),
    # 24 h; nobody responsible yet, still open; an interim answer
    Handled(POLICE, "2025-03-10 10:00", "2025-03-11 10:00", answered="2025-03-12 09:00"),
    # 6 h, across midnight; concluded before its deadline; answered
    Handled(
        POLICE,
        "2025-03-20 20:00",
        "2025-03-21 02:00",
        deadline="2025-03-31 18:00",
        concluded="2025-03-30 16:00",
        answered="2025-03-31 09:00",
    ),
    # 4 h; April in China time
    Handled(POLICE, "2025-04-01 02:00", "2025-04-01 06:00"),
    # 1 h; the judicial office's only lead: on time and answered
    Handled(
        JUDICIAL,
        "2025-03-12 09:00",
        "2025-03-12 10:00",
        deadline="2025-03-20 18:00",
        concluded="2025-03-18 10:00",
        answered="2025-03-19 10:00",
    ),
)

# Worked out by hand from HISTORY. Every lead is filed with the office and handed on an hour
# later: the office's turns end in a hand-over, so it handled none, and what it answers for
# is the hours to register (its rates have nothing to rate and count in full: 100).
# Office, March: (2 + 6 + 24 + 1 + 6) / 5 = 7.8 h; April: 4 h.
# Police, March (the first four leads):
#   on time: of the three concluded with a deadline, two before it: 2/3 = 0.6667
#   answered 3 of 4 = 0.75; concluded 3 of 4 = 0.75; one deadline missed
#   score 100 * (0.35 * 2/3 + 0.35 * 0.75 + 0.30 * 0.75) - 5 * 1 = 72.083 - 5 = 67.1
# Police, April: nothing due (counts as on time), nothing concluded or answered: 35.0.
# Judicial, March: all on time, concluded and answered: 100.0.
EXPECTED_ASSESSMENT = [
    (JUDICIAL, "2025-03", 1, None, 1.0, 1.0, 1.0, 0, 0, 100.0),
    (OFFICE, "2025-03", 0, 7.8, None, None, None, 0, 0, 100.0),
    (OFFICE, "2025-04", 0, 4.0, None, None, None, 0, 0, 100.0),
    (POLICE, "2025-03", 4, None, 0.6667, 0.75, 0.75, 1, 0, 67.1),
    (POLICE, "2025-04", 1, None, None, 0.0, 0.0, 0, 0, 35.0),
]
ASSESSMENT_FIELDS = (
    "unit",
    "month",
    "leads",
    "avg_hours_to_register",
    "on_time_rate",
    "feedback_rate",
    "conclusion_rate",
    "overdue",
    "returns",
    "score",
)
HEADERS_ZH = (
    "单位",
    "月份",
    "线索数",
    "平均登记用时(小时)",
    "按时办结率",
    "反馈率",
    "办结率",
    "逾期次数",
    "退回次数",
    "得分",
)
UNIT_NAMES = {
    POLICE: "沙河店派出所",
    JUDICIAL: "沙河店司法所",
    OFFICE: "沙河店镇扫黑除恶领导小组办公室",
}


async def test_the_monthly_assessment_matches_the_numbers_worked_out_by_hand_on_screen_and_in_the_spreadsheet(
    streams: JetStreamContext, oversight: OversightService
) -> None:
    js = streams
    for number, handled in enumerate(HISTORY, start=1):
        lead = await report(js, at=china(handled.reported))
        await record(js, *handled.events(lead, number))
    await oversight_caught_up(js)

    rows = await get(oversight.http, "/v1/oversight/assessments", user="auditor")
    assert [tuple(row[f] for f in ASSESSMENT_FIELDS) for row in rows] == EXPECTED_ASSESSMENT

    response = await oversight.http.get("/v1/oversight/assessments.xlsx", headers=token("auditor"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    assert sheet.title == "考核"
    header, *lines = list(sheet.iter_rows(values_only=True))
    assert header == HEADERS_ZH
    assert lines == [(UNIT_NAMES[unit], *rest) for unit, *rest in EXPECTED_ASSESSMENT]
