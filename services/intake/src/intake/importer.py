"""Bulk import of a village's screening ledger (摸排台账), CSV or XLSX, Chinese headers.

Each row is checked like a lead typed in by hand and answered on its own: accepted with its
lead id, or refused with the reasons. A row's lead id is derived from the unit and the row's
content, so importing the same file again creates nothing twice.

A file is read whole before any row is imported, and refused whole (413 for a limit, 422 for
a file that cannot be read; nothing imported) when it passes a limit: the upload's size
(read in chunks, stopping at the limit), the number of rows, and for XLSX the archive's
members, unpacked size and packing ratio (see :mod:`intake.xlsx`). A single cell longer
than ``MAX_CELL_CHARS`` is an error of its row only; the other rows still import. In a CSV
file a field past Python's csv field limit (131,072 characters) refuses the file, naming
the row: after it the reader can no longer tell where rows begin.

Parsing runs in one worker thread per process, so the event loop goes on answering other
requests (measured: at most 11 ms late while a file at the limits is parsed), and two files
are never parsed at once, so their parsing never holds twice the memory.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Protocol

from pydantic import ValidationError

from common.auth import Principal
from common.errors import RuleViolation
from common.eventstore import ConcurrencyConflict
from common.http_errors import describe_errors
from common.organisation import Organisation, UnitKind
from common.vocabulary import Category, Channel, Flag, label
from intake.application import ChannelNotAllowed, Intake
from intake.commands import EnterLead
from intake.schemas import FIELD_LABELS, ImportResult, ImportRowResult, StaffLead
from intake.settings import IntakeSettings
from intake.xlsx import MIB, SheetLimits, XlsxRefused, xlsx_rows

#: No field of a lead is longer (``LeadContent.details``); a longer cell can only be refused.
MAX_CELL_CHARS: Final = 10_000
#: A ledger has about fifteen columns; cells further right than this refuse an XLSX file.
MAX_COLUMNS: Final = 64
#: A ledger at the size and row limits, full of varied text, unpacks to about 10 MiB.
MAX_UNPACKED_BYTES: Final = 32 * MIB
#: Sheet XML packs 2 to 20 times (Chinese text least); a zip bomb a thousand times.
MAX_PACKING_RATIO: Final = 100
#: Excel writes about a dozen parts; a few pictures add some.
MAX_MEMBERS: Final = 100
#: what a multipart form adds around the file (boundaries, part headers, the file's name)
MULTIPART_ENVELOPE: Final = 64 * 1024
_UPLOAD_CHUNK: Final = 64 * 1024

# Header -> field. Both the Chinese header and the English field name are accepted.
COLUMNS: Final[dict[str, str]] = {
    "线索类别": "category",
    "简要内容": "summary",
    "详细情况": "details",
    "所属村": "village",
    "来源渠道": "channel",
    "举报人姓名": "name",
    "联系电话": "phone",
    "身份证号": "id_number",
    "住址": "address",
}
FLAG_COLUMNS: Final[dict[str, Flag]] = {label(flag): flag for flag in Flag}
_YES: Final = frozenset({"是", "yes", "y", "true", "1", "√", "✓"})
_NO: Final = frozenset({"", "否", "no", "n", "false", "0"})

# One parse at a time in the whole process: a second file waits for the first to be read
# instead of doubling the memory held. The thread starts on first use.
_PARSER: Final = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-parse")


class ImportRefused(Exception):
    """The file as a whole cannot be imported: a limit (``too_large``, a 413), or its format
    or headers (a 422). Nothing of it was imported."""

    def __init__(self, message_zh: str, message_en: str, *, too_large: bool = False) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.too_large = too_large

    @property
    def detail(self) -> list[dict[str, str]]:
        """The answer's detail, in the shape of every other refused field."""
        zh_label, _ = FIELD_LABELS["file"]
        return [
            {
                "field": "file",
                "label": zh_label,
                "message": self.message_zh,
                "message_en": self.message_en,
            }
        ]


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int
    max_rows: int
    max_cell_chars: int = MAX_CELL_CHARS

    @classmethod
    def of(cls, settings: IntakeSettings) -> ImportLimits:
        return cls(max_bytes=settings.import_max_bytes, max_rows=settings.import_max_rows)

    @property
    def sheet(self) -> SheetLimits:
        return SheetLimits(
            max_members=MAX_MEMBERS,
            max_unpacked_bytes=MAX_UNPACKED_BYTES,
            max_ratio=MAX_PACKING_RATIO,
            max_columns=MAX_COLUMNS,
            max_cell_chars=self.max_cell_chars,
            # Every text of the ledger could differ; more cannot all be in its rows.
            max_strings=(self.max_rows + 1) * MAX_COLUMNS,
        )


