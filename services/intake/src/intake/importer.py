"""Bulk import of a village's screening ledger (摸排台账), CSV or XLSX, Chinese headers.

Each row is checked like a lead typed in by hand and answered on its own: accepted with its
lead id, or refused with the reasons. A row's lead id is derived from the unit and the row's
content, so importing the same file again creates nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import uuid
from collections.abc import Iterator
from typing import Any, Final

from openpyxl import load_workbook
from pydantic import ValidationError

from common.auth import Principal
from common.eventstore import ConcurrencyConflict
from common.http_errors import describe_errors
from common.organisation import Organisation, UnitKind
from common.vocabulary import Category, Channel, Flag, label
from intake.handlers import ChannelNotAllowed, Intake
from intake.schemas import FIELD_LABELS, ImportResult, ImportRowResult, StaffLead

MAX_BYTES: Final = 5_000_000
MAX_ROWS: Final = 5_000

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


class ImportRefused(Exception):
    """The file as a whole cannot be read (format, size, headers)."""


async def import_ledger(
    intake: Intake, principal: Principal, filename: str, content: bytes
) -> ImportResult:
    if len(content) > MAX_BYTES:
        raise ImportRefused(f"the file is larger than {MAX_BYTES // 1_000_000} MB")
    rows = list(_rows(filename, content))
    if len(rows) > MAX_ROWS:
        raise ImportRefused(f"the file has more than {MAX_ROWS} rows; split it")
    results = [await _import_row(intake, principal, number, row) for number, row in rows]
    return ImportResult(
        accepted=sum(r.accepted and not r.already_imported for r in results),
        rejected=sum(not r.accepted for r in results),
        already_imported=sum(r.already_imported for r in results),
        rows=results,
    )


async def _import_row(
    intake: Intake, principal: Principal, number: int, row: dict[str, str]
) -> ImportRowResult:
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
        await intake.enter_staff(lead, lead.channel, principal, None, lead_id=lead_id)
    except ConcurrencyConflict:
        return ImportRowResult(row=number, accepted=True, lead_id=lead_id, already_imported=True)
    except ChannelNotAllowed as exc:
        return ImportRowResult(
            row=number, accepted=False, errors=[{"field": "village", "message": str(exc)}]
        )
    except Exception as exc:
        errors = getattr(exc, "errors", None)
        if callable(errors):
            return ImportRowResult(
                row=number, accepted=False, errors=describe_errors(errors(), FIELD_LABELS)
            )
        raise
    return ImportRowResult(row=number, accepted=True, lead_id=lead_id)


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


def _rows(filename: str, content: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    name = filename.lower()
    if name.endswith(".xlsx"):
        yield from _xlsx_rows(content)
    elif name.endswith(".csv") or not name:
        yield from _csv_rows(content)
    else:
        raise ImportRefused("only .csv and .xlsx files can be imported")


def _csv_rows(content: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    # Excel in China saves CSV as GB18030 unless told otherwise.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportRefused("the CSV file is neither UTF-8 nor GB18030 text")
    reader = csv.reader(io.StringIO(text))
    yield from _with_headers(reader)


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:
        raise ImportRefused(f"the XLSX file cannot be read: {exc}") from exc
    sheet = workbook.worksheets[0]
    cells = (
        [("" if c is None else str(c)) for c in row] for row in sheet.iter_rows(values_only=True)
    )
    yield from _with_headers(cells)
    workbook.close()


def _with_headers(rows: Iterator[list[str]]) -> Iterator[tuple[int, dict[str, str]]]:
    headers: list[str] | None = None
    for number, row in enumerate(rows, start=1):
        if headers is None:
            headers = [h.strip() for h in row]
            known = set(COLUMNS) | set(COLUMNS.values()) | set(FLAG_COLUMNS)
            unknown = [h for h in headers if h and h not in known]
            if unknown or ("简要内容" not in headers and "summary" not in headers):
                raise ImportRefused(
                    "unknown or missing columns: "
                    + ", ".join(unknown or ["简要内容"])
                    + "; expected: "
                    + ", ".join([*COLUMNS, *FLAG_COLUMNS])
                )
            continue
        if not any(cell.strip() for cell in row):
            continue
        yield number, {h: (row[i] if i < len(row) else "") for i, h in enumerate(headers) if h}
