"""How much of a screening ledger intake reads: the whole file is read before any row is
imported, and a file past the size or the row limit, or a CSV field past the CSV reader's
own limit, is refused whole with the limit named. A cell longer than any field of a lead is
an error of its row only."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable

import httpx
import pytest
from annotated_types import MaxLen
from nats.js import JetStreamContext

from intake.importer import MAX_CELL_CHARS
from intake.schemas import StaffLead
from intake.vault import Identity
from tests.support.intake import (
    IMPORT_MAX_BYTES,
    IMPORT_MAX_ROWS,
    OWN_VILLAGE,
    refusal,
    reports_stored,
    stored_in_intake,
    upload,
)
from tests.support.workbooks import (
    HEADERS,
    as_csv,
    as_xlsx,
    as_zip,
    good_row,
    shared,
    sheet_rows,
    workbook_parts,
)

pytestmark = pytest.mark.integration

CSV_FIELD_LIMIT = csv.field_size_limit()


async def test_a_file_over_the_size_limit_is_refused_with_413_and_nothing_imported(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    tag = uuid.uuid4().hex[:8]
    rows = [good_row(tag, n) for n in range(10)]
    content = as_csv(rows)
    content += b"x" * (IMPORT_MAX_BYTES + 1 - len(content))

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
    content += b"\n" * (IMPORT_MAX_BYTES - len(content))

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
    assert len(content) <= IMPORT_MAX_BYTES  # refused for its rows, not its size

    refused = await upload(intake, filename, content)

    assert refused.status_code == 413, refused.text
    detail = refusal(refused)
    assert f"{IMPORT_MAX_ROWS} 行" in detail["message"], detail
    assert f"{IMPORT_MAX_ROWS} rows" in detail["message_en"], detail
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
