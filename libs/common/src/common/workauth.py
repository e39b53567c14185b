"""The client's side of intake's proof of work, as an httpx auth flow: a public request
first fetches a challenge, solves it and sends the proof. Used by our own clients (the demo
loader, the tests); a browser does the same in JavaScript."""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Final

import httpx

from common.work import HEADER, Purpose, solve

_RECEIPT_PATH: Final = re.compile(r"^/v1/reports/[^/]+(/messages|/files)?$")


def public_purpose(request: httpx.Request) -> Purpose | None:
    """What intake's public routes ask work for: a report, or a look-up by receipt."""
    path = request.url.path
    if path == "/v1/reports" and request.method == "POST":
        return Purpose.REPORT
    if _RECEIPT_PATH.match(path):
        return Purpose.RECEIPT
    return None


class WorkAuth(httpx.Auth):
    requires_response_body = True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        purpose = public_purpose(request)
        if purpose is None or HEADER in request.headers:
            yield request
            return
        challenge = yield httpx.Request(
            "GET", request.url.copy_with(path=f"/v1/work/{purpose}", query=None)
        )
        challenge.raise_for_status()
        given = challenge.json()
        request.headers[HEADER] = solve(given["challenge"], given["bits"])
        yield request
