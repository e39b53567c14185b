"""Stream definitions, declared idempotently, and watched.

Services may create their own streams but not update them: the right to update a stream
would let a service add another stream as a source, or capture another service's reply
inbox, and so read what it must not. A stream whose stored configuration differs is left
as it is and reported; changing it is an administrator's job (``leadctl`` as admin).

Every stream has a size limit, and refuses writes when it is full (discard new): the log is
never shortened to make room, and one stream filling up does not fill the volume every stream
shares. The limits are sized from the measured cost of a lead (bench/bench_capacity.py and
deploy/runbook/capacity.md); an administrator may grow a stream beyond them, which is not a
configuration drift.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from typing import Final

import structlog
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError, ServerError
from prometheus_client import Gauge

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

MIB: Final = 1024 * 1024
GIB: Final = 1024 * MIB

# Each stream's size limit. Measured: a lead's life costs about 2 KB on INTAKE, 7 KB on
# LEDGER (nine events) and 0.5 KB on AUDIT per recorded read. Sized for 2,500 leads a year,
# each read 50 times and updated twice as often as the measured life, for 30 years, with the
# rest for floods and growth; together 5.8 GiB, under 60 % of a 10 GiB volume that holds a
# replica of every stream (deploy/runbook/capacity.md).
STREAM_MAX_BYTES: Final[dict[Stream, int]] = {
    Stream.INTAKE: 1 * GIB,
    Stream.LEDGER: 3 * GIB // 2,
    Stream.OVERSIGHT: 512 * MIB,
    Stream.DIRECTIVES: 128 * MIB,
    Stream.AUDIT: 2 * GIB,
    Stream.DLQ_INTAKE: 128 * MIB,
    Stream.DLQ_LEDGER: 128 * MIB,
    Stream.DLQ_OVERSIGHT: 128 * MIB,
    Stream.ACCOUNTS: 64 * MIB,
    Stream.SESSIONS: 256 * MIB,
}

STREAM_BYTES: Final = Gauge(
    "leads_stream_bytes", "Bytes a stream holds (what its max_bytes limits)", ["stream"]
)
STREAM_MESSAGES: Final = Gauge("leads_stream_messages", "Messages a stream holds", ["stream"])
STREAM_LIMIT: Final = Gauge(
    "leads_stream_max_bytes",
    "A stream's size limit; writes are refused beyond it (discard new)",
    ["stream"],
)
REPLICA_LAG: Final = Gauge(
    "leads_stream_replica_lag",
    "Operations a stream replica is behind its leader",
    ["stream", "peer"],
)
REPLICA_CURRENT: Final = Gauge(
    "leads_stream_replica_current",
    "1 while a stream replica is current with its leader, 0 while behind or offline",
    ["stream", "peer"],
)


def stream_config(stream: Stream, replicas: int = 1, *, deny_delete: bool = True) -> StreamConfig:
    """An append-only, file-backed stream: nothing is ever deleted or purged from it, and
    a full one refuses writes rather than dropping its oldest messages."""
    return StreamConfig(
        name=stream.value,
        subjects=[STREAM_SUBJECTS[stream]],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_bytes=STREAM_MAX_BYTES[stream],
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW.total_seconds(),
        deny_delete=deny_delete,
        deny_purge=deny_delete,
        allow_direct=True,
        # The registrar files the leads delivered together as one atomic batch
        # (ledger.batchappend): one acknowledged write to disk instead of one per lead.
        allow_atomic=True if stream is Stream.LEDGER else None,
    )


async def declare_streams(
    js: JetStreamContext, streams: Iterable[Stream], replicas: int = 1
) -> list[Stream]:
    """Create each stream that is missing (creating an identical one is a no-op).

    Returns the streams whose stored configuration differs from this code's."""
    return [
        stream for stream in streams if await declare_stream(js, stream_config(stream, replicas))
    ]


async def declare_stream(js: JetStreamContext, wanted: StreamConfig) -> bool:
    """Create the stream if it is missing; True if it exists with another configuration
    (left as it is, and reported)."""
    try:
        await _add(js, wanted)
    except BadRequestError as exc:
        if exc.err_code != _EXISTS_WITH_OTHER_CONFIG:
            raise
        stored = (await js.stream_info(wanted.name or "")).config
        differences = config_differences(wanted, stored)
        if not differences:
            return False  # grown by an administrator: not a drift
        log.warning(
            "stream_configuration_differs",
            stream=wanted.name,
            error=exc.description,
            differences=differences,
        )
        return True
    return False


# What this code sets on a stream; the server fills in the rest.
_COMPARED: Final = (
    "subjects",
    "retention",
    "storage",
    "discard",
    "num_replicas",
    "duplicate_window",
    "deny_delete",
    "deny_purge",
    "allow_direct",
    "allow_atomic",
)


def config_differences(wanted: StreamConfig, stored: StreamConfig) -> list[str]:
    """How a stored stream differs from this code's configuration, field by field. A larger
    max_bytes is no difference: that is how an administrator grows a stream."""
    found = [
        f"{name}: stored {getattr(stored, name)!r}, declared {getattr(wanted, name)!r}"
        for name in _COMPARED
        if getattr(stored, name) != getattr(wanted, name)
    ]
    limit, declared = stored.max_bytes or -1, wanted.max_bytes or -1
    if limit != -1 and limit < declared:
        found.append(f"max_bytes: stored {limit}, declared at least {declared}")
    elif limit == -1 and declared != -1:
        found.append(f"max_bytes: stored unlimited, declared {declared}")
    return found


async def observe_streams(js: JetStreamContext, streams: Iterable[Stream]) -> None:
    """Export each stream's size, limit and replicas' lag as metrics (the alerts of
    deploy/monitoring compare the size with the limit and watch the replicas)."""
    for stream in streams:
        try:
            info = await js.stream_info(stream.value)
        except NotFoundError:
            continue  # not created yet: its owner or the administrator will
        STREAM_BYTES.labels(stream.value).set(info.state.bytes)
        STREAM_MESSAGES.labels(stream.value).set(info.state.messages)
        STREAM_LIMIT.labels(stream.value).set(info.config.max_bytes or -1)
        cluster = info.cluster
        for peer in (cluster.replicas or []) if cluster is not None else []:
            REPLICA_LAG.labels(stream.value, peer.name).set(peer.lag or 0)
            REPLICA_CURRENT.labels(stream.value, peer.name).set(
                1 if peer.current and not peer.offline else 0
            )


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
