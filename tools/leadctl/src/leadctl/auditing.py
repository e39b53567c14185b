"""The auditor's work on the log: a lead's chain of custody across every stream, sealing
and verifying the hash chains, and logs exported for auditors without cluster access."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from common.chain import (
    Checkpoint,
    Problem,
    Stored,
    anchors_of,
    digest,
    key_id,
    link,
    read_stream,
    walk,
)
from common.events import Actor, Event, EventDecodeError, decode, event_type_of, utc_now
from common.events.catalogue import CheckpointSealed, LeadsViewed, LeadViewed
from common.eventstore import EventStore, appended_id, read_messages
from common.subjects import Service, Stream, audit_prefix

LOG_FORMAT: Final = "leadctl-log/1"
CHECKPOINTS: Final = f"{audit_prefix(Service.LEADCTL)}.global.CheckpointSealed"

# Where each stream keeps a lead's events (the audit stream: under every service's prefix).
LEAD_PREFIXES: Final = {
    Stream.INTAKE: "intake",
    Stream.LEDGER: "ledger",
    Stream.OVERSIGHT: "oversight",
    Stream.DIRECTIVES: "directive",
    Stream.AUDIT: "audit.*",
}


# --- chain of custody -------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    stream: str
    sequence: int
    event: Event

    def as_dict(self) -> dict[str, Any]:
        data = self.event.model_dump(mode="json")
        reporter = data.get("reporter")
        if isinstance(reporter, dict) and reporter.get("identity_ciphertext"):
            reporter["identity_ciphertext"] = "[sealed]"
        return {"stream": self.stream, "sequence": self.sequence, **data}


# Reads recorded together (common.audit) are stored apart from any lead's subjects.
GATHERED_VIEWS: Final = f"audit.*.global.{LeadsViewed.__name__}"


async def chain_of_custody(js: JetStreamContext, lead_id: str) -> list[Entry]:
    """Every event of a lead in every stream, in the order it happened; each read of it
    recorded inside a gathered LeadsViewed is shown as the LeadViewed it stands for."""
    entries: list[Entry] = []
    for stream, prefix in LEAD_PREFIXES.items():
        history = await EventStore(js, stream, prefix).read_lead(lead_id)
        entries.extend(Entry(stream.value, e.sequence, e.event) for e in history.events)
    entries.extend([entry async for entry in _gathered_views_of(js, lead_id)])
    return sorted(entries, key=lambda e: (e.event.occurred_at, e.stream, e.sequence))


async def _gathered_views_of(js: JetStreamContext, lead_id: str) -> AsyncIterator[Entry]:
    # Every gathered event is read: they are few beside the reads they hold (one per
    # append that waited for another), but this grows with the audit stream's history.
    async for msg in read_messages(js, Stream.AUDIT.value, GATHERED_VIEWS, stored_headers=True):
        try:
            event = decode(msg.data or b"", LeadsViewed.__name__)
        except EventDecodeError:
            continue
        # Only what an append stored is an event (common.eventstore.appended_id).
        if not isinstance(event, LeadsViewed) or appended_id(msg.headers) != event.event_id:
            continue
        for view in event.views:
            if view.lead_id == lead_id:
                single = LeadViewed(
                    event_id=view.event_id,
                    lead_id=view.lead_id,
                    occurred_at=view.occurred_at,
                    actor=view.actor,
                    service=event.service,
                    purpose=view.purpose,
                )
                yield Entry(Stream.AUDIT.value, msg.seq or 0, single)


async def record_view(js: JetStreamContext, lead_id: str, auditor: Actor, purpose: str) -> None:
    await EventStore(js, Stream.AUDIT, audit_prefix(Service.LEADCTL)).append(
        LeadViewed(lead_id=lead_id, service="leadctl", purpose=purpose, actor=auditor)
    )


# --- keys ---------------------------------------------------------------------------------


def write_keys(private_path: Path, public_path: Path) -> str:
    key = Ed25519PrivateKey.generate()
    private_path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    private_path.chmod(0o600)
    public = key.public_key()
    public_path.write_bytes(public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return key_id(public)


# --- sealing and verifying streams --------------------------------------------------------


async def seal(
    js: JetStreamContext, stream: Stream, key: Ed25519PrivateKey, actor: Actor
) -> Checkpoint:
    """Compute the stream's chain now, sign a checkpoint of it and append it to AUDIT."""
    messages = [m async for m in read_stream(js, stream.value)]
    state, _, links = walk(messages)
    checkpoint = Checkpoint(
        stream=stream.value,
        first_sequence=state.first_sequence,
        last_sequence=state.last_sequence,
        count=state.count,
        link=state.link,
        anchors=anchors_of(links),
        sealed_at=utc_now(),
        key_id=key_id(key.public_key()),
    ).sign(key)
    await EventStore(js, Stream.AUDIT, audit_prefix(Service.LEADCTL)).append(
        CheckpointSealed(
            stream=stream.value,
            last_sequence=state.last_sequence,
            checkpoint=checkpoint.model_dump_json(),
            actor=actor,
        )
    )
    return checkpoint


