"""The ledger's fast path for its hot reads takes only plain requests: anything it does not
answer goes on, untouched, to FastAPI's routes, which refuse what is to be refused."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.fastreads import FastReads, _number, _searchable, _single


class Behind:
    """The application behind the fast path: records what reached it."""

    def __init__(self) -> None:
        self.reached: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.reached.append(f"{scope['method']} {scope['path']}?{scope['query_string'].decode()}")


def request(
    path: str, query: str = "", method: str = "GET", *, token: bool = True
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        # Tokens are what the fast path answers; a request without one goes on anyway.
        "headers": [(b"authorization", b"Bearer not-looked-at")] if token else [],
    }


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("POST", "/v1/ledger/leads", ""),
        ("GET", "/v1/ledger/unanswered", ""),
        ("GET", "/v1/ledger/leads", "status=registered"),
        ("GET", "/v1/ledger/leads", "staus=registered"),
        ("GET", "/v1/ledger/leads", "page=1&page=2"),
        ("GET", "/v1/ledger/leads", "page=0"),
        ("GET", "/v1/ledger/leads", "page=01"),
        ("GET", "/v1/ledger/leads", "page_size=501"),
        ("GET", "/v1/ledger/leads", "page_size=%EF%BC%91"),
        ("GET", "/v1/ledger/leads", "q=ab"),
        ("GET", "/v1/ledger/leads", "q=abc%00"),
        ("GET", "/v1/ledger/leads/a.b", ""),
        ("GET", "/v1/ledger/leads/abc/transfer", ""),
        ("GET", "/v1/ledger/leads/abc", "purpose=" + "x" * 201),
        ("GET", "/v1/ledger/leads/abc", "why=curious"),
        ("GET", "/v1/ledger/stats", "page=1"),
        ("GET", "/desk", ""),
    ],
)
async def test_a_request_the_fast_path_does_not_take_reaches_the_routes_as_it_came(
    method: str, path: str, query: str
) -> None:
    behind = Behind()
    await FastReads(behind)(request(path, query, method), None, None)
    assert behind.reached == [f"{method} {path}?{query}"]


@pytest.mark.parametrize("path", ["/v1/ledger/leads", "/v1/ledger/stats", "/v1/ledger/leads/abc"])
async def test_a_read_with_a_session_and_no_token_goes_to_the_routes_which_renew_its_cookie(
    path: str,
) -> None:
    behind = Behind()
    await FastReads(behind)(request(path, token=False), None, None)
    assert behind.reached == [f"GET {path}?"]


def test_the_query_is_read_as_starlette_reads_it_and_a_repeated_parameter_is_not_taken() -> None:
    assert _single(b"") == {}
    assert _single(b"q=%E9%AB%98%E5%88%A9+%E8%B4%B7&page=2") == {"q": "高利 贷", "page": "2"}
    assert _single(b"page=1&page=1") is None


def test_only_a_plainly_written_number_in_bounds_is_taken() -> None:
    assert _number(None, 50, 500) == 50
    assert _number("500", 50, 500) == 500
    for refused in ("0", "501", "01", "+1", " 1", "1.0", "١", "", "99999999999"):
        assert _number(refused, 50, 500) is None, refused


def test_a_search_is_taken_only_when_the_route_would_take_it() -> None:
    assert _searchable("高利贷")
    assert not _searchable("高利")
    assert not _searchable("x" * 101)
    assert not _searchable("高利贷\x7f")
    assert not _searchable("高利\n贷")
