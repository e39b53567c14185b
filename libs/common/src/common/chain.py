"""Tamper evidence for the event log: a hash chain over each stream, signed checkpoints.

Each stored message has a digest, SHA-256 over its sequence, subject, headers and data;
each link is SHA-256 over the previous link and the digest, so changing, removing or
reordering any message changes every link after it. A checkpoint records the link at a
sequence, with anchors (the link every ``ANCHOR_EVERY`` messages) that narrow a mismatch
down, and is signed with an Ed25519 key so a witness outside the cluster can check it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from nats.js import JetStreamContext
from pydantic import BaseModel, ConfigDict

from common.eventstore import read_messages

GENESIS: Final = "0" * 64
ANCHOR_EVERY: Final = 256


@dataclass(frozen=True, slots=True)
class Stored:
    """A message as the stream holds it."""

    sequence: int
    subject: str
    headers: Mapping[str, str]
    data: bytes
    time: str = ""


def digest(message: Stored) -> str:
    canonical = orjson.dumps(
        [message.sequence, message.subject, dict(sorted(message.headers.items()))]
    )
    return hashlib.sha256(canonical + b"\x00" + message.data).hexdigest()


def link(previous: str, message_digest: str) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + bytes.fromhex(message_digest)).hexdigest()


# Headers the server adds when it serves a message, not stored with it.
_SERVED: Final = frozenset(
    {
        "Nats-Stream",
        "Nats-Sequence",
        "Nats-Time-Stamp",
        "Nats-Subject",
        "Nats-Last-Sequence",
        "Nats-Num-Pending",
    }
)


async def read_stream(
    js: JetStreamContext, stream: str, from_sequence: int = 1
) -> AsyncIterator[Stored]:
    """Every message of a stream in order, as it is stored (the headers the server adds
    when serving it are left out)."""
    async for msg in read_messages(js, stream, ">", from_sequence):
        served = msg.headers or {}
        yield Stored(
            sequence=msg.seq or 0,
            subject=msg.subject or served.get("Nats-Subject", ""),
            headers={k: v for k, v in served.items() if k not in _SERVED},
            data=msg.data or b"",
            time=served.get("Nats-Time-Stamp", ""),
        )


class Checkpoint(BaseModel):
    """The chain of one stream up to ``last_sequence``, signed."""

    model_config = ConfigDict(frozen=True)

    stream: str
    first_sequence: int
    last_sequence: int
    count: int
    link: str
    anchors: dict[int, str]
    sealed_at: datetime
    key_id: str
    signature: str = ""

    def signed_part(self) -> bytes:
        return orjson.dumps(
            self.model_dump(mode="json", exclude={"signature"}), option=orjson.OPT_SORT_KEYS
        )

    def sign(self, key: Ed25519PrivateKey) -> Checkpoint:
        return self.model_copy(
            update={"signature": base64.b64encode(key.sign(self.signed_part())).decode()}
        )

    def signature_holds(self, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(base64.b64decode(self.signature), self.signed_part())
        except (InvalidSignature, ValueError):
            return False
        return True


def private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (as ``leadctl keygen`` writes it)."""
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file, or from a file holding its 32 raw bytes in
    base64 (as intake publishes its receipt key, which also signs its evidence ZIPs)."""
    data = path.read_bytes()
    if not data.lstrip().startswith(b"-----BEGIN"):
        try:
            raw = base64.b64decode(data.strip(), validate=True)
            return Ed25519PublicKey.from_public_bytes(raw)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"{path} is not an Ed25519 public key") from exc
    key = load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass
class Problem:
    """Something wrong with a stream or a log, naming the sequence where it shows."""

    sequence: int
    kind: str  # missing, altered, out_of_order, checkpoint
    detail: str


@dataclass
class ChainState:
    link: str = GENESIS
    last_sequence: int = 0
    first_sequence: int = 0
    count: int = 0


def walk(
    messages: Iterable[Stored], checkpoints: Iterable[Checkpoint] = ()
) -> tuple[ChainState, list[Problem], dict[int, str]]:
    """Recompute a chain; report gaps and order problems, and every checkpoint whose link or
    anchors do not match, naming the sequences in between."""
    state = ChainState()
    problems: list[Problem] = []
    links: dict[int, str] = {0: GENESIS}
    wanted = {c.last_sequence: c for c in checkpoints}
    anchored = {seq: (c, link_) for c in wanted.values() for seq, link_ in c.anchors.items()}
    previous_anchor = 0
    for message in messages:
        if state.count == 0:
            state.first_sequence = message.sequence
        elif message.sequence <= state.last_sequence:
            problems.append(
                Problem(message.sequence, "out_of_order", f"after sequence {state.last_sequence}")
            )
        elif message.sequence != state.last_sequence + 1:
            for missing in range(state.last_sequence + 1, message.sequence):
                problems.append(Problem(missing, "missing", "no message at this sequence"))
        state.link = link(state.link, digest(message))
        state.last_sequence = message.sequence
        state.count += 1
        if message.sequence in anchored:
            checkpoint, expected = anchored[message.sequence]
            if expected != state.link:
                problems.append(
                    Problem(
                        message.sequence,
                        "altered",
                        f"chain differs from the checkpoint of {checkpoint.sealed_at.isoformat()}"
                        f" somewhere in sequences {previous_anchor + 1}..{message.sequence}",
                    )
                )
            previous_anchor = message.sequence
        if message.sequence % ANCHOR_EVERY == 0 or message.sequence in wanted:
            links[message.sequence] = state.link
    for last, checkpoint in wanted.items():
        if last > state.last_sequence:
            problems.append(
                Problem(
                    last,
                    "missing",
                    f"the checkpoint covers up to {last}; the log ends at {state.last_sequence}",
                )
            )
        elif links.get(last) != checkpoint.link and not any(p.kind == "altered" for p in problems):
            problems.append(Problem(last, "altered", "the chain differs from the checkpoint"))
    return state, problems, links


def anchors_of(links: Mapping[int, str]) -> dict[int, str]:
    return {seq: value for seq, value in links.items() if seq and seq % ANCHOR_EVERY == 0}
