"""How large a request body may be, enforced before anything reads it.

A FastAPI route reads the whole body before its dependencies run, authentication included:
without a bound, anyone could make a service hold any number of megabytes. The
:class:`BodyLimit` middleware answers 413 at once when the declared Content-Length is over
the limit, and, for a body sent in chunks without one, as soon as the bytes received pass
it; the application never sees the rest. Some routes take more (a file import): they are
given their own limit by path.
"""

from __future__ import annotations

import json
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

KIB: Final = 1024


class BodyLimits:
    """A default limit, and larger (or smaller) ones for paths under given prefixes."""

    def __init__(self, default: int) -> None:
        self.default = default
        self._by_prefix: dict[str, int] = {}

    def allow(self, path_prefix: str, max_bytes: int) -> None:
        """Bodies up to ``max_bytes`` on ``path_prefix`` and the paths below it (whole path
        segments: ``/v1/leads/import`` does not cover ``/v1/leads/imports``; a segment
        ``*`` stands for any one segment, as in ``/v1/reports/*/files``)."""
        if not path_prefix.startswith("/") or max_bytes < 0:
            raise ValueError(f"a path starting with '/' and a size >= 0: {path_prefix!r}")
        self._by_prefix[path_prefix.rstrip("/") or "/"] = max_bytes

    def for_path(self, path: str) -> int:
        """The limit of the longest prefix covering ``path``."""
        best, limit = -1, self.default
        for prefix, max_bytes in self._by_prefix.items():
            if _covers(prefix, path) and len(prefix) > best:
                best, limit = len(prefix), max_bytes
        return limit


def _covers(prefix: str, path: str) -> bool:
    if prefix == "/":
        return True
    wanted, given = prefix.split("/"), path.split("/")
    return len(given) >= len(wanted) and all(
        w == g or (w == "*" and g != "") for w, g in zip(wanted, given, strict=False)
    )


def _size(max_bytes: int) -> tuple[str, str]:
    """The limit in words, (zh, en): KiB when whole, and always the exact bytes."""
    if max_bytes >= KIB and max_bytes % KIB == 0:
        return (
            f"{max_bytes // KIB} KiB（{max_bytes} 字节）",
            f"{max_bytes // KIB} KiB ({max_bytes:,} bytes)",
        )
    return f"{max_bytes} 字节", f"{max_bytes:,} bytes"


def too_large_body(max_bytes: int) -> bytes:
    zh, en = _size(max_bytes)
    return json.dumps(
        {
            "detail": [
                {
                    "field": "body",
                    "message": f"提交的内容太大：此处上限为 {zh}",
                    "message_en": f"the request body is too large: the limit here is {en}",
                    "limit_bytes": max_bytes,
                }
            ]
        },
        ensure_ascii=False,
    ).encode()


def _bad_length_body() -> bytes:
    return json.dumps(
        {
            "detail": [
                {
                    "field": "Content-Length",
                    "message": "Content-Length 不是有效的字节数",
                    "message_en": "Content-Length is not a valid number of bytes",
                }
            ]
        },
        ensure_ascii=False,
    ).encode()


async def _answer(send: Send, status: int, body: bytes) -> None:
    # Closing the connection: the rest of the body is not read, so the connection cannot
    # carry another request, and the client stops sending as soon as it notices.
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    """Raised into the application when its next read would pass the limit."""


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length, None when absent; -1 when it is not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None


class BodyLimit:
    """Pure ASGI middleware bounding every HTTP request body by :class:`BodyLimits`."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope["path"])
        declared = _declared_length(scope)
        if declared == -1:
            await _answer(send, 400, _bad_length_body())
            return
        if declared is not None and declared > limit:
            await _answer(send, 413, too_large_body(limit))
            return

        received = 0
        refused = False
        answering = False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise _BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal answering
            # Whatever the application makes of the refusal (FastAPI turns a failed read
            # into a 400), the answer is the 413.
            if refused and not answering:
                return
            if message["type"] == "http.response.start":
                answering = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            # Raised by the refusal, however the application wrapped it; once the
            # application has begun its answer, nothing else can be said.
            if not refused or answering:
                raise
        if refused and not answering:
            await _answer(send, 413, too_large_body(limit))
