"""Retrying a parked event once its cause is fixed: through the projection runner or the
reactor that parked it, and only an event an append stored (never a copy the broker was
made to store). The retry is recorded, so it is done once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence

import structlog
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from sqlalchemy.exc import IntegrityError

from common.deadletter import (
    HEADER_CONSUMER,
    HEADER_RESOLVES,
    HEADER_SEQUENCE,
    HEADER_STREAM,
    HEADER_SUBJECT,
    RESOLVED,
    DeadLetters,
)
from common.errors import NotFound, RuleViolation
from common.events import Event, EventDecodeError, decode, event_type_of
from common.eventstore import appended_id, read_messages
from common.runner import ProjectionRunner
from common.subjects import DLQ_STREAM, Service, dlq_subject

log = structlog.get_logger(__name__)


class ParkedRetry:
    """One service's parked events, retried by their dead-letter sequence."""

    def __init__(
        self,
        js: JetStreamContext,
        service: Service,
        runners: Sequence[ProjectionRunner],
        reactors: Mapping[str, Callable[[Event], Awaitable[None]]],
    ) -> None:
        self.js = js
        self.service = service
        self.runners = runners
        self.reactors = reactors

    async def retry(self, sequence: int) -> dict[str, str]:
        """Apply a parked event after its cause was fixed, through the projection or reactor
        that parked it, and record that it was resolved."""
        dead_letters = DeadLetters(self.js, self.service)
        try:
            parked = await self.js.get_msg(dead_letters.stream.value, seq=sequence, direct=True)
        except NotFoundError as exc:
            raise NotFound(f"nothing is parked at sequence {sequence}") from exc
        headers = parked.headers or {}
        consumer = headers.get(HEADER_CONSUMER)
        if consumer is None:
            raise RuleViolation(
                f"sequence {sequence} is not a parked event", f"序号 {sequence} 不是暂存的事件"
            )
        if await self._resolved(sequence):
            raise RuleViolation(
                f"the event parked at {sequence} was retried already", f"序号 {sequence} 已经重试过"
            )
        # The original, with its headers as stored (parking keeps neither the broker's
        # headers nor, for a message too large to copy, its body).
        original = await self._original(headers)
        data = original.data if original is not None else b""
        try:
            event = decode(data or b"", event_type_of(headers.get(HEADER_SUBJECT, "")))
        except EventDecodeError as exc:
            raise RuleViolation(
                f"the parked event still cannot be read: {exc}", f"该事件仍无法解析：{exc}"
            ) from exc
        if original is None or appended_id(original.headers) != event.event_id:
            raise RuleViolation(
                f"the event parked at {sequence} was not stored by an append: it is a copy the"
                " broker was made to store, and is never applied",
                f"序号 {sequence} 的事件不是正常写入的，而是被伪造的副本，不能重试",
            )
        runner = next((r for r in self.runners if r.durable == consumer), None)
        if runner is not None:
            try:
                applied = await asyncio.to_thread(
                    runner.tracker.apply_parked, event, dead_letters.stream.value, sequence
                )
            except IntegrityError:
                applied = False  # a concurrent retry recorded it first
            if not applied:
                raise RuleViolation(
                    f"the event parked at {sequence} was retried already",
                    f"序号 {sequence} 已经重试过",
                )
        elif consumer in self.reactors:
            await self.reactors[consumer](event)
        else:
            raise NotFound(f"no consumer {consumer!r} runs in this service")
        how = f"retried through {consumer}"
        await dead_letters.resolve(sequence, how)
        log.warning(
            "parked_event_retried", sequence=sequence, consumer=consumer, event_id=event.event_id
        )
        return {"sequence": str(sequence), "consumer": consumer, "event_id": event.event_id}

    async def _original(self, parked_headers: Mapping[str, str]) -> RawStreamMsg | None:
        """The message a parked copy came from, read from its stream by sequence."""
        try:
            return await self.js.get_msg(
                parked_headers.get(HEADER_STREAM, ""),
                seq=int(parked_headers.get(HEADER_SEQUENCE, "0")),
            )
        except (NotFoundError, ValueError):
            return None

    async def _resolved(self, sequence: int) -> bool:
        resolutions = read_messages(
            self.js, DLQ_STREAM[self.service].value, dlq_subject(self.service, RESOLVED)
        )
        async for msg in resolutions:
            if (msg.headers or {}).get(HEADER_RESOLVES) == str(sequence):
                return True
        return False
