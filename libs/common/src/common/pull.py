"""Pulling from a JetStream consumer with our own ``MSG.NEXT`` requests.

nats-py's ``fetch()`` makes a task and a timeout per message and tops out near 12-15k
messages/s here; a push ordered consumer is fast but drops messages once its client-side
buffer fills (a slow consumer) while the database is busy. This keeps one pull request in
flight on one callback subscription and asks again only when that request is done and what
is buffered is less than a batch, so memory is bounded and nothing is ever dropped.

One request at a time is deliberate: two requests on two subscriptions are served by two
client tasks and lose the stream's order; the gap between requests is one round trip per
batch (well under a millisecond here).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Final, NamedTuple

import nats.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

_STATUS: Final = "Status"
_DESCRIPTION: Final = "Description"
# 404 no messages, 408 request expired, 409 consumer changed or limits: the request is over.
_REQUEST_ENDED: Final = frozenset({"404", "408", "409"})


class ConsumerGone(Exception):
    """The consumer was deleted (or never was): nobody answers its pull requests."""


class Position(NamedTuple):
    """What a JetStream delivery's reply subject says, parsed without building a datetime
    (a named tuple: one is made for every message delivered)."""

    stream_sequence: int
    delivered: int
    pending: int
    timestamp_ns: int


def position_of(msg: Msg) -> Position:
    # $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>;
    # newer servers put a domain and an account hash after $JS.ACK and may append a random
    # token, so count from the front, as nats-py does.
    tokens = (msg.reply or "").split(".")
    if len(tokens) == 9:
        at = 2
    elif len(tokens) >= 11:
        at = 4
    else:
        raise ValueError(f"not a JetStream delivery: {msg.reply!r}")
    if tokens[0] != "$JS" or tokens[1] != "ACK":
        raise ValueError(f"not a JetStream delivery: {msg.reply!r}")
    # stream sequence, delivered count, pending, timestamp: positional, it is per message.
    return Position(
        int(tokens[at + 3]), int(tokens[at + 2]), int(tokens[at + 6]), int(tokens[at + 5])
    )


class Puller:
    """Batches from one consumer, in stream order, at most about two batches buffered."""

    def __init__(
        self, nc: Client, stream: str, consumer: str, batch_size: int = 500, expires: float = 5.0
    ) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.batch_size = batch_size
        self.expires = expires
        self._buffer: deque[Msg] = deque()
        self._arrived = asyncio.Event()
        self._inbox = ""
        self._sub: Subscription | None = None
        self._in_flight = False
        self._gone: str | None = None
        self._requested = 0
        self._received = 0
        self._sent_at = 0.0

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(
            self._inbox, cb=self._on_message, pending_msgs_limit=self.batch_size * 2 + 100
        )

    async def close(self) -> None:
        """Hand whatever was pulled and not taken back to the server (rather than leave it
        to the ack wait), then stop. Redelivered only once the pull request in flight has
        expired: the server would otherwise hand it to that request again, whose inbox is
        gone, and it would be back only after the ack wait."""
        taken = list(self._buffer)
        self._buffer.clear()
        for msg in taken:
            with contextlib.suppress(Exception):
                await msg.nak(delay=self.expires)
        await self.stop()

    async def stop(self) -> None:
        if self._sub is not None:
            # Gone with the connection already if the broker closed first.
            with contextlib.suppress(nats.errors.ConnectionClosedError):
                await self._sub.unsubscribe()
            self._sub = None

    async def next_batch(self, timeout: float) -> list[Msg]:
        """Up to ``batch_size`` messages; an empty list if none came within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self._buffer:
            if self._gone is not None:
                raise ConsumerGone(self._gone)
            await self._request_more()
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives with a delivery, and the consumer never stops.
            try:
                async with asyncio.timeout(min(remaining, self.expires)):
                    await self._arrived.wait()
            except TimeoutError:
                continue
        count = min(self.batch_size, len(self._buffer))
        batch = [self._buffer.popleft() for _ in range(count)]
        await self._request_more()
        return batch

    async def _on_message(self, msg: Msg) -> None:
        status = msg.headers.get(_STATUS) if msg.headers and not msg.data else None
        if status is None:
            self._received += 1
            self._buffer.append(msg)
            if self._received >= self._requested:
                self._in_flight = False
            self._arrived.set()
        elif status == "503" or (
            status == "409" and "deleted" in (msg.headers or {}).get(_DESCRIPTION, "").lower()
        ):
            self._gone = f"{status} {(msg.headers or {}).get(_DESCRIPTION, 'no responders')}"
            self._in_flight = False
            self._arrived.set()
        elif status in _REQUEST_ENDED:
            self._in_flight = False
            self._arrived.set()
        # a "100" idle heartbeat says nothing about the request's progress

    async def _request_more(self) -> None:
        if self._in_flight and time.monotonic() - self._sent_at > self.expires + 2.0:
            self._in_flight = False  # the server forgot the request (restart, failover)
        if self._in_flight or len(self._buffer) >= self.batch_size:
            return
        self._in_flight, self._requested, self._received = True, self.batch_size, 0
        self._sent_at = time.monotonic()
        request = {"batch": self.batch_size, "expires": int(self.expires * 1e9)}
        await self._nc.publish(self._subject, orjson.dumps(request), reply=self._inbox)
