"""A ledger import cannot freeze intake: the file is parsed off the event loop, so intake
answers other requests meanwhile, and one file at a time, so a second import waits for the
first to be parsed."""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from intake import importer
from tests.conftest import wait_until
from tests.support.intake import (
    IMPORT_MAX_BYTES,
    IMPORT_MAX_ROWS,
    OWN_VILLAGE,
    reports_stored,
    upload,
)
from tests.support.workbooks import as_xlsx, good_row

pytestmark = pytest.mark.integration

# Common Chinese characters: text that packs about as tightly as a real ledger's.
HANZI = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def hanzi(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(HANZI, k=n))


def maximal_ledger(tag: str) -> bytes:
    """An XLSX ledger at the row limit and just under the size limit: long, varied texts."""
    rng = random.Random(tag)
    valid = [good_row(tag, n) for n in range(20)]
    # Rows with an unknown category: read and answered in full, but quick to refuse.
    filler = [
        ["不存在", hanzi(rng, 20), hanzi(rng, 480), OWN_VILLAGE]
        for _ in range(IMPORT_MAX_ROWS - 20)
    ]
    content = as_xlsx(valid + filler)
    assert IMPORT_MAX_BYTES * 0.7 < len(content) <= IMPORT_MAX_BYTES, len(content)
    return content


class PausedParse:
    """Wraps the XLSX reader so that each parse stops halfway through its rows until
    released, and says when it got there."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.halfway = asyncio.Event()
        self.release = threading.Event()
        self.released_in_time: list[bool] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def __call__(self, real: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def paused(*args: Any) -> Iterator[Any]:
            with self._lock:
                self.active += 1
                self.most_active = max(self.most_active, self.active)
            try:
                for n, row in enumerate(real(*args)):
                    if n == IMPORT_MAX_ROWS // 2:
                        self.loop.call_soon_threadsafe(self.halfway.set)
                        # On the event loop this would block the very answer it waits for.
                        self.released_in_time.append(self.release.wait(timeout=30))
                    yield row
            finally:
                with self._lock:
                    self.active -= 1

        return paused


@pytest.fixture
async def paused_parse(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PausedParse]:
    pause = PausedParse(asyncio.get_running_loop())
    monkeypatch.setattr(importer, "xlsx_rows", pause(importer.xlsx_rows))
    yield pause
    pause.release.set()  # never leave the parse thread waiting, even when the test failed


async def test_intake_answers_other_requests_while_a_maximal_ledger_is_parsed(
    intake: httpx.AsyncClient, streams: JetStreamContext, paused_parse: PausedParse
) -> None:
    tag = uuid.uuid4().hex[:8]
    content = maximal_ledger(tag)
    importing = asyncio.create_task(upload(intake, "摸排台账.xlsx", content))

    await asyncio.wait_for(paused_parse.halfway.wait(), timeout=60)
    health = await intake.get("/healthz")
    parse_was_still_waiting = not importing.done()
    paused_parse.release.set()
    imported = await importing

    assert health.status_code == 200
    assert parse_was_still_waiting
    assert paused_parse.released_in_time == [True]
    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["accepted"], result["rejected"]) == (20, IMPORT_MAX_ROWS - 20)
    assert await reports_stored(streams) == 20


async def test_a_second_import_waits_for_the_first_to_be_parsed(
    intake: httpx.AsyncClient,
    streams: JetStreamContext,
    paused_parse: PausedParse,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    submitted: list[Any] = []
    second_submitted = asyncio.Event()
    real_submit = importer._PARSER.submit

    def submit(*args: Any) -> Any:
        submitted.append(real_submit(*args))
        if len(submitted) == 2:
            second_submitted.set()
        return submitted[-1]

    monkeypatch.setattr(importer._PARSER, "submit", submit)
    first = asyncio.create_task(upload(intake, "甲.xlsx", maximal_ledger("甲")))
    await asyncio.wait_for(paused_parse.halfway.wait(), timeout=60)
    second = asyncio.create_task(upload(intake, "乙.xlsx", as_xlsx([good_row("乙", 1)])))
    await asyncio.wait_for(second_submitted.wait(), timeout=60)

    # A second parse able to run would be running within milliseconds; a whole second
    # passes and it is still queued behind the paused one.
    with pytest.raises(AssertionError):
        await wait_until(submitted[1].running, timeout=1.0)
    paused_parse.release.set()
    answers = await asyncio.gather(first, second)

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert paused_parse.most_active == 1
