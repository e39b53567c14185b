"""A public form with files, read as it arrives: its text fields first, each bounded, then
each file a chunk at a time, handed on without ever being whole in memory or on disk.

Starlette's ``request.form()`` spools a large file part to a temporary file in clear: a
reporter's photo must never sit on a disk unencrypted, so the pages that take files parse
the body themselves with python-multipart's callback parser, pulling the next chunk of the
request only when the reader of the current part asks for more. The form puts its file
input last: a text field after a file is read past and ignored."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import FormData, UploadFile

from intake.schemas import FIELD_LABELS

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

KIB: Final = 1024
#: a text field's bytes unless named below (a summary of 500 characters is 2,000 bytes)
FIELD_BYTES: Final = 2 * KIB
#: the long texts: 10,000 characters, up to 4 UTF-8 bytes each
LONG_FIELDS: Final[Mapping[str, int]] = {"details": 40_000, "text": 40_000}
#: all the text fields of one form together, their part headers included
FIELDS_TOTAL_BYTES: Final = 128 * KIB
#: one part's headers (a phone's file name percent-encoded fits many times over)
HEADER_BYTES: Final = 4 * KIB
#: text fields in one form (each flag ticked is one)
MAX_FIELDS: Final = 64
#: what the body may hold beside one file at its limit: the fields, boundaries, part headers
FORM_ENVELOPE: Final = 1024 * KIB


class FormRefused(Exception):
    """The form is not one the page reads: a field over its bound, too many fields, or not
    a multipart body at all. ``field`` names the input; ``limit_bytes`` the bound passed."""

    def __init__(
        self,
        field_name: str,
        zh: str,
        en: str,
        *,
        limit_bytes: int | None = None,
        so_far: FormData | None = None,
    ) -> None:
        super().__init__(en)
        self.field = field_name
        self.zh = zh
        self.en = en
        self.limit_bytes = limit_bytes
        #: the text fields read before the refusal, to fill the form again
        self.so_far = so_far or FormData()

    def words(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    @property
    def status_code(self) -> int:
        return 413 if self.limit_bytes is not None else 400


def _too_long(name: str, limit: int, so_far: list[tuple[str, str | UploadFile]]) -> FormRefused:
    zh, en = FIELD_LABELS.get(name, ("表单", "the form") if name == "form" else (name, name))
    return FormRefused(
        name,
        f"“{zh}”的内容太长：上限为 {limit} 字节。",
        f"“{en}” is too long: the limit is {limit:,} bytes.",
        limit_bytes=limit,
        so_far=FormData(so_far),
    )


def _unreadable(so_far: list[tuple[str, str | UploadFile]] | None = None) -> FormRefused:
    return FormRefused(
        "form",
        "提交的表单无法读取，请重新打开页面再提交一次。",
        "The form that came could not be read: open the page again and send it again.",
        so_far=FormData(so_far or []),
    )


_HEADERS, _DATA, _END = range(3)


class _Parts:
    """python-multipart's events, pulled one at a time: the request is read a chunk at a
    time, only when no event is waiting, so at most one chunk's data is ever held here."""

    def __init__(self, chunks: AsyncIterable[bytes], boundary: bytes) -> None:
        self._chunks = aiter(chunks)
        self._events: deque[tuple[int, object]] = deque()
        self._name = bytearray()
        self._value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self.header_bytes = 0
        self._finished = False
        self._ended = False
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._begin,
            "on_header_field": self._header_name,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": self._data,
            "on_part_end": lambda: self._events.append((_END, None)),
            "on_end": self._end,
        }
        self._parser = MultipartParser(boundary, callbacks)

    def _begin(self) -> None:
        self._headers = {}
        self.header_bytes = 0

    def _header_name(self, data: bytes, start: int, end: int) -> None:
        self.header_bytes += end - start
        if self.header_bytes <= HEADER_BYTES:
            self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_bytes += end - start
        if self.header_bytes <= HEADER_BYTES:
            self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._name).lower()] = bytes(self._value)
        self._name.clear()
        self._value.clear()

    def _headers_done(self) -> None:
        self._events.append((_HEADERS, self._headers))

    def _data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append((_DATA, bytes(data[start:end])))

    def _end(self) -> None:
        self._ended = True

    async def next(self) -> tuple[int, object] | None:
        """The next event; None once the body is over (FormRefused if it was cut short)."""
        while not self._events:
            if self.header_bytes > HEADER_BYTES:
                raise _unreadable()
            if self._finished:
                return None
            chunk = await anext(self._chunks, None)
            try:
                if chunk is None:
                    self._parser.finalize()
                    self._finished = True
                    if not self._ended:
                        raise _unreadable()
                elif chunk:
                    self._parser.write(chunk)
            except MultipartParseError:
                raise _unreadable() from None
        return self._events.popleft()


