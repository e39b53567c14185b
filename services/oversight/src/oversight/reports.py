"""The committee's reports as files: the assessment (考核) as a spreadsheet, with each unit's
name in the reader's language. An empty cell is a rate with nothing to rate."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from openpyxl import Workbook

from common.organisation import Organisation
from oversight.domain.assessment import Assessment

XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ASSESSMENT_HEADERS: Final = (
    ("单位", "Unit"),
    ("月份", "Month"),
    ("线索数", "Leads"),
    ("平均登记用时(小时)", "Avg hours to register"),
    ("按时办结率", "On-time rate"),
    ("反馈率", "Feedback rate"),
    ("办结率", "Conclusion rate"),
    ("逾期次数", "Deadlines missed"),
    ("退回次数", "Returns"),
    ("得分", "Score"),
)


@dataclass(frozen=True)
class Spreadsheet:
    content: bytes
    filename: str
    media_type: str = XLSX


def assessment_spreadsheet(
    rows: Iterable[Assessment],
    org: Organisation,
    lang: str,
    now: datetime,
    town: str | None = None,
) -> Spreadsheet:
    """Chinese unless ``lang`` is something else (then English); named for the day made,
    and for the town when it holds one town's units alone (``town``), so two towns' files
    saved side by side are told apart."""
    zh = lang == "zh"
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook has its sheet
    sheet.title = "考核" if zh else "Assessment"
    sheet.append([header_zh if zh else header_en for header_zh, header_en in ASSESSMENT_HEADERS])
    for a in rows:
        unit = org.unit(a.unit)
        sheet.append(
            [
                unit.label("zh" if zh else "en") if unit else a.unit,
                a.month,
                a.leads,
                a.avg_hours_to_register,
                a.on_time_rate,
                a.feedback_rate,
                a.conclusion_rate,
                a.overdue,
                a.returns,
                a.score,
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    stamp = now.astimezone(UTC).strftime("%Y%m%d")
    named = f"assessment-{town}-{stamp}.xlsx" if town else f"assessment-{stamp}.xlsx"
    return Spreadsheet(buffer.getvalue(), named)
