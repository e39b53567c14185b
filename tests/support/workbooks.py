"""Screening ledgers as files, for the import's limits: CSV, and workbooks written part by
part, as Excel and WPS write them (shared strings, rich text, phonetic guides) and as an
attacker would (bombs, lies in the zip directory)."""

from __future__ import annotations

import csv
import io
import struct
import zipfile
from xml.sax.saxutils import escape

from tests.support.intake import OWN_VILLAGE

HEADERS = ["线索类别", "简要内容", "详细情况", "所属村"]


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
