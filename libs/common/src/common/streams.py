"""Stream definitions, declared idempotently by the service that owns them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Final

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from common.subjects import STREAM_SUBJECTS, Stream

# Long enough to cover a client retrying through a short outage; projections are
# idempotent on their own beyond it.
DUPLICATE_WINDOW: Final = timedelta(minutes=10)


def stream_config(stream: Stream, replicas: int = 1, *, deny_delete: bool = True) -> StreamConfig:
    """An append-only, file-backed stream: nothing is ever deleted or purged from it."""
    return StreamConfig(
        name=stream.value,
        subjects=[STREAM_SUBJECTS[stream]],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
        deny_delete=deny_delete,
        deny_purge=deny_delete,
        allow_direct=True,
    )


async def declare_streams(
    js: JetStreamContext, streams: Iterable[Stream], replicas: int = 1
) -> None:
    """Create each stream, or bring an existing one to this configuration."""
    for stream in streams:
        config = stream_config(stream, replicas)
        try:
            await js.stream_info(stream.value)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except BadRequestError:
                # Another replica created it between our look-up and our create.
                await js.update_stream(config)
        else:
            await js.update_stream(config)
