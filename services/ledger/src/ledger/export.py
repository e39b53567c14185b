"""The ledger as a spreadsheet (台账导出): XLSX or CSV, headers in Chinese (or English)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from common.database import as_utc
from common.organisation import Organisation
from common.times import CHINA
from common.vocabulary import Category, Channel, Conclusion, Language, LeadStatus, label

# (Chinese header, English header, how to show the row's value)
Column = tuple[str, str, Callable[[dict[str, Any], Organisation, Language], str]]


def china_time(value: datetime | None) -> str:
    return "" if value is None else as_utc(value).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def unit_label(code: str | None, org: Organisation, lang: Language) -> str:
    unit = org.unit(code) if code else None
    return unit.label(lang) if unit else (code or "")


COLUMNS: Final[Sequence[Column]] = (
    ("编号", "Ledger number", lambda r, o, lang: r["ledger_number"]),
    ("受理时间", "Received", lambda r, o, lang: china_time(r["reported_at"])),
    ("来源渠道", "Channel", lambda r, o, lang: label(Channel(r["channel"]), lang)),
    ("线索类别", "Category", lambda r, o, lang: label(Category(r["category"]), lang)),
    ("所属村", "Village", lambda r, o, lang: unit_label(r["village"], o, lang)),
    ("简要内容", "Summary", lambda r, o, lang: r["summary"]),
    ("移交单位", "Handled by", lambda r, o, lang: unit_label(r["unit"], o, lang)),
    ("责任人", "Responsible", lambda r, o, lang: r["assignee_name"] or ""),
    ("办理时限", "Deadline", lambda r, o, lang: china_time(r["deadline"])),
    ("办理状态", "Status", lambda r, o, lang: label(LeadStatus(r["status"]), lang)),
    (
        "核查结果",
        "Result",
        lambda r, o, lang: label(Conclusion(r["conclusion"]), lang) if r["conclusion"] else "",
    ),
    ("反馈情况", "Feedback", lambda r, o, lang: r["feedback"] or ""),
    ("归档时间", "Archived", lambda r, o, lang: china_time(r["archived_at"])),
)


def headers(lang: Language) -> list[str]:
    return [zh if lang == "zh" else en for zh, en, _ in COLUMNS]


def cells(rows: Sequence[dict[str, Any]], org: Organisation, lang: Language) -> list[list[str]]:
    return [[inert_text(show(row, org, lang)) for _, _, show in COLUMNS] for row in rows]


# Control characters XML 1.0 cannot carry (openpyxl refuses the whole sheet for one), and
# that no spreadsheet shows: what a reporter typed is in the log for ever, so it is cleaned
# here, at the way out, each time.
_UNPRINTABLE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def inert_text(text: str) -> str:
    text = _UNPRINTABLE.sub("\ufffd", text)
    # A public report's summary reaches this sheet: a leading = + - @ would make a
    # spreadsheet run it as a formula when the office opens the file.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: Sequence[dict[str, Any]], org: Organisation, lang: Language) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers(lang))
    writer.writerows(cells(rows, org, lang))
    # The BOM makes Excel read the file as UTF-8 rather than the local code page.
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Sequence[dict[str, Any]], org: Organisation, lang: Language, title: str) -> bytes:
    return workbook(
        title,
        "台账" if lang == "zh" else "Ledger",
        headers(lang),
        cells(rows, org, lang),
        (18, 17, 14, 12, 12, 40, 18, 10, 17, 12, 12, 30, 17),
    )


def workbook(
    title: str,
    sheet_title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    widths: Sequence[int],
) -> bytes:
    """One sheet: the header in bold and frozen, the rows (cells already made inert) wrapped
    in columns of these widths."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook has one sheet
    sheet.title = sheet_title
    book.properties.title = title
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
