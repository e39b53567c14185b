"""Workbooks as intake meets them: as Excel and WPS write them (shared strings, rich text,
phonetic guides), read as Excel shows them; and archives built to hurt (zip bombs, a zip
directory that lies, a row of countless empty cells, too many columns or parts, a file that
is no workbook), each refused before it costs memory, with the reason named."""

from __future__ import annotations

import contextlib
import random
import tracemalloc
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from nats.js import JetStreamContext

from intake.importer import MAX_COLUMNS, MAX_MEMBERS
from intake.xlsx import MIB
from tests.support.intake import (
    IMPORT_MAX_BYTES,
    OWN_VILLAGE,
    refusal,
    reports_stored,
    stored_in_intake,
    upload,
)
from tests.support.workbooks import (
    HEADERS,
    MAIN,
    RELS,
    as_csv,
    as_zip,
    column_letter,
    good_row,
    inline,
    shared,
    sheet_rows,
    with_bomb,
    workbook_parts,
)

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def python_memory_peak() -> Iterator[Callable[[], int]]:
    """The peak of memory allocated by Python (every thread) inside the block, in bytes."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    start, _ = tracemalloc.get_traced_memory()
    peak = [0]
    try:
        yield lambda: peak[0]
    finally:
        peak[0] = tracemalloc.get_traced_memory()[1] - start
        tracemalloc.stop()


async def test_a_workbook_with_shared_strings_rich_text_and_phonetic_guides_is_read_as_excel_shows_it(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    tag = uuid.uuid4().hex[:8]
    strings = (
        "<si><t>线索类别</t></si><si><t>简要内容</t></si><si><t>所属村</t></si>"
        "<si><t>村霸</t></si>"
        f"<si><r><rPr><b/></rPr><t>张某强占</t></r><r><t>村集体鱼塘{tag}</t></r>"
        "<rPh sb='0' eb='2'><t>zhang</t></rPh></si>"
        "<si><t>沙河店村</t></si>"
    )
    sheet = (
        '<row r="1">' + shared("A1", 0) + shared("B1", 1) + shared("C1", 2) + "</row>"
        '<row r="3">' + shared("A3", 3) + shared("B3", 4) + shared("C3", 5) + "</row>"
    )
    content = as_zip(dict(workbook_parts(sheet, strings)))

    imported = await upload(intake, "摸排台账.xlsx", content)

    assert imported.status_code == 200, imported.text
    [row] = imported.json()["rows"]
    assert row["row"] == 3, row
    assert row["accepted"], row
    assert await reports_stored(streams, row["lead_id"]) == 1


BOMBS = {
    # (unpacked size, what the refusal names)
    "past the unpacked limit": (300 * MIB, ("32 MiB", "32 MiB")),
    "within it, packed a thousandfold": (20 * MIB, ("100 倍", "100 times")),
}


@pytest.mark.parametrize(("unpacked", "named"), BOMBS.values(), ids=BOMBS.keys())
async def test_a_zip_bomb_is_refused_before_it_is_unpacked(
    intake: httpx.AsyncClient,
    streams: JetStreamContext,
    unpacked: int,
    named: tuple[str, str],
) -> None:
    bomb = with_bomb("xl/sharedStrings.xml", unpacked=unpacked)
    assert len(bomb) < MIB

    with python_memory_peak() as peak:
        refused = await upload(intake, "摸排台账.xlsx", bomb)

    assert refused.status_code == 413, refused.text
    detail = refusal(refused)
    assert named[0] in detail["message"], detail
    assert named[1] in detail["message_en"], detail
    assert peak() < 20 * MIB, f"{peak() / MIB:.0f} MiB"
    assert await stored_in_intake(streams) == 0


async def test_a_zip_bomb_that_understates_its_size_unpacks_no_further_than_it_claims(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    liar = with_bomb("xl/sharedStrings.xml", unpacked=300 * MIB, declared=4096)

    with python_memory_peak() as peak:
        refused = await upload(intake, "摸排台账.xlsx", liar)

    assert refused.status_code == 422, refused.text
    assert "damaged" in refusal(refused)["message_en"]
    assert peak() < 20 * MIB, f"{peak() / MIB:.0f} MiB"
    assert await stored_in_intake(streams) == 0


async def test_a_row_of_380_000_empty_cells_costs_no_memory(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    """Openpyxl took 225 MB to open a file like this one. Each cell names a style, so the
    sheet packs only a few times over and passes the archive's checks: it is the reader
    that must not hold the row."""
    tag = uuid.uuid4().hex[:8]
    rng = random.Random(tag)
    cells = "".join(f'<c r="A3" s="{rng.randrange(1000)}"/>' for _ in range(380_000))
    sheet = sheet_rows([HEADERS, good_row(tag, 1)]) + f'<row r="3">{cells}</row>'
    content = as_zip(dict(workbook_parts(sheet)))
    assert len(content) < IMPORT_MAX_BYTES

    with python_memory_peak() as peak:
        imported = await upload(intake, "摸排台账.xlsx", content)

    assert imported.status_code == 200, imported.text
    assert imported.json()["accepted"] == 1
    assert peak() < 20 * MIB, f"{peak() / MIB:.0f} MiB"


async def test_a_cell_beyond_the_column_limit_refuses_the_workbook(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    tag = uuid.uuid4().hex[:8]
    far = f'<row r="3">{inline(column_letter(MAX_COLUMNS + 1) + "3", "备注")}</row>'
    content = as_zip(dict(workbook_parts(sheet_rows([HEADERS, good_row(tag, 1)]) + far)))

    refused = await upload(intake, "摸排台账.xlsx", content)

    assert refused.status_code == 413, refused.text
    assert f"{MAX_COLUMNS} columns" in refusal(refused)["message_en"]
    assert await stored_in_intake(streams) == 0


async def test_an_archive_of_too_many_parts_is_refused(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    parts: dict[str, str | bytes] = dict(workbook_parts(sheet_rows([HEADERS])))
    parts |= {f"xl/media/image{n}.png": b"" for n in range(MAX_MEMBERS)}

    refused = await upload(intake, "摸排台账.xlsx", as_zip(parts))

    assert refused.status_code == 413, refused.text
    assert f"{MAX_MEMBERS} parts" in refusal(refused)["message_en"]


UNREADABLE: dict[str, bytes] = {
    "not a zip": as_csv([["村霸", "一条写在 CSV 里的线索", "", OWN_VILLAGE]]),
    "entity expansion": as_zip(
        workbook_parts(sheet_rows([HEADERS]))
        | {
            "xl/workbook.xml": (
                '<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
                f'<workbook xmlns="{MAIN}"><sheets><sheet name="&b;" r:id="rId1"'
                f' xmlns:r="{RELS}"/></sheets></workbook>'
            )
        }
    ),
    "no worksheet": as_zip({"_rels/.rels": workbook_parts("")["_rels/.rels"]}),
}


@pytest.mark.parametrize("content", UNREADABLE.values(), ids=UNREADABLE.keys())
async def test_a_file_named_xlsx_that_is_no_workbook_is_refused_with_422(
    intake: httpx.AsyncClient, streams: JetStreamContext, content: bytes
) -> None:
    refused = await upload(intake, "摸排台账.xlsx", content)

    assert refused.status_code == 422, refused.text
    detail = refusal(refused)
    assert "XLSX" in detail["message"], detail
    assert "XLSX" in detail["message_en"], detail
    assert await stored_in_intake(streams) == 0
