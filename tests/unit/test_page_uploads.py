"""The public pages' form parse (intake.pages.uploads): the text fields come first, each and
all of them bounded; the files then come one at a time, read from the body only as their
reader asks, whatever the size of the chunks the body arrives in."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from intake.pages.uploads import (
    FIELD_BYTES,
    FIELDS_TOTAL_BYTES,
    FormRefused,
    plain_form,
    streamed_form,
)

BOUNDARY = "----boundary7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    """(field name, file name or None for a text field, content), in order."""
    body = bytearray()
    for name, filename, content in parts:
        body += f"--{BOUNDARY}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"Content-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            body += b"Content-Type: application/octet-stream\r\n"
        body += b"\r\n" + content + b"\r\n"
    body += f"--{BOUNDARY}--\r\n".encode()
    return bytes(body)


class Body:
    """The body in chunks of a given size, counting how many were taken."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data = data
        self.size = size
        self.taken = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.size):
            self.taken += 1
            yield self.data[start : start + self.size]

    @property
    def chunks(self) -> int:
        return -(-len(self.data) // self.size)


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


@pytest.mark.parametrize("chunk", [1, 7, 100, 64 * 1024])
async def test_fields_come_first_then_each_file_whole_in_order(chunk: int) -> None:
    photo, document = os.urandom(300_000), b"%PDF-1.4\r\n--not a boundary\r\n" * 40
    body = Body(
        multipart(
            ("summary", None, "村里有人强收保护费".encode()),
            ("flags", None, b"a"),
            ("flags", None, b"b"),
            ("files", "IMG_0001.jpg", photo),
            ("files", "证据.pdf", document),
        ),
        chunk,
    )
    form = streamed_form(CONTENT_TYPE, body)

    fields = await form.fields()
    assert fields["summary"] == "村里有人强收保护费"
    assert fields.getlist("flags") == ["a", "b"]
    # The first file has not been read: only what it took to find where the fields end.
    assert body.taken < body.chunks or (chunk == 64 * 1024 and body.chunks <= 6)

    got = [(part.shown_name, await read_all(part.chunks)) async for part in form.files()]
    assert got == [("IMG_0001.jpg", photo), ("证据.pdf", document)]
    assert body.taken == body.chunks


async def test_a_file_is_read_from_the_body_only_as_its_reader_asks() -> None:
    video = os.urandom(1_000_000)
    body = Body(multipart(("work", None, b"x"), ("files", "v.mp4", video)), 10_000)
    form = streamed_form(CONTENT_TYPE, body)
    await form.fields()

    async for part in form.files():
        first = await anext(part.chunks)
        assert first
        # one chunk of the body for one chunk of the file, not the whole file
        assert body.taken <= 3
        rest = await read_all(part.chunks)
        assert first + rest == video
    assert body.taken == body.chunks


async def test_what_a_reader_leaves_unread_is_read_past_and_the_next_file_comes_whole() -> None:
    program, photo = b"MZ" + os.urandom(50_000), os.urandom(20_000)
    form = streamed_form(
        CONTENT_TYPE,
        Body(multipart(("files", "a.jpg", program), ("files", "b.jpg", photo)), 4096),
    )
    await form.fields()
    seen = []
    async for part in form.files():
        if part.shown_name == "a.jpg":
            await anext(part.chunks)  # refused on its first bytes: nothing more is asked
            seen.append(part.shown_name)
        else:
            seen.append(part.shown_name)
            assert await read_all(part.chunks) == photo
    assert seen == ["a.jpg", "b.jpg"]


async def test_a_form_without_files_and_an_empty_file_input_give_no_file() -> None:
    for body in (
        multipart(("summary", None, b"only text")),
        multipart(("summary", None, b"only text"), ("files", "", b"")),
    ):
        form = streamed_form(CONTENT_TYPE, Body(body, 13))
        assert (await form.fields())["summary"] == "only text"
        assert [part async for part in form.files()] == []


async def test_a_text_field_after_the_files_is_not_read() -> None:
    form = streamed_form(
        CONTENT_TYPE,
        Body(multipart(("files", "a.pdf", b"%PDF"), ("late", None, b"ignored")), 50),
    )
    assert dict(await form.fields()) == {}
    names = [(p.shown_name, await read_all(p.chunks)) async for p in form.files()]
    assert names == [("a.pdf", b"%PDF")]


async def test_a_text_field_over_its_bound_is_refused_naming_it_and_the_limit() -> None:
    form = streamed_form(
        CONTENT_TYPE,
        Body(
            multipart(
                ("idempotency_key", None, b"k" * 32),
                ("summary", None, "长".encode() * FIELD_BYTES),
                ("files", "a.jpg", b"never read"),
            ),
            1000,
        ),
    )
    with pytest.raises(FormRefused) as refused:
        await form.fields()
    assert refused.value.field == "summary"
    assert refused.value.limit_bytes == FIELD_BYTES
    assert refused.value.status_code == 413
    assert f"{FIELD_BYTES} 字节" in refused.value.words("zh")
    assert "简要内容" in refused.value.words("zh")
    assert f"{FIELD_BYTES:,} bytes" in refused.value.words("en")
    # what came before it fills the form again
    assert refused.value.so_far["idempotency_key"] == "k" * 32


async def test_all_the_text_fields_together_are_bounded() -> None:
    # each within its own bound (details: 40,000 bytes), too many together
    many = [("details", None, b"x" * 39_000) for _ in range(4)]
    form = streamed_form(CONTENT_TYPE, Body(multipart(*many), 8192))
    with pytest.raises(FormRefused) as refused:
        await form.fields()
    assert refused.value.field == "form"
    assert refused.value.limit_bytes == FIELDS_TOTAL_BYTES


async def test_a_body_cut_short_or_not_multipart_is_refused() -> None:
    whole = multipart(("summary", None, b"text"), ("files", "a.jpg", b"x" * 1000))
    form = streamed_form(CONTENT_TYPE, Body(whole[:-200], 64))
    await form.fields()
    part = await anext(form.files())
    with pytest.raises(FormRefused) as cut:
        await read_all(part.chunks)
    assert cut.value.status_code == 400

    with pytest.raises(FormRefused):
        streamed_form("application/json", Body(b"{}", 2))
    with pytest.raises(FormRefused):
        streamed_form("multipart/form-data", Body(whole, 64))  # no boundary


async def test_a_part_with_endless_headers_is_refused_without_reading_on() -> None:
    endless = f"--{BOUNDARY}\r\nX-Padding: ".encode() + b"p" * 1_000_000
    body = Body(endless, 1024)
    form = streamed_form(CONTENT_TYPE, body)
    with pytest.raises(FormRefused):
        await form.fields()
    assert body.taken < 10


async def test_a_form_without_files_is_read_within_the_fields_bound() -> None:
    form = await plain_form(Body(b"summary=%E6%9D%91&flags=a&flags=b&details=", 5))
    assert form["summary"] == "村"
    assert form.getlist("flags") == ["a", "b"]
    assert form["details"] == ""
    big = Body(b"details=" + b"x" * (4 * FIELDS_TOTAL_BYTES), 4096)
    with pytest.raises(FormRefused) as refused:
        await plain_form(big)
    assert refused.value.limit_bytes == FIELDS_TOTAL_BYTES
    assert big.taken < big.chunks
