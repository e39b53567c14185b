"""Hostile bytes on every subject a service consumes: for each durable of the service
(common.consumers.DURABLES), garbage, JSON of the wrong shape, an event naming another lead
than its subject, a body near the broker's size limit and an event no append stored go onto
a subject it reads; then a valid event, appended as the services append. Each hostile one
is parked on the service's dead-letter stream with the reason, the valid one after it is
applied (the consumer kept going), and /readyz says ready once all is done."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext

from common.consumers import Durable, Kind, durables_of
from common.deadletter import HEADER_CONSUMER, HEADER_REASON, HEADER_SEQUENCE
from common.events import Event, Role, encode
from common.events.accounts import AccountOpened, SignInFailed
from common.events.campaigns import CampaignClosed
from common.events.catalogue import (
    CaseOpened,
    DisciplineOutcome,
    LeadRegistered,
    LeadTransferred,
    LeadViewed,
    SupervisionListed,
)
from common.events.notices import NoticeAccountabilityRecorded, NoticeIssued
from common.eventstore import EventStore, read_messages
from common.projection import NOT_APPENDED
from common.service import ServiceRuntime
from common.streams import declare_streams
from common.subjects import DLQ_STREAM, Service, Stream, subject_matches
from common.vocabulary import Category, Channel, Conclusion
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import write_staff
from tests.support.factories import new_lead_id, reported
from tests.support.intake import running
from tests.support.suite import create_service

pytestmark = pytest.mark.integration

# Where each stream's events are written (the audit stream: as the ledger writes it).
PREFIX = {
    Stream.INTAKE: "intake",
    Stream.LEDGER: "ledger",
    Stream.DIRECTIVES: "directive",
    Stream.OVERSIGHT: "oversight",
    Stream.AUDIT: "audit.ledger",
    Stream.ACCOUNTS: "accounts",
    Stream.SESSIONS: "sessions.ledger",
}
# What a projection is sent on each stream: a type every projection reading it handles,
# so a hostile one is decoded (and refused), not passed over as none of its business.
PROJECTED = {
    Stream.INTAKE: "LeadReported",
    Stream.LEDGER: "LeadRegistered",
    Stream.DIRECTIVES: "SupervisionListed",
    Stream.OVERSIGHT: "CaseOpened",
    Stream.AUDIT: "LeadViewed",
    Stream.ACCOUNTS: "AccountOpened",
    Stream.SESSIONS: "SignInFailed",
}
# A projection of its own that handles none of those: sent a type it does handle.
OWN_TYPE = {
    "ledger-campaigns-LEDGER": "CampaignClosed",
    "oversight-notices-LEDGER": "NoticeIssued",
    "oversight-notices-OVERSIGHT": "NoticeAccountabilityRecorded",
}
MOMENT = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def valid(event_type: str, lead_id: str) -> Event:
    """A fresh, valid event of the type, about the lead."""
    made: dict[str, Event] = {
        "LeadReported": reported(lead_id, summary=f"fees collected by force {uuid.uuid4()}"),
        "LeadRegistered": LeadRegistered(
            for_committee=False,
            lead_id=lead_id,
            ledger_number=f"SHD-2026-{uuid.uuid4().int % 10**6:06d}",
            unit="shd-office",
            reported_at=MOMENT,
            channel=Channel.HOTLINE,
            category=Category.PUBLIC_ORDER,
            summary="fights outside the bar",
        ),
        "LeadTransferred": LeadTransferred(
            lead_id=lead_id, from_unit="shd-office", to_unit="shd-police", reason="criminal"
        ),
        "SupervisionListed": SupervisionListed(
            lead_id=lead_id, unit="shd-police", deadline=MOMENT, level="town"
        ),
        "DisciplineOutcome": DisciplineOutcome(lead_id=lead_id, result=Conclusion.SUBSTANTIATED),
        "CaseOpened": CaseOpened(lead_id=lead_id, case_id=uuid.uuid4().hex, basis="flagged"),
        "LeadViewed": LeadViewed(lead_id=lead_id, service="ledger", purpose="review"),
        # About a person, not a lead (stored under accounts.global / sessions.<service>.global).
        "AccountOpened": AccountOpened(
            user=f"u.{lead_id[:20]}", display_name="张三", role=Role.CLERK, unit="shd-office"
        ),
        "SignInFailed": SignInFailed(user=f"u.{lead_id[:20]}", why="password"),
        # About a notice (stored on ledger.notice.<id> / oversight.notice.<id>).
        "NoticeIssued": NoticeIssued(
            notice_id=lead_id,
            kind="criticism",
            unit="shd-police",
            period_from=MOMENT.date(),
            period_to=MOMENT.date(),
            title="通报批评",
            body="超期未办结",
        ),
        "CampaignClosed": CampaignClosed(campaign_id=lead_id),
        "NoticeAccountabilityRecorded": NoticeAccountabilityRecorded(
            notice_id=lead_id,
            person="wang.police",
            unit="shd-police",
            kind="public_criticism",
            form=1,
            reason="态度消极",
        ),
    }
    return made[event_type]


@dataclass(frozen=True)
class Sent:
    stream: Stream
    sequence: int
    subject: str
    what: str  # the attack, or "valid"


def subject(stream: Stream, lead_id: str, event_type: str, kind: str = "lead") -> str:
    return f"{PREFIX[stream]}.{kind}.{lead_id}.{event_type}"


async def send_hostile(js: JetStreamContext, stream: Stream, event_type: str) -> list[Sent]:
    """The five attacks on one stream's subject of ``event_type``."""
    near_limit = js._nc.max_payload - 4096
    other = valid(event_type, new_lead_id())
    unstored = valid(event_type, new_lead_id())
    attacks = [
        ("garbage", new_lead_id(), b"\xff\xfe\x00 not an event \x9c", None),
        (
            "wrong shape",
            new_lead_id(),
            b'{"event_type": "' + event_type.encode() + b'", "x": 7}',
            None,
        ),
        ("another lead", new_lead_id(), encode(other), other.event_id),
        ("near the size limit", new_lead_id(), b'{"summary": "' + b"x" * near_limit + b'"}', None),
        # On the event's own subject, whatever it belongs to (a lead, a notice).
        ("no Nats-Msg-Id", unstored.subject_id, encode(unstored), ""),
    ]
    sent = []
    for what, lead_id, data, msg_id in attacks:
        headers = {"Nats-Msg-Id": msg_id or str(uuid.uuid4())} if msg_id != "" else None
        # An event about no lead (an account) is stored on its stream's global subject.
        kind = unstored.subject_kind if what == "no Nats-Msg-Id" else "lead"
        where = (
            subject(stream, lead_id, event_type, kind)
            if lead_id
            else f"{PREFIX[stream]}.global.{event_type}"
        )
        ack = await js.publish(where, data, stream=stream.value, headers=headers)
        sent.append(Sent(stream, ack.seq, where, what))
    return sent


