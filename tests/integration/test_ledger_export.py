"""The export (导出台账): the ledger as a spreadsheet and as CSV, with Chinese headers and
labels (or English ones when asked), in the township's time, limited to what the reader may
see; each export is recorded on AUDIT."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx
import pytest
from openpyxl import load_workbook

from common.events.catalogue import LedgerExported
from common.subjects import Stream
from common.vocabulary import Category
from tests.support.apps import token
from tests.support.factories import CHINA
from tests.support.ledger import (
    LedgerService,
    act,
    assigned_by_police,
    handed_to_police,
    in_days,
    moved_to,
    report_and_file,
    shown,
)
from tests.support.streams import stored_on

pytestmark = pytest.mark.integration

EXPORTS = "audit.ledger.global.LedgerExported"
HEADERS_ZH = [
    "编号",
    "受理时间",
    "来源渠道",
    "线索类别",
    "所属村",
    "简要内容",
    "移交单位",
    "责任人",
    "办理时限",
    "办理状态",
    "核查结果",
    "反馈情况",
    "归档时间",
]
HEADERS_EN = [
    "Ledger number",
    "Received",
    "Channel",
    "Category",
    "Village",
    "Summary",
    "Handled by",
    "Responsible",
    "Deadline",
    "Status",
    "Result",
    "Feedback",
    "Archived",
]


def china_time(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


async def test_the_export_is_the_ledger_with_chinese_headers_and_labels_and_each_export_is_recorded(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    reported_at = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)  # 09:30 in the township
    handled = await report_and_file(service, village="shd-v01", reported_at=reported_at)
    waiting = await report_and_file(
        service,
        village="shd-v02",
        category=Category.PUBLIC_ORDER,
        summary="夜间聚众赌博",
        reported_at=reported_at,
    )
    deadline = in_days(25).replace(second=0, microsecond=0)
    await handed_to_police(http, handled["lead_id"])
    await assigned_by_police(http, handled["lead_id"], deadline)
    moved_to(
        await act(
            http,
            handled["lead_id"],
            "conclude",
            "police",
            result="substantiated",
            summary="查证属实",
        ),
        "concluded",
    )
    moved_to(
        await act(http, handled["lead_id"], "feedback", "police", text="已查实，依法处理"),
        "answered",
    )
    await shown(http, handled["lead_id"], status="answered")

    xlsx = await http.get("/v1/ledger/export.xlsx", headers=token("office"))
    csv_zh = await http.get("/v1/ledger/export.csv", headers=token("office"))
    xlsx_en = await http.get(
        "/v1/ledger/export.xlsx", params={"lang": "en"}, headers=token("office")
    )
    csv_en = await http.get("/v1/ledger/export.csv", params={"lang": "en"}, headers=token("office"))
    own_village = await http.get("/v1/ledger/export.csv", headers=token("screener.v01"))

    rows = _sheet(xlsx)
    assert rows[0] == HEADERS_ZH
    assert rows[1:] == [
        [
            handled["ledger_number"],
            "2026-03-01 09:30",
            "举报电话",
            "村霸",
            "沙河店村",
            "村霸强占集体土地，威胁村民",
            "沙河店派出所",
            "王警官",
            china_time(deadline),
            "已反馈",
            "属实",
            "已查实，依法处理",
            "",
        ],
        [
            waiting["ledger_number"],
            "2026-03-01 09:30",
            "举报电话",
            "治安",
            "前营村",
            "夜间聚众赌博",
            "沙河店镇扫黑除恶领导小组办公室",
            "",
            "",
            "已登记",
            "",
            "",
            "",
        ],
    ]
    assert csv_zh.content.startswith(b"\xef\xbb\xbf")
    assert _csv(csv_zh) == rows
    en = _sheet(xlsx_en)
    assert en[0] == HEADERS_EN
    assert en[1][2:4] == ["hotline", "village tyrant"]
    assert _csv(csv_en)[0] == HEADERS_EN
    assert [r[0] for r in _csv(own_village)] == ["编号", handled["ledger_number"]]

    stored = await stored_on(js, Stream.AUDIT, EXPORTS)
    exports = [s.event for s in stored if isinstance(s.event, LedgerExported)]
    assert len(exports) == len(stored)
    assert [(e.format, e.row_count, e.actor.user) for e in exports] == [
        ("xlsx", 2, "office"),
        ("csv", 2, "office"),
        ("xlsx", 2, "office"),
        ("csv", 2, "office"),
        ("csv", 1, "screener.v01"),
    ]


def _sheet(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert response.headers["content-disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