def _disposition(headers: object) -> tuple[str, str | None]:
    """The part's field name, and its file name (None for a text field)."""
    assert isinstance(headers, dict)  # noqa: S101 - _HEADERS events carry the dict
    _, options = parse_options_header(headers.get(b"content-disposition", b""))
    name = options.get(b"name", b"").decode("utf-8", "replace")
    filename = options.get(b"filename")
    return name, None if filename is None else filename.decode("utf-8", "replace")


@dataclass
class FilePart:
    """One file of the form. ``shown_name`` is the name the browser gave, for the answer to
    this very request only: it is never stored nor logged."""

    shown_name: str
    chunks: AsyncIterator[bytes]


@dataclass
class StreamedForm:
    """A multipart body being read: :meth:`fields` first, then :meth:`files`."""

    parts: _Parts
    field_bytes: Callable[[str], int] = field(
        default=lambda name: LONG_FIELDS.get(name, FIELD_BYTES)
    )
    _first_file: tuple[str, str] | None = None
    _in_part: bool = False

    async def fields(self) -> FormData:
        """Every text field before the first file, each bounded, and all of them together."""
        read: list[tuple[str, str | UploadFile]] = []
        total = 0
        while (event := await self.parts.next()) is not None:
            if event[0] != _HEADERS:
                continue  # nothing else comes between parts
            total += self.parts.header_bytes
            name, filename = _disposition(event[1])
            if filename is not None:
                self._first_file, self._in_part = (name, filename), True
                break
            if len(read) >= MAX_FIELDS:
                raise FormRefused(
                    "form",
                    f"表单的栏目太多：上限为 {MAX_FIELDS} 个。",
                    f"The form has too many fields: the limit is {MAX_FIELDS}.",
                    limit_bytes=FIELDS_TOTAL_BYTES,
                    so_far=FormData(read),
                )
            value = bytearray()
            limit = self.field_bytes(name)
            while (part := await self.parts.next()) is not None and part[0] == _DATA:
                assert isinstance(part[1], bytes)  # noqa: S101 - _DATA events carry bytes
                value += part[1]
                if len(value) > limit:
                    raise _too_long(name, limit, read)
                if total + len(value) > FIELDS_TOTAL_BYTES:
                    raise _too_long("form", FIELDS_TOTAL_BYTES, read)
            total += len(value)
            read.append((name, value.decode("utf-8", "replace")))
        return FormData(read)

    async def files(self) -> AsyncIterator[FilePart]:
        """Each file chosen, in order; what its reader leaves unread is read past before the
        next. A file input left empty (no name, nothing in it) is no file."""
        pending = self._first_file
        self._first_file = None
        while pending is not None:
            _, shown_name = pending
            if shown_name:
                yield FilePart(shown_name[:200], self._body())
            await self._rest_of_part()
            pending = await self._next_file()

    async def _body(self) -> AsyncIterator[bytes]:
        while self._in_part:
            event = await self.parts.next()
            if event is None or event[0] == _END:
                self._in_part = False
                return
            if event[0] == _DATA:
                assert isinstance(event[1], bytes)  # noqa: S101 - _DATA events carry bytes
                yield event[1]

    async def _rest_of_part(self) -> None:
        while self._in_part:
            event = await self.parts.next()
            if event is None or event[0] == _END:
                self._in_part = False

    async def _next_file(self) -> tuple[str, str] | None:
        while (event := await self.parts.next()) is not None:
            if event[0] != _HEADERS:
                continue
            self._in_part = True
            name, filename = _disposition(event[1])
            if filename is not None:
                return name, filename
            await self._rest_of_part()  # a text field after the files: not read
        return None


def streamed_form(content_type: str, chunks: AsyncIterable[bytes]) -> StreamedForm:
    """The form of a ``multipart/form-data`` body (FormRefused for any other)."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not boundary or len(boundary) > 200:
        raise _unreadable()
    return StreamedForm(_Parts(chunks, boundary))


def is_multipart(content_type: str) -> bool:
    return parse_options_header(content_type)[0] == b"multipart/form-data"


async def plain_form(chunks: AsyncIterable[bytes]) -> FormData:
    """A form sent without files (``application/x-www-form-urlencoded``), read only up to
    the bound of all text fields: the page's path takes a file's worth of body."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > FIELDS_TOTAL_BYTES:
            raise _too_long("form", FIELDS_TOTAL_BYTES, [])
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    if len(pairs) > MAX_FIELDS:
        raise _unreadable()
    return FormData([(name, value) for name, value in pairs])