async def send_valid(js: JetStreamContext, stream: Stream, event_type: str) -> list[Sent]:
    """A valid event, after what it presumes: the committee's outcome is about a lead the
    ledger registered (one about no lead of the ledger is rightly parked)."""
    lead_id = new_lead_id()
    story = [(stream, valid(event_type, lead_id))]
    if event_type == "DisciplineOutcome":
        story.insert(0, (Stream.LEDGER, valid("LeadRegistered", lead_id)))
    sent = []
    for where, event in story:
        appended = await EventStore(js, where, PREFIX[where]).append(event)
        sent.append(
            Sent(where, appended.sequence, subject(where, lead_id, event.event_type), "valid")
        )
    return sent


def target_type(durable: Durable) -> str:
    if durable.kind is Kind.REACTOR:
        assert durable.filter_subject is not None
        return durable.filter_subject.rsplit(".", 1)[-1]
    return OWN_TYPE.get(durable.name, PROJECTED[durable.stream])


def reads(handled: dict[str, set[str]], durable: Durable, sent: Sent) -> bool:
    """Whether the durable decodes what was sent (a projection passes over types it has no
    handler for, a reactor sees only its subject)."""
    if sent.stream is not durable.stream:
        return False
    if durable.filter_subject is not None:
        return subject_matches(sent.subject, durable.filter_subject)
    return sent.subject.rsplit(".", 1)[-1] in handled[durable.name]


async def done_with(js: JetStreamContext, durable: Durable, last: int) -> bool:
    info = await js.consumer_info(durable.stream.value, durable.name)
    return (
        info.delivered.stream_seq is not None
        and info.delivered.stream_seq >= last
        and info.num_pending == 0
        and info.num_ack_pending == 0
    )


async def parked_by_consumer(js: JetStreamContext, service: Service) -> dict[str, dict[int, str]]:
    """consumer -> {sequence parked: reason}, as operators see the dead-letter stream."""
    parked: dict[str, dict[int, str]] = defaultdict(dict)
    async for msg in read_messages(js, DLQ_STREAM[service].value):
        headers = msg.headers or {}
        if HEADER_CONSUMER in headers:
            parked[headers[HEADER_CONSUMER]][int(headers[HEADER_SEQUENCE])] = headers[HEADER_REASON]
    return parked


REASONS = {
    "garbage": "malformed event",
    "wrong shape": "malformed event",
    "near the size limit": "malformed event",
    "another lead": "the subject names lead",
    "no Nats-Msg-Id": NOT_APPENDED,
}


async def ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


@pytest.mark.parametrize(
    "service", [Service.INTAKE, Service.LEDGER, Service.OVERSIGHT], ids=lambda s: s.value
)
async def test_every_consumer_parks_hostile_messages_with_the_reason_and_keeps_going(
    service: Service, js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    await declare_streams(js, list(Stream))
    app = create_service(service.value, nats_target, tmp_path, write_staff(tmp_path / "u.toml"))
    durables = durables_of(service)
    async with running(app) as client:
        await wait_until(lambda: ready(client), 30)
        runtime: ServiceRuntime = app.state.runtime
        # event types each projection decodes (a runner lets go of its projection at stop)
        handled = {r.durable: set(r.tracker.projection.handlers) for r in runtime.runners}
        sent: list[Sent] = []
        for durable in durables:
            sent += await send_hostile(js, durable.stream, target_type(durable))
            sent += await send_valid(js, durable.stream, target_type(durable))
        for durable in durables:
            last = max(s.sequence for s in sent if s.stream is durable.stream)
            await wait_until(lambda d=durable, n=last: done_with(js, d, n), 30)
        await wait_until(lambda: ready(client), 10)
        parked = await parked_by_consumer(js, service)

    for durable in durables:
        seen = [s for s in sent if reads(handled, durable, s)]
        hostile = {s.sequence: s.what for s in seen if s.what != "valid"}
        assert set(hostile.values()) == set(REASONS), durable.name
        assert set(parked[durable.name]) == set(hostile), (
            f"{durable.name} parked {parked[durable.name]}, sent {hostile}"
        )
        for sequence, what in hostile.items():
            assert REASONS[what] in parked[durable.name][sequence], (durable.name, what)
