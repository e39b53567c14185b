"""The security headers every response carries (common.web.SecurityHeaders)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Response
from fastapi.responses import HTMLResponse

from common.web import CONTENT_SECURITY_POLICY, SECURITY_HEADERS, install_web


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/things")
    async def make(body: dict[str, int]) -> dict[str, int]:
        return body

    @app.get("/page")
    async def page() -> HTMLResponse:
        return HTMLResponse("<p>页面</p>")

    @app.get("/framed")
    async def framed() -> Response:
        return Response("x", headers={"X-Frame-Options": "SAMEORIGIN"})

    install_web(app)
    return app


async def _get(method: str, path: str, **kwargs: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, **kwargs)  # type: ignore[arg-type]


async def test_a_json_answer_carries_every_security_header_and_the_policy() -> None:
    answer = await _get("POST", "/v1/things", json={"a": 1})

    assert answer.status_code == 200
    assert answer.json() == {"a": 1}
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "Cache-Control" not in answer.headers


async def test_a_page_is_not_kept_by_a_cache() -> None:
    answer = await _get("GET", "/page")

    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


async def test_an_error_answer_carries_them_too() -> None:
    answer = await _get("GET", "/nowhere")

    assert answer.status_code == 404
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


async def test_the_documentation_pages_keep_their_own_policy_and_the_other_headers() -> None:
    answer = await _get("GET", "/docs")

    assert answer.status_code == 200
    assert "Content-Security-Policy" not in answer.headers
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_header_the_route_set_is_kept() -> None:
    answer = await _get("GET", "/framed")

    assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert answer.headers["Referrer-Policy"] == SECURITY_HEADERS["Referrer-Policy"]
