"""What every service taking evidence files over HTTP shares: reading an upload's body as
it arrives (its first bytes to judge the type, a photo whole within its bound, anything else
passed on while its markers are looked for) and the refusals of a file too large (413) or
of a kind not kept (415), each naming the field and the limit, in Chinese and English.

The ledger's staff files use these; intake's reporters' files have the same shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from fastapi import Request, status
from fastapi.responses import JSONResponse

from common.evidence import CHUNK_BYTES, EvidenceTooLarge
from common.evidence_files import ACCEPTED_WORDS, MarkerScan

#: when to send again after the spool's disk had no room (common.evidence.EvidenceSpoolFull)
SPOOL_RETRY_SECONDS: Final = 30


async def first_bytes(body: AsyncIterator[bytes], wanted: int) -> bytes:
    """At least ``wanted`` bytes from the start of the body (fewer if it is shorter)."""
    head = bytearray()
    async for part in body:
        head += part
        if len(head) >= wanted:
            break
    return bytes(head)


async def whole(head: bytes, body: AsyncIterator[bytes], limit: int) -> bytes:
    """The rest of the body after ``head``, all of it, refused past ``limit`` bytes."""
    data = bytearray(head)
    if len(data) > limit:
        raise EvidenceTooLarge(limit)
    async for part in body:
        data += part
        if len(data) > limit:
            raise EvidenceTooLarge(limit)
    return bytes(data)


async def pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start : start + CHUNK_BYTES]


async def scanned(
    head: bytes, body: AsyncIterator[bytes], scan: MarkerScan
) -> AsyncIterator[bytes]:
    """``head`` then the body, every part shown to ``scan`` on the way."""
    scan.feed(head)
    yield head
    async for part in body:
        scan.feed(part)
        yield part


async def then(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


async def too_large(_: Request, exc: Exception) -> JSONResponse:
    """413 naming the file's limit (install for EvidenceTooLarge)."""
    assert isinstance(exc, EvidenceTooLarge)  # noqa: S101 - installed for this type only
    mib = exc.limit / (1024 * 1024)
    return JSONResponse(
        {
            "detail": [
                {
                    "field": "file",
                    "message": f"文件太大：上限为 {mib:.1f} MiB（{exc.limit} 字节）",
                    "message_en": f"the file is too large: the limit here is {mib:.1f} MiB"
                    f" ({exc.limit:,} bytes)",
                    "limit_bytes": exc.limit,
                }
            ]
        },
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
    )


async def refused_type(_: Request, __: Exception) -> JSONResponse:
    """415 naming what is accepted (install for common.evidence_files.FileRefused)."""
    zh, en = ACCEPTED_WORDS
    return JSONResponse(
        {
            "detail": [
                {
                    "field": "file",
                    "message": f"不接受此类文件（按文件内容判断），只接受：{zh}",
                    "message_en": f"this kind of file is not accepted (judged from its"
                    f" content); accepted: {en}",
                }
            ]
        },
        status_code=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    )


async def spool_full(_: Request, __: Exception) -> JSONResponse:
    """503 with Retry-After: no room on the spool's disk now (install for EvidenceSpoolFull)."""
    return JSONResponse(
        {
            "detail": [
                {
                    "field": "file",
                    "message": "服务器暂时无法接收文件，请稍后重试",
                    "message_en": "the server cannot take a file just now; send it again later",
                }
            ]
        },
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(SPOOL_RETRY_SECONDS)},
    )
