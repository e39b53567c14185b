"""The browser harness: pages tested in a real Chromium, Debian's, driven by Playwright.

Playwright's own browser download is not used: the browser is the ``chromium`` on PATH and
the CJK font comes from the system (``tools/install-browser.sh``, run by ``make test``).
Without them the browser tests skip and say what to run; under ``CI=true`` they fail.

Fixtures:
- ``browser``: one headless Chromium for the session.
- ``page``: a fresh context and page per test; any console error or uncaught page error
  fails the test at teardown, and each is printed.
- ``screenshot``: ``await screenshot(page, "name")`` saves a full-page PNG as
  ``var/screenshots/<module>.<test>/<nn>-<name>.png``.
- ``serve``: ``base_url = await serve(app)`` runs a FastAPI app under uvicorn on a free port
  until the test ends, so that Chromium reaches it over real HTTP.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright
from playwright.async_api import Response as PageResponse

from tests.conftest import ROOT, _note
from tests.support.suite import over_http

SCREENSHOTS = ROOT / "var" / "screenshots"
INSTALL_COMMAND = "tools/install-browser.sh"


def _missing() -> str | None:
    """What the machine lacks for the browser tests, in a sentence; None if nothing."""
    if shutil.which("chromium") is None:
        return "no `chromium` on PATH"
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return "no `fc-list` (fontconfig) to find a CJK font"
    fonts = subprocess.run(  # noqa: S603 - a fixed command found on PATH
        [fc_list, ":lang=zh", "family"], capture_output=True, text=True, check=False
    ).stdout
    if not fonts.strip():
        return "no CJK font (fc-list :lang=zh is empty): Chinese would render as boxes"
    return None


def _require_browser() -> str:
    missing = _missing()
    if missing is not None:
        reason = (
            f"browser tests need Debian's Chromium and a CJK font: {missing}; "
            f"run `{INSTALL_COMMAND}` as root (it apt-get installs chromium fonts-noto-cjk)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    path = shutil.which("chromium")
    assert path is not None
    return path


@pytest.fixture(scope="session")
async def browser(request: pytest.FixtureRequest) -> AsyncIterator[Browser]:
    executable = _require_browser()
    async with async_playwright() as playwright:
        # Playwright passes --no-sandbox unless the sandbox is asked for; Chromium refuses to
        # start sandboxed as root, so the sandbox stays on for everyone else.
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, chromium_sandbox=os.geteuid() != 0
        )
        _note(request.config, f"browser: Chromium {launched.version} at {executable}")
        try:
            yield launched
        finally:
            await launched.close()


class PageProblems:
    """Records what a page reports as broken: console messages of type error and uncaught
    exceptions. Attach it before the page loads anything."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        # Pages the server answered with a 4xx on purpose (a refused form shown with its
        # message is a 422 page): Chromium logs their status as a failed resource.
        self._answered_4xx: set[str] = set()

    def attach(self, page: Page) -> PageProblems:
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        page.on("response", self._response)
        return self

    def _response(self, response: PageResponse) -> None:
        request = response.request
        if request.is_navigation_request() and 400 <= response.status < 500:
            self._answered_4xx.add(response.url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location
            if (
                message.text.startswith("Failed to load resource")
                and where.get("url") in self._answered_4xx
            ):
                return  # the page itself, shown with the status it was meant to have
            self.problems.append(
                f"console.error: {message.text} "
                f"({where.get('url', '?')}:{where.get('lineNumber', '?')})"
            )

    def _page_error(self, error: Error) -> None:
        self.problems.append(f"page error: {error.name}: {error.message}")

    def fail_if_any(self) -> None:
        if not self.problems:
            return
        report = "\n".join(f"  - {problem}" for problem in self.problems)
        print(f"the page reported {len(self.problems)} problem(s):\n{report}")  # noqa: T201
        pytest.fail(f"the page reported console errors or page errors:\n{report}")


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A page in a context of its own (no cookies or storage shared between tests)."""
    context = await browser.new_context(locale="zh-CN")
    opened = await context.new_page()
    problems = PageProblems().attach(opened)
    try:
        yield opened
    finally:
        await context.close()
    problems.fail_if_any()


class Screenshots:
    """Full-page screenshots of one test, numbered in the order taken."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken = 0

    async def __call__(self, page: Page, name: str) -> Path:
        self.taken += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.taken:02d}-{_slug(name)}.png"
        await page.screenshot(path=path, full_page=True)
        return path


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_") or "_"


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshots:
    # The module is part of the folder's name: two modules may well have tests of one name.
    module = Path(str(request.node.path)).stem
    folder = SCREENSHOTS / _slug(f"{module}.{request.node.name}")
    # A rerun replaces the test's screenshots rather than mixing them with the last run's.
    shutil.rmtree(folder, ignore_errors=True)
    return Screenshots(folder)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[FastAPI], Awaitable[str]]]:
    async with AsyncExitStack() as stack:

        async def start(app: FastAPI) -> str:
            port = await stack.enter_async_context(over_http(app))
            return f"http://127.0.0.1:{port}"

        yield start