@dataclass(frozen=True)
class LedgerRow:
    number: int
    cells: dict[str, str]
    #: what is wrong with the row before it is even read as a lead (a cell too long)
    errors: tuple[dict[str, str], ...] = ()


class Upload(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


async def import_ledger(
    intake: Intake, principal: Principal, filename: str, upload: Upload
) -> ImportResult:
    limits = ImportLimits.of(intake.settings)
    content = await read_upload(upload, limits.max_bytes)
    parsing = _PARSER.submit(read_ledger, filename, content, limits)
    rows = await asyncio.wrap_future(parsing)
    results = [await _import_row(intake, principal, row) for row in rows]
    return ImportResult(
        accepted=sum(r.accepted and not r.already_imported for r in results),
        rejected=sum(not r.accepted for r in results),
        already_imported=sum(r.already_imported for r in results),
        rows=results,
    )


async def read_upload(upload: Upload, max_bytes: int) -> bytes:
    """The uploaded file, read in chunks and refused as soon as it passes ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_UPLOAD_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise ImportRefused(
                f"文件超过 {_size(max_bytes)} 的上限",
                f"the file is larger than the limit of {_size(max_bytes)}",
                too_large=True,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n / MIB:g} MiB" if n >= MIB else f"{n / 1024:g} KiB"


def read_ledger(filename: str, content: bytes, limits: ImportLimits) -> list[LedgerRow]:
    """Every row of the file, or :class:`ImportRefused`. Blocking: run it off the event loop."""
    return list(_with_headers(_rows(filename, content, limits), limits))


async def _import_row(intake: Intake, principal: Principal, read: LedgerRow) -> ImportRowResult:
    number, row = read.number, read.cells
    if read.errors:
        return ImportRowResult(row=number, accepted=False, errors=list(read.errors))
    try:
        lead = StaffLead.model_validate(_lead_fields(row, principal, intake.org))
    except ValidationError as exc:
        return ImportRowResult(
            row=number, accepted=False, errors=describe_errors(exc.errors(), FIELD_LABELS)
        )
    except ValueError as exc:
        return ImportRowResult(
            row=number, accepted=False, errors=[{"field": "", "message": str(exc)}]
        )
    lead_id = row_lead_id(intake.settings.receipt_key_bytes, principal.unit or "", row)
    try:
        await intake.enter_staff(
            EnterLead(lead.content(), lead.channel, lead_id=lead_id), principal
        )
    except ConcurrencyConflict:
        return ImportRowResult(row=number, accepted=True, lead_id=lead_id, already_imported=True)
    except ChannelNotAllowed as exc:
        return ImportRowResult(
            row=number, accepted=False, errors=[{"field": exc.field, "message": str(exc)}]
        )
    except RuleViolation as exc:
        return ImportRowResult(row=number, accepted=False, errors=[_refused(exc)])
    return ImportRowResult(row=number, accepted=True, lead_id=lead_id)


def _refused(exc: RuleViolation) -> dict[str, str]:
    """A rule the row breaks, said as a cell the validation refused is said."""
    if not exc.field:
        return {"field": "", "message": exc.message_zh, "message_en": exc.message}
    zh_label, en_label = FIELD_LABELS.get(exc.field, (exc.field, exc.field))
    return {
        "field": exc.field,
        "label": zh_label,
        "message": f"{zh_label}：{exc.message_zh}",
        "message_en": f"{en_label} {exc.message}",
    }


def row_lead_id(key: bytes, unit: str, row: dict[str, str]) -> str:
    """The lead id of an imported row: the same row imported again gets the same id. Keyed
    (HMAC with an intake secret), so nobody without the key can test a reporter's name or
    phone number against a lead id."""
    content = "\x1f".join(f"{k}={row.get(k, '').strip()}" for k in sorted(row))
    digest = hmac.new(key, f"import\x00{unit}\x00{content}".encode(), hashlib.sha256).digest()
    return uuid.UUID(bytes=digest[:16]).hex


def _lead_fields(row: dict[str, str], principal: Principal, org: Organisation) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    identity: dict[str, str] = {}
    flags: list[Flag] = []
    for header, value in row.items():
        value = value.strip()
        field = COLUMNS.get(header, header if header in COLUMNS.values() else None)
        if header in FLAG_COLUMNS:
            if value.lower() in _YES:
                flags.append(FLAG_COLUMNS[header])
            elif value.lower() not in _NO:
                raise ValueError(f"{header}: 请填“是”或“否” (write yes or no), not {value!r}")
        elif field in ("name", "phone", "id_number", "address"):
            if value:
                identity[field] = value
        elif field == "category":
            fields["category"] = _code(value, Category)
        elif field == "channel":
            fields["channel"] = _code(value, Channel) if value else None
        elif field == "village":
            by_name = {v.name: v.code for v in org.villages}
            fields["village"] = by_name.get(value, value) if value else None
        elif field is not None and value:
            fields[field] = value
    fields["flags"] = flags
    if identity:
        fields["identity"] = identity
    if not fields.get("channel"):
        fields["channel"] = Channel.VILLAGE_SCREENING
    own = org.unit(principal.unit) if principal.unit else None
    if not fields.get("village") and own is not None and own.kind is UnitKind.VILLAGE:
        fields["village"] = own.code
    return fields


def _code(value: str, vocabulary: type[Category] | type[Channel]) -> str:
    for code in vocabulary:
        if value in (code.value, label(code), label(code, "en")):
            return code.value
    return value  # refused by validation, which names the field


def _rows(filename: str, content: bytes, limits: ImportLimits) -> Iterator[tuple[int, list[str]]]:
    name = filename.lower()
    if name.endswith(".xlsx"):
        try:
            yield from xlsx_rows(content, limits.sheet)
        except XlsxRefused as exc:
            raise ImportRefused(exc.message_zh, exc.message_en, too_large=exc.too_large) from exc
    elif name.endswith(".csv") or not name:
        yield from _csv_rows(content)
    else:
        raise ImportRefused(
            "只能导入 .csv 或 .xlsx 文件", "only .csv and .xlsx files can be imported"
        )


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[str]]]:
    # Excel in China saves CSV as GB18030 unless told otherwise.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportRefused(
            "CSV 文件既不是 UTF-8 也不是 GB18030 编码的文字",
            "the CSV file is neither UTF-8 nor GB18030 text",
        )
    reader = csv.reader(io.StringIO(text))
    number = 0
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            limit = csv.field_size_limit()
            if "field larger than field limit" in str(exc):
                raise ImportRefused(
                    f"CSV 文件第 {number} 行有单元格超过 {limit} 个字符，无法读取",
                    f"row {number} of the CSV file has a cell longer than {limit:,}"
                    " characters and cannot be read",
                    too_large=True,
                ) from exc
            raise ImportRefused(
                f"CSV 文件第 {number} 行无法读取（{exc}）",
                f"row {number} of the CSV file cannot be read ({exc})",
            ) from exc
        yield number, row


def _with_headers(
    rows: Iterator[tuple[int, list[str]]], limits: ImportLimits
) -> Iterator[LedgerRow]:
    headers: list[str] | None = None
    read = 0
    for number, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if headers is None:
            headers = _checked_headers(row)
            continue
        read += 1
        if read > limits.max_rows:
            raise ImportRefused(
                f"文件超过 {limits.max_rows} 行的上限，请分成几个文件导入",
                f"the file has more than the limit of {limits.max_rows} rows; split it",
                too_large=True,
            )
        cells: dict[str, str] = {}
        errors: list[dict[str, str]] = []
        for i, header in enumerate(headers):
            value = row[i] if i < len(row) else ""
            if not header:
                continue
            if len(value) > limits.max_cell_chars:
                errors.append(_too_long(header, limits.max_cell_chars))
                value = ""
            cells[header] = value
        yield LedgerRow(number, cells, tuple(errors))


def _checked_headers(row: list[str]) -> list[str]:
    headers = [h.strip() for h in row]
    known = set(COLUMNS) | set(COLUMNS.values()) | set(FLAG_COLUMNS)
    # A header is echoed back, so a long one is shortened first.
    unknown = [h if len(h) <= 40 else h[:40] + "…" for h in headers if h and h not in known]
    if unknown or ("简要内容" not in headers and "summary" not in headers):
        expected = ", ".join([*COLUMNS, *FLAG_COLUMNS])
        named = ", ".join(unknown or ["简要内容"])
        raise ImportRefused(
            f"有未知或缺少的列：{named}；应有的列：{expected}",
            f"unknown or missing columns: {named}; expected: {expected}",
        )
    return headers


def _too_long(header: str, limit: int) -> dict[str, str]:
    field = COLUMNS.get(header, header)
    zh_label, en_label = FIELD_LABELS.get(field, (header, header))
    return {
        "field": field,
        "label": zh_label,
        "message": f"{zh_label}：超过 {limit} 字的上限",
        "message_en": f"{en_label} is longer than the limit of {limit:,} characters",
    }
