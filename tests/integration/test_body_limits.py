"""Every service refuses an oversized body (413) before reading it, authentication or not:
a declared Content-Length over the limit at once, a body sent in chunks as soon as the
bytes received pass it. The handler never runs, and the sender is stopped long before it
has sent its 20 MB. Bodies up to the limit, the largest public report among them, still
go through. Served by uvicorn over a real socket, as in production."""

from __future__ import annotations

import asyncio
import json
import select
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from annotated_types import MaxLen
from fastapi import Body, FastAPI
from nats.js import JetStreamContext

from common.settings import ServiceSettings
from common.vocabulary import Category, Flag
from intake.schemas import PublicReport
from tests.conftest import NatsTarget
from tests.support.apps import token, write_staff
from tests.support.intake import stored_in_intake
from tests.support.suite import SERVICES, create_service, over_http

pytestmark = pytest.mark.integration

LIMIT = ServiceSettings.model_fields["max_body_bytes"].default
TWENTY_MB = 20 * 1024 * 1024
CHUNK = 64 * 1024
JSON = {"Content-Type": "application/json"}
SEND_BUFFER = 128 * 1024
# What the sender may have pushed into the server's socket buffer before the answer came.
FAR_LESS = TWENTY_MB // 8

# A route of each service that anyone may call, and that would read the body first.
PUBLIC_ROUTES = {
    "intake": "/v1/reports",
    "ledger": "/v1/ledger/leads/0123456789abcdef0123456789abcdef/transfer",
    "oversight": "/v1/oversight/cases/0123456789abcdef/supervise",
}


def json_of_size(size: int) -> Iterator[bytes]:
    """A JSON object of exactly ``size`` bytes, in chunks, made as it is sent."""
    yield b'{"pad":"'
    left = size - 10
    while left > 0:
        piece = min(CHUNK, left)
        yield b"x" * piece
        left -= piece
    yield b'"}'


def spy_on(app: FastAPI) -> list[int]:
    """A route with a JSON body, like every command: what its handler was given."""
    heard: list[int] = []

    async def spy(payload: Annotated[dict[str, str], Body()]) -> dict[str, int]:
        heard.append(len(payload["pad"]))
        return {"pad": heard[-1]}

    for path in ("/v1/spy", "/v1/spy/large"):
        app.add_api_route(path, spy, methods=["POST"])
    return heard


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    sent: int  # body bytes the sender had handed to the socket when it stopped


