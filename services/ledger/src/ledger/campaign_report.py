"""A campaign's report (自查自纠 / 回头看 情况表): each unit's answer to each checklist item and
what came of it (the rectification item and its state), and for a look-back each sampled
lead's finding. The same rows make the XLSX (headers in Chinese or English, every cell made
inert as the ledger export makes it) and the printable page."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from common.organisation import Organisation
from common.vocabulary import Language
from ledger.application.campaigns import Outcomes
from ledger.domain.campaign import ANSWER_LABELS, LATE_LABEL, Campaign
from ledger.domain.task import status_label
from ledger.export import china_time, inert_text, unit_label

ANSWER_HEADERS: Final = (
    ("单位", "Unit", 18),
    ("序号", "No.", 6),
    ("检查事项", "Checklist item", 40),
    ("自查结果", "Answer", 12),
    ("情况说明", "Note", 40),
    ("佐证材料", "Evidence", 30),
    ("填报时间", "Answered", 17),
    ("是否逾期", "Late", 10),
    ("整改事项编号", "Rectification item", 34),
    ("整改状态", "Rectification status", 14),
)
REVIEW_HEADERS: Final = (
    ("台账编号", "Ledger number", 20),
    ("线索标识", "Lead id", 34),
    ("复查结论", "Finding", 50),
    ("原处理是否维持", "Decision stands", 14),
    ("整改事项编号", "Rectification item", 34),
    ("整改状态", "Rectification status", 14),
)


@dataclass(frozen=True)
class Report:
    answers: list[list[str]]
    reviews: list[list[str]]


def _pick(lang: Language, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _task(
    campaign: Campaign,
    states: dict[str, dict[str, Any]],
    lang: Language,
    unit: str,
    item: int | None,
    lead_id: str | None,
) -> list[str]:
    turned = campaign.turned_for(unit, item, lead_id)
    if turned is None:
        return ["", ""]
    state = states.get(turned.task_id)
    shown = status_label(state["status"], lang) if state else _pick(lang, "登记中", "being filed")
    return [turned.task_id, shown]


def rows(campaign: Campaign, found: Outcomes, org: Organisation, lang: Language) -> Report:
    """Every unit asked, every item (a unit that has not answered says so on each)."""
    states = found.states
    answers = []
    for unit in campaign.opened.units:
        given = campaign.answers.get(unit)
        late = campaign.answered_late(unit)
        by_item = {a.item: a for a in given.answers} if given else {}
        for number, text in enumerate(campaign.opened.items, start=1):
            answer = by_item.get(number)
            answers.append(
                [
                    unit_label(unit, org, lang),
                    str(number),
                    text,
                    _pick(lang, *ANSWER_LABELS[answer.answer])
                    if answer
                    else _pick(lang, "未填报", "not answered"),
                    answer.note if answer else "",
                    "\n".join(
                        f"{e.name}（{e.size} B, sha256 {e.sha256[:12]}…）" for e in answer.evidence
                    )
                    if answer
                    else "",
                    china_time(given.occurred_at) if given else "",
                    _pick(lang, *LATE_LABEL) if late else "",
                    *_task(campaign, states, lang, unit, number, None),
                ]
            )
    reviews = []
    for lead_id in campaign.sample.lead_ids if campaign.sample else ():
        review = campaign.findings.get(lead_id)
        reviews.append(
            [
                found.numbers.get(lead_id, ""),
                lead_id,
                review.finding if review else _pick(lang, "尚未复查", "not reviewed yet"),
                ""
                if review is None
                else _pick(lang, "维持", "stands")
                if review.decision_stands
                else _pick(lang, "不维持", "does not stand"),
                *_task(campaign, states, lang, "", None, lead_id),
            ]
        )
    return Report(answers, reviews)


def headers(lang: Language, columns: Sequence[tuple[str, str, int]]) -> list[str]:
    return [_pick(lang, zh, en) for zh, en, _ in columns]


def _sheet(
    sheet: Worksheet, lang: Language, columns: Sequence[tuple[str, str, int]], body: list[list[str]]
) -> None:
    sheet.append(headers(lang, columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in body:
        sheet.append([inert_text(value) for value in row])
    for index, (_, _, width) in enumerate(columns, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"


def to_xlsx(report: Report, lang: Language, title: str, look_back: bool) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None  # noqa: S101 - a new workbook has one sheet
    book.properties.title = title
    first.title = _pick(lang, "自查情况", "Answers")
    _sheet(first, lang, ANSWER_HEADERS, report.answers)
    if look_back:
        _sheet(
            book.create_sheet(_pick(lang, "回头看抽查", "Look-back review")),
            lang,
            REVIEW_HEADERS,
            report.reviews,
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
