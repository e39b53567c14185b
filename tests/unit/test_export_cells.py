"""The export shows what reporters typed, but never lets it break the file or run as a
formula: the log keeps every byte for ever, so the export cleans it each time."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import load_workbook

from common.organisation import load_organisation
from ledger.export import to_csv, to_xlsx

ORG = load_organisation(None)


def row(summary: str) -> dict[str, Any]:
    return {
        "ledger_number": "SHD-2026-000001",
        "reported_at": datetime(2026, 3, 1, 2, tzinfo=UTC),
        "channel": "web",
        "category": "village_tyrant",
        "village": "shd-v01",
        "summary": summary,
        "unit": "shd-office",
        "assignee_name": None,
        "deadline": None,
        "status": "registered",
        "conclusion": None,
        "feedback": None,
        "archived_at": None,
    }


@pytest.mark.parametrize("hostile", ["村霸\x00欺压", "\x1b[31m红字", "竖线\x0b换页\x0c", "\ufffe"])
def test_a_control_character_in_a_report_does_not_break_the_spreadsheet(hostile: str) -> None:
    content = to_xlsx([row(hostile), row("一条正常的线索")], ORG, "zh", "台账")
    sheet = load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    summaries = [r[5] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert summaries[1] == "一条正常的线索"
    assert "\ufffd" in str(summaries[0])
    assert to_csv([row(hostile)], ORG, "zh")


def test_a_formula_in_a_report_stays_text() -> None:
    sheet = load_workbook(io.BytesIO(to_xlsx([row("=HYPERLINK(1)")], ORG, "zh", "台账"))).active
    assert sheet is not None
    assert sheet.cell(row=2, column=6).value == "'=HYPERLINK(1)"