async def checkpoints(js: JetStreamContext) -> list[Checkpoint]:
    """Every checkpoint sealed so far, from the audit stream."""
    found: list[Checkpoint] = []
    async for msg in read_messages(js, Stream.AUDIT.value, CHECKPOINTS):
        event = decode(msg.data or b"", "CheckpointSealed")
        if isinstance(event, CheckpointSealed):
            found.append(Checkpoint.model_validate_json(event.checkpoint))
    return found


@dataclass
class Verdict:
    stream: str
    messages: int
    last_sequence: int
    checkpoints: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "ok": self.ok,
            "messages": self.messages,
            "last_sequence": self.last_sequence,
            "checkpoints": self.checkpoints,
            "problems": [p.__dict__ for p in self.problems],
        }


KeyRing = Mapping[str, Ed25519PublicKey]


def key_ring(keys: Sequence[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """Public keys by their id: checkpoints signed before and after a key rotation are each
    checked against the key that signed them (a checkpoint names its key's id)."""
    return {key_id(key): key for key in keys}


def _signed(
    found: Sequence[Checkpoint], keys: KeyRing | None
) -> tuple[list[Checkpoint], list[Problem]]:
    good, problems = [], []
    for checkpoint in found:
        if keys is None:
            good.append(checkpoint)
            continue
        key = keys.get(checkpoint.key_id)
        if key is None:
            problems.append(
                Problem(
                    checkpoint.last_sequence,
                    "checkpoint",
                    f"signed with key {checkpoint.key_id}, which is not among the keys given",
                )
            )
        elif not checkpoint.signature_holds(key):
            problems.append(
                Problem(checkpoint.last_sequence, "checkpoint", "signature does not hold")
            )
        else:
            good.append(checkpoint)
    return good, problems


async def verify_stream(
    js: JetStreamContext,
    stream: Stream,
    all_checkpoints: Sequence[Checkpoint],
    keys: KeyRing | None,
) -> Verdict:
    mine, problems = _signed([c for c in all_checkpoints if c.stream == stream.value], keys)
    try:
        info = await js.stream_info(stream.value)
    except NotFoundError:
        return Verdict(
            stream.value, 0, 0, len(mine), [Problem(0, "missing", "the stream does not exist")]
        )
    messages = [m async for m in read_stream(js, stream.value)]
    state, found, _ = walk(messages, mine)
    problems.extend(found)
    start = messages[0].sequence if messages else info.state.last_seq + 1
    problems.extend(Problem(s, "missing", "no message at this sequence") for s in range(1, start))
    # A stream remembers its last sequence even when that message is gone.
    problems.extend(
        Problem(s, "missing", "no message at this sequence")
        for s in range(state.last_sequence + 1, info.state.last_seq + 1)
        if messages
    )
    return Verdict(
        stream.value,
        state.count,
        state.last_sequence,
        len(mine),
        sorted(problems, key=lambda p: p.sequence),
    )


# --- exported logs --------------------------------------------------------------------------


async def export_log(js: JetStreamContext, stream: Stream, path: Path) -> tuple[int, str]:
    """A JSON-lines copy of a stream: a header line, then one line per message with its
    digest and chain link. Returns the count and the last link."""
    previous = "0" * 64
    count = 0
    with path.open("wb") as out:
        out.write(
            orjson.dumps(
                {"format": LOG_FORMAT, "stream": stream.value, "exported_at": utc_now().isoformat()}
            )
            + b"\n"
        )
        async for message in read_stream(js, stream.value):
            message_digest = digest(message)
            previous = link(previous, message_digest)
            count += 1
            out.write(
                orjson.dumps(
                    {
                        "sequence": message.sequence,
                        "subject": message.subject,
                        "time": message.time,
                        "headers": dict(message.headers),
                        "data": base64.b64encode(message.data).decode(),
                        "digest": message_digest,
                        "link": previous,
                    }
                )
                + b"\n"
            )
    return count, previous


def read_log(path: Path) -> tuple[str, list[tuple[Stored, str, str]], list[Problem]]:
    """The stream name and each message of an exported log, with the digest and link the
    file claims; unreadable lines are problems (at the sequence they follow)."""
    lines = path.read_bytes().splitlines()
    if not lines:
        raise ValueError(f"{path} is empty")
    header = orjson.loads(lines[0])
    if header.get("format") != LOG_FORMAT:
        raise ValueError(f"{path} is not a {LOG_FORMAT} file")
    entries, problems = [], []
    last = 0
    for raw in lines[1:]:
        try:
            line = orjson.loads(raw)
            stored = Stored(
                sequence=int(line["sequence"]),
                subject=str(line["subject"]),
                headers=dict(line["headers"]),
                data=base64.b64decode(line["data"], validate=True),
                time=str(line.get("time", "")),
            )
        except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
            problems.append(
                Problem(last + 1, "altered", f"unreadable line after sequence {last}: {exc}")
            )
            continue
        entries.append((stored, str(line.get("digest", "")), str(line.get("link", ""))))
        last = stored.sequence
    return str(header["stream"]), entries, problems


def verify_log(path: Path, checkpoint: Checkpoint | None = None) -> Verdict:
    """Check an exported log on its own: every digest against its message, every link
    against the chain, sequences without gaps or disorder; and against a checkpoint."""
    stream, entries, problems = read_log(path)
    altered = False
    for stored, claimed_digest, _ in entries:
        if digest(stored) != claimed_digest:
            problems.append(
                Problem(stored.sequence, "altered", "the message does not match its digest")
            )
            altered = True
    state, found, _ = walk((s for s, _, _ in entries), [checkpoint] if checkpoint else [])
    # A changed message also changes the chain at every checkpoint after it: the same
    # finding, already named at its own sequence.
    problems.extend(p for p in found if not (altered and p.kind == "altered"))
    # Each claimed link must follow from the previous claimed one (a rewritten chain);
    # after a gap there is nothing to follow from, and the gap is named already.
    previous_link, previous_sequence = "0" * 64, 0
    for stored, claimed_digest, claimed_link in entries:
        follows = claimed_link == link(previous_link, claimed_digest)
        if stored.sequence == previous_sequence + 1 and not follows:
            problems.append(Problem(stored.sequence, "altered", "the chain link does not follow"))
        previous_link, previous_sequence = claimed_link, stored.sequence
    if entries and entries[0][0].sequence > 1:
        problems.extend(
            Problem(s, "missing", "no message at this sequence")
            for s in range(1, entries[0][0].sequence)
        )
    unique = {(p.sequence, p.kind, p.detail): p for p in problems}
    return Verdict(
        stream,
        state.count,
        state.last_sequence,
        1 if checkpoint else 0,
        sorted(unique.values(), key=lambda p: p.sequence),
    )


def decoded(data: bytes, subject: str) -> dict[str, Any] | str:
    try:
        return Entry("", 0, decode(data, event_type_of(subject))).as_dict()
    except EventDecodeError as exc:
        return f"(cannot be read: {exc})"


def lines_of(entries: Sequence[Entry]) -> Iterator[str]:
    for entry in entries:
        event = entry.event
        actor = "/".join(
            x for x in (event.actor.role.value, event.actor.unit, event.actor.user) if x
        )
        yield f"{event.occurred_at.isoformat()}  {entry.stream:<10} {event.event_type:<24} {actor}"
