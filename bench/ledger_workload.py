"""A realistic ledger stream for the benchmarks: many leads, each walked through its life
(registered, transferred, accepted, assigned, verified twice, concluded, answered,
archived), with the leads' events interleaved as they would be in a town's day."""

from __future__ import annotations

import asyncio
import random
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
from nats.js import JetStreamContext

from common.events import Actor, Event, Role, encode
from common.events.catalogue import (
    FeedbackGiven,
    LeadArchived,
    LeadConcluded,
    LeadRegistered,
    LeadTransferred,
    ResponsibilityAssigned,
    TransferAccepted,
    VerificationRecorded,
)
from common.natsserver import NatsServer
from common.streams import declare_streams
from common.subjects import Stream, lead_subject
from common.vocabulary import Category, Channel, Conclusion

OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")
POLICE = Actor(role=Role.POLICE, unit="shd-police", user="police")
EVENTS_PER_LEAD = 9


def lead_life(number: int, rng: random.Random) -> list[Event]:
    lead = uuid.uuid4().hex
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=number)
    return [
        LeadRegistered(
            lead_id=lead,
            ledger_number=f"SHD-2026-{number:06d}",
            unit="shd-office",
            reported_at=start,
            channel=rng.choice(list(Channel)),
            category=rng.choice(list(Category)),
            summary="村民反映有人在村口强行收取“保护费”，多次殴打不从者",
            village=f"shd-v{rng.randint(1, 17):02d}",
            for_committee=False,
            actor=OFFICE,
        ),
        LeadTransferred(
            lead_id=lead,
            from_unit="shd-office",
            to_unit="shd-police",
            reason="涉嫌寻衅滋事",
            actor=OFFICE,
        ),
        TransferAccepted(lead_id=lead, unit="shd-police", actor=POLICE),
        ResponsibilityAssigned(
            lead_id=lead,
            unit="shd-police",
            assignee="police",
            assignee_name="王警官",
            deadline=start + timedelta(days=30),
            actor=POLICE,
        ),
        VerificationRecorded(lead_id=lead, note="走访三户村民", actor=POLICE),
        VerificationRecorded(lead_id=lead, note="调取村口监控", actor=POLICE),
        LeadConcluded(
            lead_id=lead, result=Conclusion.SUBSTANTIATED, summary="属实，已立案", actor=POLICE
        ),
        FeedbackGiven(lead_id=lead, text="您反映的问题已查实并依法处理", actor=OFFICE),
        LeadArchived(lead_id=lead, actor=OFFICE),
    ]


def interleaved(total: int, in_flight: int = 200, seed: int = 7) -> Iterator[Event]:
    """``total`` events from leads whose lives overlap, ``in_flight`` at a time."""
    rng = random.Random(seed)
    lives: list[list[Event]] = []
    started = emitted = 0
    while emitted < total:
        while len(lives) < in_flight:
            lives.append(lead_life(started, rng))
            started += 1
        life = lives[rng.randrange(len(lives))]
        yield life.pop(0)
        emitted += 1
        if not life:
            lives.remove(life)


async def publish(js: JetStreamContext, events: Iterator[Event], window: int = 2000) -> int:
    pending = []
    count = 0
    for event in events:
        subject = lead_subject("ledger", event.lead_id, event.event_type)
        pending.append(
            await js.publish_async(subject, encode(event), headers={"Nats-Msg-Id": event.event_id})
        )
        count += 1
        if len(pending) >= window:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return count


@asynccontextmanager
async def ledger_stream(total: int) -> AsyncIterator[tuple[JetStreamContext, Path]]:
    """A fresh nats-server from the wheel with ``total`` ledger events, and a scratch dir."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with NatsServer(root / "nats") as server:
            nc = await nats.connect(server.url)
            try:
                js = nc.jetstream(publish_async_max_pending=4000)
                await declare_streams(js, [Stream.LEDGER, Stream.DLQ_LEDGER])
                await publish(js, interleaved(total))
                yield js, root
            finally:
                await nc.close()
