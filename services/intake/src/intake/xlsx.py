"""The first worksheet of an XLSX file as rows of text, read with every size bounded.

Why not openpyxl, even in read-only mode: it builds an element tree and a dict for every cell
of a row, an object for every shared string and every style, and parses whatever parts the
workbook names. Measured with openpyxl 3.1.5: a 10 kB file holding one row of 380,000 empty
cells took 225 MB to open, 4 MiB of styles 50 MB, 8 MiB of shared strings 70 MB. This reader streams each part it needs through expat and keeps only what a
ledger needs: the shared strings (counted), and one row at a time (at most ``max_columns``
cells, each cut at ``max_cell_chars + 1`` characters so that the caller can still tell it was
too long).

The archive is judged by its central directory before anything is unpacked: the number of
members, their total unpacked size, and the packing ratio of each large member. zipfile never
inflates a member past the size its directory entry declares (it stops there and fails the
CRC check), so an archive that understates its sizes gains nothing by it.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final
from xml.parsers import expat

MIB: Final = 1024 * 1024
# A small member may pack very tightly (a sheet of empty formatted cells) and costs nothing.
RATIO_APPLIES_FROM: Final = 1 * MIB
_CHUNK: Final = 64 * 1024
_PACKAGE: Final = ""  # the part whose relationships are /_rels/.rels

Row = tuple[int, list[str]]


@dataclass(frozen=True)
class SheetLimits:
    max_members: int
    max_unpacked_bytes: int
    max_ratio: int
    max_columns: int
    max_cell_chars: int
    max_strings: int


class XlsxRefused(Exception):
    """The workbook cannot be read, or reading it would pass a limit."""

    def __init__(self, message_zh: str, message_en: str, *, too_large: bool = False) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.too_large = too_large


def _damaged(detail: str) -> XlsxRefused:
    return XlsxRefused(
        f"XLSX 文件已损坏或不是 Excel 工作簿，无法读取（{detail}）",
        f"the XLSX file is damaged or not an Excel workbook ({detail})",
    )


# What a damaged or hostile archive makes zipfile and expat raise.
_UNREADABLE: Final = (
    zipfile.BadZipFile,
    zlib.error,
    expat.ExpatError,
    KeyError,  # a part the workbook names is missing
    ValueError,  # a row number or shared-string index that is not a number
    EOFError,
    OSError,
    NotImplementedError,  # a compression method zipfile does not know
    RuntimeError,  # an encrypted member
)


def xlsx_rows(content: bytes, limits: SheetLimits) -> Iterator[Row]:
    """The rows of the workbook's first worksheet: the sheet's row number, and its cells from
    column A as text (formulas as their last computed value, numbers as written). Raises
    :class:`XlsxRefused` when the file is no workbook or passes one of ``limits``."""
    archive = checked_archive(content, limits)
    with archive:
        try:
            sheet, strings_part = _first_worksheet(archive, limits)
            strings = _shared_strings(archive, strings_part, limits) if strings_part else []
            yield from _sheet_rows(archive, sheet, strings, limits)
        except _UNREADABLE as exc:
            raise _damaged(type(exc).__name__) from exc


def checked_archive(content: bytes, limits: SheetLimits) -> zipfile.ZipFile:
    """The archive, once its directory shows it within ``limits``; nothing is unpacked."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise XlsxRefused(
            "文件不是有效的 XLSX 工作簿（不是 zip 压缩包）",
            "the file is not an XLSX workbook (it is not a zip archive)",
        ) from exc
    members = archive.infolist()
    refusal = None
    if len(members) > limits.max_members:
        refusal = XlsxRefused(
            f"XLSX 压缩包内的部件超过 {limits.max_members} 个",
            f"the XLSX archive holds more than {limits.max_members} parts",
            too_large=True,
        )
    elif sum(m.file_size for m in members) > limits.max_unpacked_bytes:
        size = limits.max_unpacked_bytes // MIB
        refusal = XlsxRefused(
            f"XLSX 文件解压后超过 {size} MiB 的上限",
            f"the XLSX file unpacks to more than the limit of {size} MiB",
            too_large=True,
        )
    elif any(
        m.file_size > RATIO_APPLIES_FROM and m.file_size > limits.max_ratio * m.compress_size
        for m in members
    ):
        refusal = XlsxRefused(
            f"XLSX 文件中有部件解压后超过压缩大小的 {limits.max_ratio} 倍（疑为压缩炸弹）",
            f"a part of the XLSX file unpacks to more than {limits.max_ratio} times its packed"
            " size (as a zip bomb does)",
            too_large=True,
        )
    if refusal is not None:
        archive.close()
        raise refusal
    return archive


