"""The lists' look at LEDGER's last sequence, shared by the reads that ask at the same
moment: a read never takes a look begun before it asked (it could miss a write the reader
made just before), and a failed look fails the reads that waited for it, not later ones."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from nats.js.errors import NotFoundError

from ledger.application.reading import _LastSequence


class Stream:
    """LEDGER as the look sees it: its last sequence at the moment each look begins; a
    look answers only when the test lets it."""

    def __init__(self) -> None:
        self.last = 0
        self.looks = 0
        #: each look as it begins: set it to let the look answer
        self.begun: asyncio.Queue[asyncio.Event] = asyncio.Queue()
        self.failure: Exception | None = None

    async def get_msg(self, stream: str, **_: Any) -> SimpleNamespace:
        seen = self.last  # what the stream holds as the look begins
        answered = asyncio.Event()
        self.looks += 1
        self.begun.put_nowait(answered)
        await answered.wait()
        if self.failure is not None:
            raise self.failure
        if seen == 0:
            raise NotFoundError()
        return SimpleNamespace(seq=seen)


def runtime_over(stream: Stream) -> Any:
    return SimpleNamespace(js=stream, store=lambda _: SimpleNamespace(subject_prefix="ledger.lead"))


async def test_reads_asking_together_share_one_look() -> None:
    stream = Stream()
    stream.last = 7
    last = _LastSequence(runtime_over(stream))
    reads = [asyncio.create_task(last.now()) for _ in range(5)]
    (await stream.begun.get()).set()
    assert await asyncio.gather(*reads) == [7] * 5
    assert stream.looks == 1


async def test_a_read_asking_during_a_look_waits_for_the_next() -> None:
    stream = Stream()
    stream.last = 7
    last = _LastSequence(runtime_over(stream))
    first = asyncio.create_task(last.now())
    looking = await stream.begun.get()
    # Written while the first look is on its way: the read asking now must see it.
    stream.last = 8
    second = asyncio.create_task(last.now())
    looking.set()
    assert await first == 7
    (await stream.begun.get()).set()
    assert await second == 8
    assert stream.looks == 2


async def test_an_empty_stream_is_sequence_zero() -> None:
    stream = Stream()
    last = _LastSequence(runtime_over(stream))
    read = asyncio.create_task(last.now())
    (await stream.begun.get()).set()
    assert await read == 0


async def test_a_failed_look_fails_its_reads_and_the_next_look_is_made_anew() -> None:
    stream = Stream()
    stream.last = 3
    stream.failure = TimeoutError()
    last = _LastSequence(runtime_over(stream))
    read = asyncio.create_task(last.now())
    (await stream.begun.get()).set()
    with pytest.raises(TimeoutError):
        await read
    stream.failure = None
    again = asyncio.create_task(last.now())
    (await stream.begun.get()).set()
    assert await again == 3


async def test_a_read_given_up_leaves_the_others_their_answer() -> None:
    stream = Stream()
    stream.last = 5
    last = _LastSequence(runtime_over(stream))
    leaving, staying = asyncio.create_task(last.now()), asyncio.create_task(last.now())
    looking = await stream.begun.get()
    leaving.cancel()
    looking.set()
    assert await staying == 5
    assert leaving.cancelled()
