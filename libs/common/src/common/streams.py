"""Stream definitions, declared idempotently.

Services may create their own streams but not update them: the right to update a stream
would let a service add another stream as a source, or capture another service's reply
inbox, and so read what it must not. A stream whose stored configuration differs is left
as it is and reported; changing it is an administrator's job (``leadctl`` as admin).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from typing import Final

import structlog
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, ServerError

from common.subjects import STREAM_SUBJECTS, Stream

log = structlog.get_logger(__name__)

# Long enough to cover a client retrying through a short outage; projections are
# idempotent on their own beyond it.
DUPLICATE_WINDOW: Final = timedelta(minutes=10)

# JSStreamNameExistErr: a stream of that name exists with another configuration.
_EXISTS_WITH_OTHER_CONFIG: Final = 10058
# JSStreamStoreFailedF: "error creating store for stream"
_STORE_NOT_CREATED: Final = 10049
_STORE_ATTEMPTS: Final = 5


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
) -> list[Stream]:
    """Create each stream that is missing (creating an identical one is a no-op).

    Returns the streams whose stored configuration differs from this code's."""
    drifted = []
    for stream in streams:
        try:
            await _add(js, stream_config(stream, replicas))
        except BadRequestError as exc:
            if exc.err_code != _EXISTS_WITH_OTHER_CONFIG:
                raise
            drifted.append(stream)
            log.warning("stream_configuration_differs", stream=stream.value, error=exc.description)
    return drifted


async def _add(js: JetStreamContext, config: StreamConfig) -> None:
    """Create a stream, trying again when the server could not create its store this once
    (seen right after a stream of the same name was deleted, while its files go)."""
    for attempt in range(_STORE_ATTEMPTS):
        try:
            await js.add_stream(config)
            return
        except ServerError as exc:
            if exc.err_code != _STORE_NOT_CREATED or attempt == _STORE_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.2 * (attempt + 1))