# --- parts and their relationships --------------------------------------------------------


def _parser(
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> expat.XMLParserType:
    """An expat parser whose handlers see element names without their prefix."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _no_doctype
    parser.StartElementHandler = lambda name, attrs: start(_local(name), attrs)
    if end is not None:
        parser.EndElementHandler = lambda name: end(_local(name))
    if text is not None:
        parser.CharacterDataHandler = text
    return parser


def _fed(archive: zipfile.ZipFile, part: str, parser: expat.XMLParserType) -> Iterator[None]:
    """Feed one part to ``parser`` a chunk at a time, pausing after each chunk."""
    with archive.open(part) as member:
        while chunk := member.read(_CHUNK):
            parser.Parse(chunk, False)
            yield
        parser.Parse(b"", True)
    yield


def _parse(
    archive: zipfile.ZipFile,
    part: str,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> None:
    for _ in _fed(archive, part, _parser(start, end, text)):
        pass


def _no_doctype(*_: object) -> None:
    # No part of a workbook has a DTD; refusing any keeps entity expansion out entirely.
    raise _damaged("DOCTYPE")


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _attribute(attrs: dict[str, str], local: str) -> str | None:
    for name, value in attrs.items():
        if _local(name) == local:
            return value
    return None


def _relationships(
    archive: zipfile.ZipFile, part: str, limits: SheetLimits
) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, part name) of the internal relationships of ``part``."""
    folder, name = posixpath.split(part)
    found: dict[str, tuple[str, str]] = {}

    def start(element: str, attrs: dict[str, str]) -> None:
        if element != "Relationship" or attrs.get("TargetMode") == "External":
            return
        if len(found) >= limits.max_members:
            raise _damaged("more relationships than parts")
        target = attrs.get("Target", "")
        resolved = target[1:] if target.startswith("/") else posixpath.join(folder, target)
        found[attrs.get("Id", "")] = (attrs.get("Type", ""), posixpath.normpath(resolved))

    _parse(archive, posixpath.join(folder, "_rels", f"{name}.rels"), start)
    return found


def _first_worksheet(archive: zipfile.ZipFile, limits: SheetLimits) -> tuple[str, str | None]:
    """The first worksheet's part (a chart sheet is no worksheet) and the shared strings'."""
    workbook = next(
        (
            t
            for kind, t in _relationships(archive, _PACKAGE, limits).values()
            if _is(kind, "officeDocument")
        ),
        None,
    )
    if workbook is None:
        raise _damaged("no workbook part")
    related = _relationships(archive, workbook, limits)
    strings = next((t for kind, t in related.values() if _is(kind, "sharedStrings")), None)
    sheets: list[str] = []

    def start(element: str, attrs: dict[str, str]) -> None:
        if element == "sheet" and not sheets:
            kind, target = related.get(_attribute(attrs, "id") or "", ("", ""))
            if _is(kind, "worksheet"):
                sheets.append(target)

    _parse(archive, workbook, start)
    if not sheets:
        raise _damaged("no worksheet")
    return sheets[0], strings


def _is(relationship_type: str, kind: str) -> bool:
    return relationship_type.rsplit("/", 1)[-1] == kind


# --- text ---------------------------------------------------------------------------------


class _Text:
    """A cell's text, kept only up to one character past the limit."""

    def __init__(self, limit: int) -> None:
        self._room = limit + 1
        self._pieces: list[str] = []

    def add(self, piece: str) -> None:
        if self._room > 0:
            self._pieces.append(piece[: self._room])
            self._room -= len(piece)

    def value(self) -> str:
        return "".join(self._pieces)


def _shared_strings(archive: zipfile.ZipFile, part: str, limits: SheetLimits) -> list[str]:
    strings: list[str] = []
    # The text of <t> counts, but not of <rPh>: the phonetic guide Excel keeps beside some
    # Chinese and Japanese text is not part of the cell's value.
    current: _Text | None = None
    collecting = False
    phonetic = 0

    def start(element: str, _attrs: dict[str, str]) -> None:
        nonlocal current, collecting, phonetic
        if element == "si":
            if len(strings) >= limits.max_strings:
                raise XlsxRefused(
                    f"工作簿中不同的文字超过 {limits.max_strings} 条（所有工作表合计）",
                    f"the workbook holds more than {limits.max_strings} different texts"
                    " (all its sheets together)",
                    too_large=True,
                )
            current = _Text(limits.max_cell_chars)
        elif element == "t" and current is not None and not phonetic:
            collecting = True
        elif element == "rPh":
            phonetic += 1

    def end(element: str) -> None:
        nonlocal current, collecting, phonetic
        if element == "t":
            collecting = False
        elif element == "rPh":
            phonetic -= 1
        elif element == "si" and current is not None:
            strings.append(current.value())
            current = None

    def text(data: str) -> None:
        if collecting and current is not None:
            current.add(data)

    _parse(archive, part, start, end, text)
    return strings


# --- the sheet ----------------------------------------------------------------------------


class _SheetReader:
    """expat handlers gathering one row at a time; finished rows wait in ``done``."""

    def __init__(self, strings: list[str], limits: SheetLimits) -> None:
        self.strings = strings
        self.limits = limits
        self.done: list[Row] = []
        self.row_number = 0
        self.cells: dict[int, str] | None = None
        self.column = 0
        self.cell_type = "n"
        self.value: _Text | None = None
        self.collecting = False
        self.inline = False
        self.phonetic = 0

    def start(self, element: str, attrs: dict[str, str]) -> None:
        if element == "row":
            number = attrs.get("r")
            self.row_number = int(number) if number else self.row_number + 1
            self.cells = {}
            self.column = 0
        elif element == "c" and self.cells is not None:
            reference = attrs.get("r")
            self.column = _column(reference) if reference else self.column + 1
            self.cell_type = attrs.get("t", "n")
            self.value = _Text(self.limits.max_cell_chars)
        elif self.value is None:
            return
        elif element == "v":
            self.collecting = True
        elif element == "is":
            self.inline = True
        elif element == "rPh":
            self.phonetic += 1
        elif element == "t" and self.inline and not self.phonetic:
            self.collecting = True

    def end(self, element: str) -> None:
        if element in ("v", "t"):
            self.collecting = False
        elif element == "is":
            self.inline = False
        elif element == "rPh":
            self.phonetic -= 1
        elif element == "c" and self.value is not None:
            self._keep(self.value.value())
            self.value = None
        elif element == "row" and self.cells is not None:
            width = max(self.cells, default=0)
            self.done.append(
                (self.row_number, [self.cells.get(i, "") for i in range(1, width + 1)])
            )
            self.cells = None

    def text(self, data: str) -> None:
        if self.collecting and self.value is not None:
            self.value.add(data)

    def _keep(self, text: str) -> None:
        if self.cell_type == "s" and text:
            index = int(text)
            if not 0 <= index < len(self.strings):
                raise _damaged("shared string out of range")
            text = self.strings[index]
        if not text or self.cells is None:
            return
        if self.column > self.limits.max_columns:
            raise XlsxRefused(
                f"工作表超过 {self.limits.max_columns} 列",
                f"the worksheet has more than {self.limits.max_columns} columns",
                too_large=True,
            )
        self.cells[self.column] = text


def _column(reference: str) -> int:
    """Column number of a reference such as ``AB12``; past four letters it is beyond any
    limit, so the rest of an absurd reference is never looked at."""
    column = 0
    for letter in reference[:4]:
        if not "A" <= letter <= "Z":
            break
        column = column * 26 + ord(letter) - ord("A") + 1
    return column


def _sheet_rows(
    archive: zipfile.ZipFile, part: str, strings: list[str], limits: SheetLimits
) -> Iterator[Row]:
    reader = _SheetReader(strings, limits)
    # expat pushes; finished rows are handed on after each chunk, so a caller that stops
    # early (the row limit) stops the unpacking too.
    for _ in _fed(archive, part, _parser(reader.start, reader.end, reader.text)):
        done, reader.done = reader.done, []
        yield from done
