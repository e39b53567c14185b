"""Watching the streams grow: the log can never be purged (deny_purge, deny_delete), so a
flood of reports is paid for in disk for ever. An operator must hear of it within the hour,
not when the disk is full: each sample exports the size as metrics, and a growth rate over
the budget raises ``stream_growth_alarm`` (a gauge and a warning in the log).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final, Protocol

import structlog
from nats.js import JetStreamContext
from prometheus_client import Gauge

from common.subjects import Stream

log = structlog.get_logger(__name__)

STREAM_BYTES: Final = Gauge("stream_bytes", "Bytes stored in a stream", ["stream"])
STREAM_MESSAGES: Final = Gauge("stream_messages", "Messages stored in a stream", ["stream"])
STREAM_GROWTH: Final = Gauge(
    "stream_growth_bytes_per_hour", "How fast a stream grew over the last hour", ["stream"]
)
STREAM_GROWTH_ALARM: Final = Gauge(
    "stream_growth_alarm", "1 while a stream grows faster than its budget", ["stream"]
)

_WINDOW: Final = 3600.0
# A rate measured over less than this is too noisy to raise an alarm on.
_SHORTEST_WINDOW: Final = 300.0


class _HasJetStream(Protocol):
    @property
    def js(self) -> JetStreamContext: ...


class StreamGrowth:
    def __init__(
        self,
        runtime: _HasJetStream,
        streams: Sequence[Stream],
        alarm_bytes_per_hour: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runtime = runtime
        self._streams = tuple(streams)
        self._budget = alarm_bytes_per_hour
        self._clock = clock
        self._samples: dict[Stream, deque[tuple[float, int]]] = {s: deque() for s in streams}
        self.alarmed: set[Stream] = set()

    async def sample(self) -> None:
        for stream in self._streams:
            state = (await self._runtime.js.stream_info(stream.value)).state
            STREAM_BYTES.labels(stream.value).set(state.bytes)
            STREAM_MESSAGES.labels(stream.value).set(state.messages)
            self.record(stream, state.bytes)

    def record(self, stream: Stream, size: int) -> None:
        now = self._clock()
        samples = self._samples[stream]
        samples.append((now, size))
        while len(samples) > 2 and samples[1][0] <= now - _WINDOW:
            samples.popleft()
        first_at, first_size = samples[0]
        span = now - first_at
        if span < _SHORTEST_WINDOW:
            return
        per_hour = (size - first_size) * _WINDOW / span
        STREAM_GROWTH.labels(stream.value).set(per_hour)
        if per_hour > self._budget and stream not in self.alarmed:
            self.alarmed.add(stream)
            STREAM_GROWTH_ALARM.labels(stream.value).set(1)
            log.warning(
                "stream_growth_alarm",
                stream=stream.value,
                bytes_per_hour=int(per_hour),
                budget_bytes_per_hour=self._budget,
            )
        elif per_hour <= self._budget and stream in self.alarmed:
            self.alarmed.discard(stream)
            STREAM_GROWTH_ALARM.labels(stream.value).set(0)
            log.info("stream_growth_normal", stream=stream.value, bytes_per_hour=int(per_hour))