def post_watching_for_an_early_answer(port: int, path: str, size: int, chunked: bool) -> Answer:
    """POST ``size`` bytes as a careful client does (curl, a browser): before each chunk it
    looks whether the server has answered already, and stops sending if so."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        # A small send buffer: what is counted as sent has left for the server.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: service\r\nContent-Type: application/json\r\n"
            f"{framing}\r\n\r\n".encode()
        )
        sent = 0
        for piece in json_of_size(size):
            if select.select([sock], [], [], 0)[0]:
                break  # answered: stop sending
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            except OSError:
                break  # the server closed the connection; its answer is read below
            sent += len(piece)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass  # the server's close after its answer; the answer came before it
    head, _, body = received.partition(b"\r\n\r\n")
    return Answer(int(head.split(b" ", 2)[1]), json.loads(body), sent)


def too_large(answer: Answer) -> None:
    """A 413 in the house style, naming the limit in both languages."""
    assert answer.status == 413, answer
    [problem] = answer.body["detail"]
    assert problem["limit_bytes"] == LIMIT
    assert "太大" in problem["message"]
    assert "256 KiB（262144 字节）" in problem["message"]
    assert "too large" in problem["message_en"]
    assert "256 KiB (262,144 bytes)" in problem["message_en"]


@pytest.mark.parametrize("service", SERVICES)
async def test_a_20_mb_body_is_refused_unread_and_its_sender_stopped_on_every_service(
    service: str, streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    app = create_service(service, nats_target, tmp_path, write_staff(tmp_path / "users.toml"))
    heard = spy_on(app)
    async with over_http(app) as port:
        for path in (PUBLIC_ROUTES[service], "/v1/spy"):
            for chunked in (False, True):
                answer = await asyncio.to_thread(
                    post_watching_for_an_early_answer, port, path, TWENTY_MB, chunked
                )
                too_large(answer)
                assert answer.sent < FAR_LESS, (path, chunked, answer.sent)
    assert heard == []
    if service == "intake":
        assert await stored_in_intake(streams) == 0


async def test_a_body_of_exactly_the_limit_reaches_the_handler_and_one_byte_more_does_not(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    app = create_service("ledger", nats_target, tmp_path, write_staff(tmp_path / "users.toml"))
    heard = spy_on(app)
    async with over_http(app) as port, httpx.AsyncClient(timeout=30, headers=JSON) as client:
        url = f"http://127.0.0.1:{port}/v1/spy"

        async def sent_in_chunks(size: int) -> Any:  # no Content-Length: chunked
            for piece in json_of_size(size):
                yield piece

        for size, declared in ((LIMIT, True), (LIMIT, False)):
            content = b"".join(json_of_size(size)) if declared else sent_in_chunks(size)
            response = await client.post(url, content=content)
            assert response.status_code == 200, (declared, response.text)
            assert response.json() == {"pad": LIMIT - 10}
        for declared in (True, False):
            content = b"".join(json_of_size(LIMIT + 1)) if declared else sent_in_chunks(LIMIT + 1)
            response = await client.post(url, content=content)
            too_large(Answer(response.status_code, response.json(), LIMIT + 1))
    assert heard == [LIMIT - 10, LIMIT - 10]


def largest_public_report() -> dict[str, Any]:
    """Every field of a public report at its longest, in a Chinese character JSON escapes
    to 12 bytes (outside the BMP): the most bytes a valid report can take."""
    widest = "𠮷"
    longest = {
        name: limit.max_length
        for name, field in PublicReport.model_fields.items()
        for limit in field.metadata
        if isinstance(limit, MaxLen)
    }
    report = {
        "category": Category.PROTECTIVE_UMBRELLA.value,
        "summary": widest * longest["summary"],
        "details": widest * longest["details"],
        "village": "shd-v01",
        "flags": [flag.value for flag in Flag],
        "identity": {"name": widest * 50, "phone": "1" * 30, "id_number": "1" * 18}
        | {"address": widest * 200},
        "attachments": [{"name": widest * 200, "size": 10**9, "sha256": "ab" * 32}]
        * longest["attachments"],
    }
    PublicReport.model_validate(report)
    return report


async def test_the_largest_public_report_fits_the_default_limit_and_is_accepted(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    report = largest_public_report()
    body = json.dumps(report).encode()  # escaped, as browsers and httpx send it
    assert 170_000 < len(body) < LIMIT

    app = create_service("intake", nats_target, tmp_path, write_staff(tmp_path / "users.toml"))
    async with over_http(app) as port, httpx.AsyncClient(timeout=30) as client:
        # Entered by a clerk: the same form with its channel, so a few bytes more; the public
        # route would also ask for a proof of work, which has nothing to do with size.
        staff = json.dumps({**report, "channel": "hotline"}).encode()
        response = await client.post(
            f"http://127.0.0.1:{port}/v1/leads",
            content=staff,
            headers={**token("clerk"), **JSON},
        )
    assert response.status_code == 201, response.text[:500]


async def test_a_route_given_a_larger_allowance_takes_a_body_the_others_refuse(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    app = create_service("ledger", nats_target, tmp_path, write_staff(tmp_path / "users.toml"))
    app.state.runtime.allow_body("/v1/spy/large", 4 * LIMIT)
    heard = spy_on(app)
    size = 3 * LIMIT
    async with over_http(app) as port, httpx.AsyncClient(timeout=30, headers=JSON) as client:
        allowed = await client.post(
            f"http://127.0.0.1:{port}/v1/spy/large", content=b"".join(json_of_size(size))
        )
        elsewhere = await asyncio.to_thread(
            post_watching_for_an_early_answer, port, "/v1/spy", size, True
        )
    assert allowed.status_code == 200, allowed.text
    too_large(elsewhere)
    assert heard == [size - 10]
