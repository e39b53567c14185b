"""Stream snapshots through the JetStream API, which nats-py does not wrap.

The protocol is the one the ``nats`` CLI speaks (jsm.go): ``$JS.API.STREAM.SNAPSHOT.<s>``
names a delivery subject, the server sends the stream's files as an S2-compressed tar in
chunks, each carrying a reply subject that must be answered before the server sends more
than its window (flow control), and ends with an empty message whose status says whether
the snapshot is whole (204) or not (408, 500). ``$JS.API.STREAM.RESTORE.<s>`` answers with
a subject to send the chunks to, one request each; an empty request ends it and answers
with the restored stream's state."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from nats.aio.client import Client
from nats.aio.msg import Msg

CHUNK_BYTES: Final = 128 * 1024
# What the server may have in flight before it waits for our answers: its default.
WINDOW_BYTES: Final = 8 * 1024 * 1024
API_TIMEOUT: Final = 10.0
# The server gives up on a reader that answers no chunk for a while; this is our side's
# bound on a server that stops sending.
SILENCE_TIMEOUT: Final = 60.0
# Restoring the last chunk makes the server check and install the whole stream.
FINISH_TIMEOUT: Final = 600.0


class SnapshotFailed(RuntimeError):
    """The server refused or broke off a snapshot or a restore."""


@dataclass(frozen=True)
class Snapshot:
    """What the server said about the stream when it started the snapshot."""

    config: dict[str, Any]
    state: dict[str, Any]
    bytes_written: int


async def _api(nc: Client, subject: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    answer = await nc.request(subject, json.dumps(body).encode(), timeout=timeout)
    return _answer(subject, answer.data)


def _answer(subject: str, data: bytes) -> dict[str, Any]:
    try:
        found: dict[str, Any] = json.loads(data)
    except ValueError as exc:
        raise SnapshotFailed(f"{subject}: not a JSON answer: {data[:200]!r}") from exc
    error = found.get("error")
    if error:
        raise SnapshotFailed(
            f"{subject}: {error.get('description', error)} (code {error.get('err_code')})"
        )
    return found


async def snapshot(
    nc: Client,
    stream: str,
    out: BinaryIO,
    progress: Callable[[int], None] | None = None,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    window_bytes: int = WINDOW_BYTES,
) -> Snapshot:
    """Write the stream's snapshot (with its consumers) to ``out``; fails unless the server
    says it sent it whole."""
    inbox = nc.new_inbox()
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    received = 0
    last_heard = asyncio.get_running_loop().time()

    async def on_chunk(msg: Msg) -> None:
        nonlocal received, last_heard
        last_heard = asyncio.get_running_loop().time()
        if done.done():
            return
        if not msg.data:
            status = (msg.headers or {}).get("Status", "")
            if status and status != "204":
                description = (msg.headers or {}).get("Description", "")
                done.set_exception(
                    SnapshotFailed(f"{stream}: snapshot ended with {status} {description}")
                )
            else:
                done.set_result(None)
            return
        # Written before it is acknowledged: an acknowledged chunk is one we hold.
        out.write(msg.data)
        received += len(msg.data)
        if progress is not None:
            progress(received)
        if msg.reply:
            await nc.publish(msg.reply, b"")

    # Subscribed before asking: the server starts sending as soon as it answers.
    sub = await nc.subscribe(inbox, cb=on_chunk, pending_bytes_limit=-1, pending_msgs_limit=-1)
    try:
        started = await _api(
            nc,
            f"$JS.API.STREAM.SNAPSHOT.{stream}",
            {
                "deliver_subject": inbox,
                "no_consumers": False,
                "chunk_size": chunk_bytes,
                "window_size": window_bytes,
                # The server checks every message's checksum before it sends anything.
                "jsck": True,
            },
            API_TIMEOUT,
        )
        while not done.done():
            try:
                await asyncio.wait_for(asyncio.shield(done), timeout=SILENCE_TIMEOUT)
            except TimeoutError:
                if asyncio.get_running_loop().time() - last_heard >= SILENCE_TIMEOUT:
                    raise SnapshotFailed(
                        f"{stream}: the server sent nothing for {SILENCE_TIMEOUT:.0f}s"
                    ) from None
        done.result()
    finally:
        await sub.unsubscribe()
    return Snapshot(config=started["config"], state=started["state"], bytes_written=received)


async def restore(
    nc: Client,
    config: dict[str, Any],
    state: dict[str, Any],
    data: BinaryIO,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Send a snapshot back to the server as a new stream; returns the restored state."""
    stream = config["name"]
    started = await _api(
        nc,
        f"$JS.API.STREAM.RESTORE.{stream}",
        {"config": config, "state": state},
        API_TIMEOUT,
    )
    target = started["deliver_subject"]
    sent = 0
    while chunk := data.read(CHUNK_BYTES):
        answer = await nc.request(target, chunk, timeout=API_TIMEOUT)
        if answer.data:
            _answer(stream, answer.data)
        if (answer.headers or {}).get("Status", "") not in ("", "200", "204"):
            raise SnapshotFailed(f"{stream}: restore refused a chunk: {answer.headers}")
        sent += len(chunk)
        if progress is not None:
            progress(sent)
    finished = await nc.request(target, b"", timeout=FINISH_TIMEOUT)
    result = _answer(stream, finished.data)
    restored: dict[str, Any] = result.get("state", {})
    return restored


async def stream_state(nc: Client, stream: str) -> dict[str, Any] | None:
    """The stream's state, or None when there is no such stream."""
    answer = await nc.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=API_TIMEOUT)
    found = json.loads(answer.data)
    error = found.get("error")
    if error:
        if error.get("code") == 404:
            return None
        raise SnapshotFailed(f"{stream}: {error.get('description', error)}")
    state: dict[str, Any] = found["state"]
    return state


async def delete_stream(nc: Client, stream: str) -> None:
    await _api(nc, f"$JS.API.STREAM.DELETE.{stream}", {}, API_TIMEOUT)


def file_reader(path: Path) -> BinaryIO:
    return path.open("rb")
