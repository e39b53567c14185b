"""The ledger import cannot freeze intake: every file is read within limits, off the event
loop, one at a time, and a file past a limit is refused whole with the limit named.

The workbooks here are written part by part, as Excel and WPS write them (shared strings,
rich text, phonetic guides), and as an attacker would (bombs, lies in the zip directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import random
import struct
import threading
import tracemalloc
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest
from annotated_types import MaxLen
from nats.js import JetStreamContext

from intake import importer
from intake.importer import MAX_CELL_CHARS, MAX_COLUMNS, MAX_MEMBERS
from intake.schemas import StaffLead
from intake.settings import IntakeSettings
from intake.vault import Identity
from intake.xlsx import MIB
from tests.conftest import wait_until
from tests.support.apps import token
from tests.support.intake import OWN_VILLAGE, reports_stored, stored_in_intake

pytestmark = pytest.mark.integration

LIMITS = IntakeSettings.model_fields
MAX_BYTES: int = LIMITS["import_max_bytes"].default
MAX_ROWS: int = LIMITS["import_max_rows"].default
CSV_FIELD_LIMIT = csv.field_size_limit()
HEADERS = ["线索类别", "简要内容", "详细情况", "所属村"]
# Common Chinese characters: text that packs about as tightly as a real ledger's.
HANZI = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


# --- files --------------------------------------------------------------------------------


def good_row(tag: str, n: int) -> list[str]:
    return ["村霸", f"村民反映有人强揽工程{tag}-{n}", "", OWN_VILLAGE]


def as_csv(rows: list[list[str]], headers: list[str] = HEADERS) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([headers, *rows])
    return buffer.getvalue().encode()


def inline(reference: str, text: str) -> str:
    return f'<c r="{reference}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'


def shared(reference: str, index: int) -> str:
    return f'<c r="{reference}" t="s"><v>{index}</v></c>'


def column_letter(n: int) -> str:
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def sheet_rows(rows: list[list[str]], first: int = 1) -> str:
    """Rows of inline strings, numbered from ``first``."""
    return "".join(
        f'<row r="{n}">'
        + "".join(inline(f"{column_letter(i)}{n}", v) for i, v in enumerate(row, 1) if v)
        + "</row>"
        for n, row in enumerate(rows, first)
    )


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"


def workbook_parts(sheet_data: str, strings: str | None = None) -> dict[str, str]:
    """The parts of a workbook of one sheet, as Excel names them."""
    string_rel = (
        f'<Relationship Id="rId9" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        if strings is not None
        else ""
    )
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1"'
            f' Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
            '<sheet name="台账" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1"'
            f' Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>{string_rel}'
            "</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{MAIN}"><sheetData>{sheet_data}</sheetData></worksheet>'
        ),
    }
    if strings is not None:
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{MAIN}">{strings}</sst>'
    return parts


def as_zip(parts: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def as_xlsx(rows: list[list[str]], headers: list[str] = HEADERS) -> bytes:
    return as_zip(dict(workbook_parts(sheet_rows([headers, *rows]))))


def with_bomb(member: str, unpacked: int, declared: int | None = None) -> bytes:
    """A workbook whose ``member`` (shared strings) unpacks to ``unpacked`` bytes of one
    repeated string: a few hundred kB packed. With ``declared``, the zip directory says the
    member is that small instead (a lie)."""
    buffer = io.BytesIO()
    parts = workbook_parts(sheet_rows([HEADERS]), strings="")
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            if name != member:
                archive.writestr(name, data)
        with archive.open(member, "w", force_zip64=False) as bomb:
            bomb.write(f'<sst xmlns="{MAIN}">'.encode())
            chunk = b"<si><t>" + b"a" * 1000 + b"</t></si>"
            for _ in range(unpacked // len(chunk)):
                bomb.write(chunk)
            bomb.write(b"</sst>")
    content = buffer.getvalue()
    return content if declared is None else understated(content, member, declared)


def understated(content: bytes, member: str, size: int) -> bytes:
    """The archive with ``member``'s unpacked size written as ``size`` in its local header
    and in the central directory."""
    patched = bytearray(content)
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo(member)
    struct.pack_into("<I", patched, info.header_offset + 22, size)
    name = member.encode()
    at = patched.find(b"PK\x01\x02")
    while at != -1:
        (length,) = struct.unpack_from("<H", patched, at + 28)
        if patched[at + 46 : at + 46 + length] == name:
            struct.pack_into("<I", patched, at + 24, size)
        at = patched.find(b"PK\x01\x02", at + 4)
    return bytes(patched)


def hanzi(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(HANZI, k=n))


def maximal_ledger(tag: str) -> bytes:
    """An XLSX ledger at the row limit and just under the size limit: long, varied texts."""
    rng = random.Random(tag)
    valid = [good_row(tag, n) for n in range(20)]
    # Rows with an unknown category: read and answered in full, but quick to refuse.
    filler = [
        ["不存在", hanzi(rng, 20), hanzi(rng, 480), OWN_VILLAGE] for _ in range(MAX_ROWS - 20)
    ]
    content = as_xlsx(valid + filler)
    assert MAX_BYTES * 0.7 < len(content) <= MAX_BYTES, len(content)
    return content


# --- the service --------------------------------------------------------------------------


async def upload(
    intake: httpx.AsyncClient, filename: str, content: bytes, user: str = "screener.v01"
) -> httpx.Response:
    return await intake.post(
        "/v1/leads/import", files={"file": (filename, content)}, headers=token(user)
    )


def refusal(response: httpx.Response) -> dict[str, str]:
    [detail] = response.json()["detail"]
    assert detail["field"] == "file", detail
    return dict(detail)


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


# --- size, rows, cells --------------------------------------------------------------------


async def test_a_file_over_the_size_limit_is_refused_with_413_and_nothing_imported(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    tag = uuid.uuid4().hex[:8]
    rows = [good_row(tag, n) for n in range(10)]
    content = as_csv(rows)
    content += b"x" * (MAX_BYTES + 1 - len(content))

    refused = await upload(intake, "摸排台账.csv", content)

    assert refused.status_code == 413, refused.text
    detail = refusal(refused)
    assert "5 MiB" in detail["message"], detail
    assert "5 MiB" in detail["message_en"], detail
    assert await stored_in_intake(streams) == 0


async def test_a_file_at_the_size_limit_is_read(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    tag = uuid.uuid4().hex[:8]
    content = as_csv([good_row(tag, 0)])
    content += b"\n" * (MAX_BYTES - len(content))

    imported = await upload(intake, "摸排台账.csv", content)

    assert imported.status_code == 200, imported.text
    assert imported.json()["accepted"] == 1
    assert await reports_stored(streams) == 1


# Valid leads first: had the import begun before the whole file was read, they would be in
# the stream. Then 400,000 short rows, as in the file that froze intake for 12 seconds.
LONG = 400_000


def long_csv(tag: str) -> bytes:
    return as_csv([good_row(tag, n) for n in range(10)] + [["1", str(n)] for n in range(LONG)])


def long_xlsx(tag: str) -> bytes:
    head = sheet_rows([HEADERS] + [good_row(tag, n) for n in range(10)])
    rest = "".join(f'<row r="{n}">{shared(f"A{n}", 0)}</row>' for n in range(12, 12 + LONG))
    return as_zip(dict(workbook_parts(head + rest, strings="<si><t>1</t></si>")))


LONG_FILES: dict[str, tuple[str, Callable[[str], bytes]]] = {
    "csv": ("摸排台账.csv", long_csv),
    "xlsx": ("摸排台账.xlsx", long_xlsx),
}


@pytest.mark.parametrize("kind", LONG_FILES)
async def test_a_ledger_of_400_000_rows_is_refused_naming_the_row_limit_and_nothing_is_imported(
    intake: httpx.AsyncClient, streams: JetStreamContext, kind: str
) -> None:
    filename, encode = LONG_FILES[kind]
    content = encode(uuid.uuid4().hex[:8])
    assert len(content) <= MAX_BYTES  # refused for its rows, not its size

    refused = await upload(intake, filename, content)

    assert refused.status_code == 413, refused.text
    detail = refusal(refused)
    assert f"{MAX_ROWS} 行" in detail["message"], detail
    assert f"{MAX_ROWS} rows" in detail["message_en"], detail
    assert await stored_in_intake(streams) == 0


async def test_a_cell_longer_than_any_field_of_a_lead_is_an_error_of_its_row_only(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    tag = uuid.uuid4().hex[:8]
    too_long = ["村霸", f"详细情况写得太长了{tag}", "长" * (MAX_CELL_CHARS + 1), OWN_VILLAGE]
    for filename, encode in (("摸排台账.csv", as_csv), ("摸排台账.xlsx", as_xlsx)):
        content = encode([good_row(tag + filename, 1), too_long, good_row(tag + filename, 2)])

        imported = await upload(intake, filename, content)

        assert imported.status_code == 200, imported.text
        result = imported.json()
        assert (result["accepted"], result["rejected"]) == (2, 1), result
        [error] = result["rows"][1]["errors"]
        assert (error["field"], error["label"]) == ("details", "详细情况"), error
        assert f"{MAX_CELL_CHARS}" in error["message"], error
        assert f"{MAX_CELL_CHARS:,}" in error["message_en"], error
    assert await reports_stored(streams) == 4


async def test_a_csv_field_past_the_csv_readers_own_limit_refuses_the_file_naming_row_and_limit(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    tag = uuid.uuid4().hex[:8]
    huge = ["村霸", f"一个超长的字段{tag}", "长" * (CSV_FIELD_LIMIT + 1), OWN_VILLAGE]
    content = as_csv([good_row(tag, 1), huge, good_row(tag, 2)])

    refused = await upload(intake, "摸排台账.csv", content)

    assert refused.status_code == 413, refused.text
    detail = refusal(refused)
    assert "第 3 行" in detail["message"]
    assert str(CSV_FIELD_LIMIT) in detail["message"]
    assert f"{CSV_FIELD_LIMIT:,}" in detail["message_en"], detail
    assert await stored_in_intake(streams) == 0


def test_no_field_of_a_lead_is_longer_than_the_cell_limit() -> None:
    """A cell over the limit is refused outright; were a field allowed more, a ledger could
    not fill it."""
    lengths = [
        meta.max_length
        for model in (StaffLead, Identity)
        for field in model.model_fields.values()
        for meta in field.metadata
        if isinstance(meta, MaxLen)
    ]
    assert max(lengths) == MAX_CELL_CHARS, lengths


# --- workbooks as Excel writes them -------------------------------------------------------


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


# --- archives built to hurt ---------------------------------------------------------------


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
    assert len(content) < MAX_BYTES

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


# --- the event loop -----------------------------------------------------------------------


class PausedParse:
    """Wraps the XLSX reader so that each parse stops halfway through its rows until
    released, and says when it got there."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.halfway = asyncio.Event()
        self.release = threading.Event()
        self.released_in_time: list[bool] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def __call__(self, real: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def paused(*args: Any) -> Iterator[Any]:
            with self._lock:
                self.active += 1
                self.most_active = max(self.most_active, self.active)
            try:
                for n, row in enumerate(real(*args)):
                    if n == MAX_ROWS // 2:
                        self.loop.call_soon_threadsafe(self.halfway.set)
                        # On the event loop this would block the very answer it waits for.
                        self.released_in_time.append(self.release.wait(timeout=30))
                    yield row
            finally:
                with self._lock:
                    self.active -= 1

        return paused


@pytest.fixture
async def paused_parse(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PausedParse]:
    pause = PausedParse(asyncio.get_running_loop())
    monkeypatch.setattr(importer, "xlsx_rows", pause(importer.xlsx_rows))
    yield pause
    pause.release.set()  # never leave the parse thread waiting, even when the test failed


async def test_intake_answers_other_requests_while_a_maximal_ledger_is_parsed(
    intake: httpx.AsyncClient, streams: JetStreamContext, paused_parse: PausedParse
) -> None:
    tag = uuid.uuid4().hex[:8]
    content = maximal_ledger(tag)
    importing = asyncio.create_task(upload(intake, "摸排台账.xlsx", content))

    await asyncio.wait_for(paused_parse.halfway.wait(), timeout=60)
    health = await intake.get("/healthz")
    parse_was_still_waiting = not importing.done()
    paused_parse.release.set()
    imported = await importing

    assert health.status_code == 200
    assert parse_was_still_waiting
    assert paused_parse.released_in_time == [True]
    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["accepted"], result["rejected"]) == (20, MAX_ROWS - 20)
    assert await reports_stored(streams) == 20


async def test_a_second_import_waits_for_the_first_to_be_parsed(
    intake: httpx.AsyncClient,
    streams: JetStreamContext,
    paused_parse: PausedParse,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    submitted: list[Any] = []
    second_submitted = asyncio.Event()
    real_submit = importer._PARSER.submit

    def submit(*args: Any) -> Any:
        submitted.append(real_submit(*args))
        if len(submitted) == 2:
            second_submitted.set()
        return submitted[-1]

    monkeypatch.setattr(importer._PARSER, "submit", submit)
    first = asyncio.create_task(upload(intake, "甲.xlsx", maximal_ledger("甲")))
    await asyncio.wait_for(paused_parse.halfway.wait(), timeout=60)
    second = asyncio.create_task(upload(intake, "乙.xlsx", as_xlsx([good_row("乙", 1)])))
    await asyncio.wait_for(second_submitted.wait(), timeout=60)

    # A second parse able to run would be running within milliseconds; a whole second
    # passes and it is still queued behind the paused one.
    with pytest.raises(AssertionError):
        await wait_until(submitted[1].running, timeout=1.0)
    paused_parse.release.set()
    answers = await asyncio.gather(first, second)

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert paused_parse.most_active == 1
