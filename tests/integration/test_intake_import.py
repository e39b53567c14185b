"""Importing a village's screening ledger (摸排台账), as CSV in UTF-8 or GB18030 or as
XLSX: row by row, each bad row refused with its field named, and only once; a ledger with an
unknown column is refused whole, and a screener's rows for another village row by row."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable

import httpx
import pytest
from nats.js import JetStreamContext
from openpyxl import Workbook

from common.events.catalogue import ReporterKind
from common.vocabulary import Channel, Flag
from tests.support.intake import (
    OWN_VILLAGE,
    event_types,
    report_of,
    reports_stored,
    stored_in_intake,
    upload,
)

pytestmark = pytest.mark.integration


HEADERS = ["线索类别", "简要内容", "详细情况", "所属村", "涉嫌村霸", "举报人姓名", "联系电话"]


def ledger_rows(tag: str) -> list[list[str]]:
    """Three good rows, then two bad ones (no 简要内容; a 线索类别 that does not exist)."""
    return [
        [
            "村霸",
            f"王某霸占村集体鱼塘{tag}",
            "多次威胁村民",
            "沙河店村",
            "是",
            "李四",
            "13800000001",
        ],
        ["治安", f"村口小卖部夜间聚众赌博{tag}", "", OWN_VILLAGE, "否", "", ""],
        ["其他", f"有人冒充村干部收取费用{tag}", "", "", "", "", ""],
        ["村霸", "", "简要内容没有填写", "沙河店村", "否", "", ""],
        ["不存在", f"类别填错的一条线索{tag}", "", "沙河店村", "否", "", ""],
    ]


def as_csv(rows: list[list[str]], encoding: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADERS, *rows])
    return buffer.getvalue().encode(encoding)


def as_xlsx(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [HEADERS, *rows]:
        sheet.append([cell or None for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


Encoder = Callable[[list[list[str]]], bytes]
LEDGER_FILES: dict[str, tuple[str, Encoder]] = {
    "utf-8 csv": ("摸排台账.csv", lambda rows: as_csv(rows, "utf-8")),
    "gb18030 csv": ("摸排台账.csv", lambda rows: as_csv(rows, "gb18030")),
    "xlsx": ("摸排台账.xlsx", as_xlsx),
}


@pytest.mark.parametrize("ledger_file", LEDGER_FILES.values(), ids=LEDGER_FILES.keys())
async def test_a_screening_ledger_is_imported_row_by_row_and_only_once(
    intake: httpx.AsyncClient, streams: JetStreamContext, ledger_file: tuple[str, Encoder]
) -> None:
    filename, encode = ledger_file
    content = encode(ledger_rows(uuid.uuid4().hex[:8]))

    imported = await upload(intake, filename, content)

    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["accepted"], result["rejected"], result["already_imported"]) == (3, 2, 0)
    rows = {row["row"]: row for row in result["rows"]}
    assert sorted(rows) == [2, 3, 4, 5, 6]
    for number in (2, 3, 4):
        assert rows[number]["accepted"], rows[number]
        assert await event_types(streams, rows[number]["lead_id"]) == ["LeadReported"]
    for number, field, label in ((5, "summary", "简要内容"), (6, "category", "线索类别")):
        assert not rows[number]["accepted"]
        [error] = rows[number]["errors"]
        assert (error["field"], error["label"]) == (field, label), error
        assert error["message"].startswith(label)
    named_row = await report_of(streams, rows[2]["lead_id"])
    assert named_row.channel is Channel.VILLAGE_SCREENING
    assert named_row.village == OWN_VILLAGE
    assert named_row.reporter.kind is ReporterKind.NAMED
    assert named_row.flags == (Flag.VILLAGE_TYRANT,)
    # A row without 所属村 is of the screener's own village.
    assert (await report_of(streams, rows[4]["lead_id"])).village == OWN_VILLAGE
    assert await reports_stored(streams) == 3

    again = await upload(intake, filename, content)

    assert again.status_code == 200, again.text
    result = again.json()
    assert (result["accepted"], result["rejected"], result["already_imported"]) == (0, 2, 3)
    assert [r["lead_id"] for r in result["rows"] if r["already_imported"]] == [
        rows[n]["lead_id"] for n in (2, 3, 4)
    ]
    assert await reports_stored(streams) == 3


async def test_a_ledger_with_an_unknown_column_is_refused_as_a_whole(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    buffer = io.StringIO()
    good_row = ledger_rows(uuid.uuid4().hex[:8])[0]
    csv.writer(buffer).writerows([[*HEADERS, "备注"], [*good_row, "无"]])

    refused = await upload(intake, "摸排台账.csv", buffer.getvalue().encode())

    assert refused.status_code == 422, refused.text
    assert "备注" in str(refused.json()["detail"])
    assert await stored_in_intake(streams) == 0


async def test_a_screeners_rows_for_another_village_are_refused_row_by_row(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    tag = uuid.uuid4().hex[:8]
    content = as_csv(
        [
            ["村霸", f"邻村有人强揽工程{tag}", "", "前营村", "否", "", ""],
            ["村霸", f"本村有人强揽工程{tag}", "", "沙河店村", "否", "", ""],
        ],
        "utf-8",
    )

    imported = await upload(intake, "摸排台账.csv", content)

    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["accepted"], result["rejected"]) == (1, 1)
    other, own = result["rows"]
    assert not other["accepted"]
    assert [e["field"] for e in other["errors"]] == ["village"]
    assert own["accepted"]
    assert await reports_stored(streams) == 1
