"""The ledger's hot reads (the list, a search, one lead in full, the statistics) answered
without FastAPI's work per request, when the request is a plain one.

FastAPI spends, on each request, more CPU matching the route and solving its dependencies
and parameters (each of them, present or not) than the list's queries take. A desk asks the
same few things over and over: a page, a search, a lead, the counts. Those requests, with
only parameters whose value is plainly valid, are answered here, from the same application
layer through the same shaping functions (``ledger.api``) and after the same
authentication and role check (``common.auth.require_roles``). Every other request (another
filter, a value to refuse, a parameter given twice or unknown) goes on to FastAPI, which
answers it as before, refusals included: nothing is refused here that FastAPI would not
refuse the same way, since nothing is refused here but by the calls FastAPI's routes make
(a token refused, a lead one may not see), whose exceptions reach the same handlers.

Only requests with a bearer token are taken (scripts, other services, the benchmarks): a
person's session goes to the routes, whose response carries the session's renewed cookie.
It sits in the router's own middleware stack, inside the application's middleware (security
headers, body limits, error handlers), so its answers pass through them all as a route's do.
The routes stay declared, and documented, in ``ledger.api``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import FastAPI, Request
from fastapi.security import HTTPBearer
from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from common.auth import require_roles
from ledger import api
from ledger.projection.queries import READERS, Filters
from ledger.projection.search import SHORTEST

_PREFIX: Final = "/v1/ledger/"
_LEAD_KEY: Final = re.compile(api.LEAD_KEY)

_bearer = HTTPBearer(auto_error=False)
_reader = require_roles(*READERS)

Handler = Callable[[Request, dict[str, str]], Awaitable[Response | None]]


class FastReads:
    """ASGI middleware answering the plain hot reads, passing everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            answered = await self._answer(scope, receive)
            if answered is not None:
                await answered(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive) -> Response | None:
        path: str = scope["path"]
        if not path.startswith(_PREFIX) or not _bearer_sent(scope):
            return None
        rest = path[len(_PREFIX) :]
        given = _single(scope["query_string"])
        if given is None:
            return None
        if rest == "leads":
            return await _list(Request(scope, receive), given)
        if rest == "stats":
            return await _stats(Request(scope, receive), given)
        if rest.startswith("leads/") and _LEAD_KEY.fullmatch(key := rest[len("leads/") :]):
            return await _one(Request(scope, receive), key, given)
        return None


def install(app: FastAPI) -> None:
    """Put the fast path in front of ``app``'s routes (after its routers are included)."""
    app.router.middleware_stack = FastReads(app.router.middleware_stack)


def _bearer_sent(scope: Scope) -> bool:
    """Only a request with a token: a person's session renews its cookie on each use
    (common.auth.current_principal sets it on the route's response), which FastAPI's route
    sends and this path would drop."""
    return any(
        name == b"authorization" and value[:7].lower() == b"bearer "
        for name, value in scope["headers"]
    )


def _single(query: bytes) -> dict[str, str] | None:
    """The query's parameters as Starlette reads them for FastAPI, each given once; None
    when one is given more than once (FastAPI refuses that, and says so)."""
    if not query:
        return {}
    pairs = QueryParams(query).multi_items()
    found = dict(pairs)
    return found if len(found) == len(pairs) else None


def _number(text: str | None, default: int, largest: int) -> int | None:
    """A plainly written whole number from 1 to ``largest``, or None when it is anything
    else (for FastAPI to judge)."""
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or text[0] == "0" or len(text) > len(str(largest)):
        return None
    number = int(text)
    return number if 1 <= number <= largest else None


def _searchable(text: str) -> bool:
    return SHORTEST <= len(text) <= api.LONGEST_SEARCH and not any(
        c < " " or c == "\x7f" for c in text
    )


async def _list(request: Request, given: dict[str, str]) -> Response | None:
    if not given.keys() <= {"page", "page_size", "q"}:
        return None
    page = _number(given.get("page"), 1, api.MAX_PAGE)
    size = _number(given.get("page_size"), api.DEFAULT_PAGE_SIZE, api.LARGEST_PAGE_SIZE)
    words = given.get("q")
    if page is None or size is None or (words is not None and not _searchable(words)):
        return None
    principal = await _reader(request, Response(), await _bearer(request))
    return await api.listed(request, principal, Filters(q=words), page, size)


async def _one(request: Request, key: str, given: dict[str, str]) -> Response | None:
    if not given.keys() <= {"purpose"}:
        return None
    purpose = given.get("purpose", "")
    if len(purpose) > api.LONGEST_PURPOSE:
        return None
    principal = await _reader(request, Response(), await _bearer(request))
    return await api.in_full(request, key, principal, purpose)


async def _stats(request: Request, given: dict[str, str]) -> Response | None:
    if given:
        return None
    principal = await _reader(request, Response(), await _bearer(request))
    return await api.counted(request, principal)
