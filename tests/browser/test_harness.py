"""The browser harness itself: a page with Chinese text and a script file, served over HTTP,
renders in Chromium; and what a page reports as broken is caught."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from playwright.async_api import Browser, Page

from tests.browser.conftest import PageProblems, Screenshots

TITLE = "线索受理 Lead intake"
SCRIPT_RAN = "脚本已运行 Script ran"


def tiny_app() -> FastAPI:
    app = FastAPI()

    def page(script: str) -> str:
        return (
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<title>{TITLE}</title><link rel="icon" href="data:,"></head>'
            f'<body><h1 id="title">{TITLE}</h1><p id="status">脚本未运行 Script did not run</p>'
            f'<script src="/static/{script}"></script></body></html>'
        )

    def javascript(source: str) -> Response:
        return Response(source, media_type="text/javascript; charset=utf-8")

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return page("app.js")

    @app.get("/broken", response_class=HTMLResponse)
    def broken() -> str:
        return page("broken.js")

    @app.get("/static/app.js")
    def app_js() -> Response:
        return javascript(f'document.getElementById("status").textContent = "{SCRIPT_RAN}";')

    @app.get("/static/broken.js")
    def broken_js() -> Response:
        return javascript(
            'console.warn("只是警告 only a warning");\n'
            'console.error("故意的错误 deliberate console error");\n'
            'throw new Error("故意的异常 deliberate uncaught exception");\n'
        )

    return app


async def test_a_chinese_page_with_a_script_renders_in_chromium(
    page: Page, screenshot: Screenshots, serve: Callable[[FastAPI], Awaitable[str]]
) -> None:
    base_url = await serve(tiny_app())

    response = await page.goto(f"{base_url}/")

    assert response is not None
    assert response.ok
    assert await page.inner_text("#title") == TITLE
    assert await page.inner_text("#status") == SCRIPT_RAN
    shot = await screenshot(page, "首页 home")
    assert shot.parent.name == "test_harness.test_a_chinese_page_with_a_script_renders_in_chromium"
    assert shot.name == "01-首页_home.png"
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


async def test_console_errors_and_uncaught_exceptions_fail_the_page(
    browser: Browser, serve: Callable[[FastAPI], Awaitable[str]]
) -> None:
    base_url = await serve(tiny_app())
    context = await browser.new_context()
    try:
        second = await context.new_page()
        problems = PageProblems().attach(second)
        async with (
            second.expect_event("pageerror"),
            second.expect_console_message(lambda message: message.type == "error"),
        ):
            await second.goto(f"{base_url}/broken")
    finally:
        await context.close()

    assert len(problems.problems) == 2, problems.problems
    console_error, page_error = sorted(problems.problems)
    assert console_error.startswith("console.error: 故意的错误 deliberate console error (")
    assert "/static/broken.js:" in console_error
    assert page_error == "page error: Error: 故意的异常 deliberate uncaught exception"
    with pytest.raises(pytest.fail.Exception, match="deliberate console error"):
        problems.fail_if_any()


async def test_a_clean_page_reports_no_problems(
    browser: Browser, serve: Callable[[FastAPI], Awaitable[str]]
) -> None:
    base_url = await serve(tiny_app())
    context = await browser.new_context()
    try:
        clean = await context.new_page()
        problems = PageProblems().attach(clean)
        await clean.goto(f"{base_url}/")
        assert await clean.inner_text("#status") == SCRIPT_RAN
    finally:
        await context.close()

    assert problems.problems == []
    problems.fail_if_any()
