"""Which limit a path gets, what a refusal says, and refusals the application cannot undo."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from common.limits import BodyLimit, BodyLimits, too_large_body


def test_a_path_gets_the_limit_of_the_longest_prefix_covering_it_by_whole_segments() -> None:
    limits = BodyLimits(1000)
    limits.allow("/v1/leads/import", 5_000_000)
    limits.allow("/v1/leads/import/preview/", 10)

    assert limits.for_path("/v1/leads/import") == 5_000_000
    assert limits.for_path("/v1/leads/import/xlsx") == 5_000_000
    assert limits.for_path("/v1/leads/import/preview") == 10
    assert limits.for_path("/v1/leads/imports") == 1000
    assert limits.for_path("/v1/leads") == 1000


def test_an_allowance_needs_a_path_and_a_size() -> None:
    limits = BodyLimits(1000)
    with pytest.raises(ValueError, match="path"):
        limits.allow("v1/leads", 10)
    with pytest.raises(ValueError, match="size"):
        limits.allow("/v1/leads", -1)


def test_a_refusal_names_the_limit_in_both_languages_in_kib_and_bytes() -> None:
    [whole] = json.loads(too_large_body(256 * 1024))["detail"]
    assert whole["message"] == "提交的内容太大：此处上限为 256 KiB（262144 字节）"
    assert whole["message_en"] == (
        "the request body is too large: the limit here is 256 KiB (262,144 bytes)"
    )
    [odd] = json.loads(too_large_body(1500))["detail"]
    assert odd["message"].endswith("1500 字节")
    assert odd["message_en"].endswith("1,500 bytes")


async def _reading_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body, turns any failure into its own 400, and answers with the size:
    what FastAPI does with a body it cannot read."""
    size, status = 0, 200
    try:
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
    except Exception:
        status = 400
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def _client(limit: int) -> httpx.AsyncClient:
    app = BodyLimit(_reading_app, BodyLimits(limit))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def _chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


async def test_the_413_stands_even_when_the_application_answers_the_failed_read_itself() -> None:
    async with _client(100) as client:
        response = await client.post("/", content=_chunks(3, 40))
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert json.loads(response.content)["detail"][0]["limit_bytes"] == 100


async def test_a_body_within_the_limit_reaches_the_application_whole() -> None:
    async with _client(120) as client:
        chunked = await client.post("/", content=_chunks(3, 40))
        declared = await client.post("/", content=b"x" * 120)
    assert (chunked.status_code, chunked.text) == (200, "120")
    assert (declared.status_code, declared.text) == (200, "120")


async def test_a_content_length_that_is_no_number_is_refused_naming_the_header() -> None:
    app = BodyLimit(_reading_app, BodyLimits(100))
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        raise AssertionError("the body must not be read")

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/", "headers": [(b"content-length", b"12abc")]}
    await app(scope, receive, send)  # type: ignore[arg-type]

    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["detail"][0]["field"] == "Content-Length"  # type: ignore[arg-type]
