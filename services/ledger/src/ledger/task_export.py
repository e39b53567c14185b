"""The rectification ledger as a spreadsheet (整改台账): XLSX, headers in Chinese (or
English), every cell made inert as the lead ledger's export makes it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

from common.organisation import Organisation
from common.vocabulary import Language
from ledger.domain.task import TaskStatus, source_label, status_label
from ledger.export import china_time, inert_text, unit_label, workbook

Show = Callable[[dict[str, Any], Organisation, Language, datetime], str]


def _measures(row: dict[str, Any]) -> str:
    return "\n".join(f"{n}. {m}" for n, m in enumerate(json.loads(row["measures"]), start=1))


def _status(row: dict[str, Any], lang: Language, now: datetime) -> str:
    shown = status_label(row["status"], lang)
    if row["status"] != TaskStatus.CLOSED.value and row["deadline"] < now:
        shown += "（已超期）" if lang == "zh" else " (overdue)"
    return shown


# (Chinese header, English header, width, how to show the row's value); 序号 is the row's
# place in the sheet.
COLUMNS: Final[Sequence[tuple[str, str, int, Show]]] = (
    ("问题来源", "Source", 14, lambda r, o, lang, now: source_label(r["source"], lang)),
    ("来源依据", "Source reference", 20, lambda r, o, lang, now: r["source_ref"]),
    ("存在问题", "Problem", 40, lambda r, o, lang, now: r["problem"]),
    ("整改措施", "Measures", 40, lambda r, o, lang, now: _measures(r)),
    ("责任单位", "Responsible unit", 18, lambda r, o, lang, now: unit_label(r["unit"], o, lang)),
    ("责任人", "Responsible person", 10, lambda r, o, lang, now: r["assignee_name"]),
    ("整改时限", "Deadline", 17, lambda r, o, lang, now: china_time(r["deadline"])),
    ("整改进展", "Progress", 40, lambda r, o, lang, now: r["latest_progress"] or ""),
    ("整改状态", "Status", 14, lambda r, o, lang, now: _status(r, lang, now)),
    ("销号时间", "Closed", 17, lambda r, o, lang, now: china_time(r["closed_at"])),
)


def headers(lang: Language) -> list[str]:
    return [
        "序号" if lang == "zh" else "No.",
        *(zh if lang == "zh" else en for zh, en, _, _ in COLUMNS),
    ]


def to_xlsx(
    rows: Sequence[dict[str, Any]], org: Organisation, lang: Language, title: str, now: datetime
) -> bytes:
    return workbook(
        title,
        "整改台账" if lang == "zh" else "Rectification",
        headers(lang),
        [
            [number, *(inert_text(show(row, org, lang, now)) for _, _, _, show in COLUMNS)]
            for number, row in enumerate(rows, start=1)
        ],
        (6, *(width for _, _, width, _ in COLUMNS)),
    )
