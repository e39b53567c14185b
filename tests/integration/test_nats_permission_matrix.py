"""Who may learn what about which stream, and who may make the broker write where: every
user against every stream, under the deployment's own deploy/nats/auth.conf.

A user may see stream info, messages and consumers only of streams it may read anyway, and
nobody but the admin may create, change or delete a consumer. An allowed request is
answered; a refused one is not, and the server reports a permissions violation to the
connection's error callback (notes/nats-permissions.md, trap 2). Two attacks are replayed:
intake and ledger learning from AUDIT which leads the discipline committee opened (issue 10,
item 3), and a service creating a push consumer that delivers into OVERSIGHT (item 4).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from enum import StrEnum

import pytest
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from common.consumers import DURABLES
from common.streams import stream_config
from common.subjects import STREAM_SUBJECTS, Stream
from tests.conftest import wait_until
from tests.support.nats_users import (
    ALLOWED,
    DENIED,
    Connection,
    PermissionedServer,
    connected,
    permissioned_server,
)
from tests.support.streams import count_on

pytestmark = pytest.mark.integration

EVERY = frozenset(Stream)
NONE: frozenset[Stream] = frozenset()


class Ask(StrEnum):
    STREAM_INFO = "STREAM.INFO (subjects_filter >)"
    STREAM_NAMES = "STREAM.NAMES"
    STREAM_LIST = "STREAM.LIST"
    CONSUMER_LIST = "CONSUMER.LIST"
    CONSUMER_NAMES = "CONSUMER.NAMES"
    CONSUMER_INFO = "CONSUMER.INFO of another user's durable"
    DIRECT_GET = "DIRECT.GET"
    MSG_GET = "STREAM.MSG.GET"
    CREATE_PULL = "CONSUMER.CREATE pull"
    CREATE_PUSH = "CONSUMER.CREATE push into another stream"
    DURABLE_CREATE = "CONSUMER.DURABLE.CREATE"
    DELETE = "CONSUMER.DELETE"


# Every service reads the accounts and the sign-ins (common.accounts), written by the
# administrator and by the services' sign-in.
PEOPLE = frozenset({Stream.ACCOUNTS, Stream.SESSIONS})
READS = {
    "intake": frozenset({Stream.INTAKE, Stream.LEDGER, Stream.DLQ_INTAKE}) | PEOPLE,
    "ledger": frozenset({Stream.INTAKE, Stream.LEDGER, Stream.DIRECTIVES, Stream.DLQ_LEDGER})
    | PEOPLE,
    "oversight": frozenset(
        {
            Stream.INTAKE,
            Stream.LEDGER,
            Stream.OVERSIGHT,
            Stream.DIRECTIVES,
            Stream.AUDIT,
            Stream.DLQ_OVERSIGHT,
        }
    )
    | PEOPLE,
    "leadctl": EVERY,
}

# On which streams each user is answered. Everything else must go unanswered.
EXPECTED: dict[str, dict[Ask, frozenset[Stream]]] = {
    user: {
        Ask.STREAM_INFO: READS[user],
        Ask.STREAM_NAMES: NONE,
        Ask.STREAM_LIST: NONE,
        Ask.CONSUMER_LIST: EVERY if user == "leadctl" else NONE,
        Ask.CONSUMER_NAMES: EVERY if user == "leadctl" else NONE,
        Ask.CONSUMER_INFO: EVERY if user == "leadctl" else NONE,
        Ask.DIRECT_GET: READS[user],
        Ask.MSG_GET: READS[user],
        Ask.CREATE_PULL: NONE,
        Ask.CREATE_PUSH: NONE,
        Ask.DURABLE_CREATE: NONE,
        Ask.DELETE: NONE,
    }
    for user in READS
}


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PermissionedServer]:
    with permissioned_server(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="module")
async def provisioned(nats_server: PermissionedServer) -> PermissionedServer:
    """Streams and durables as the admin provisions them, one message in every stream."""
    assert await nats_server.provision() == []
    async with connected(nats_server, "admin") as admin:
        for stream, subjects in STREAM_SUBJECTS.items():
            await admin.js.publish(subjects.replace(">", "lead.L0.Seeded"), b"{}")
            assert (await admin.jsm.stream_info(stream.value)).state.messages >= 1
    return nats_server


def _own_durable(user: str, stream: Stream) -> str:
    """The user's own durable on ``stream`` (once allowed to be remade), else a new name."""
    mine = [d.name for d in DURABLES if d.stream is stream and d.service.value == user]
    return mine[0] if mine else f"{user}-probe"


def _someone_elses_durable(user: str, stream: Stream) -> str:
    theirs = [d.name for d in DURABLES if d.stream is stream and d.service.value != user]
    return theirs[0] if theirs else "nobodys-durable"


def _elsewhere(stream: Stream) -> str:
    """A subject of another stream, the committee's if possible."""
    target = Stream.LEDGER if stream is Stream.OVERSIGHT else Stream.OVERSIGHT
    return STREAM_SUBJECTS[target].replace(">", f"lead.{secrets.token_hex(4)}.CaseOpened")


def _consumer(name: str | None, **config: object) -> bytes:
    """A consumer create request's body; ``name`` None for an unnamed (ephemeral) one."""
    body = ConsumerConfig(name=name, durable_name=name, ack_policy=AckPolicy.EXPLICIT)
    return json.dumps({"config": {**body.as_dict(), **config}}).encode()


def _request(ask: Ask, user: str, stream: Stream) -> tuple[str, bytes]:
    s = stream.value
    match ask:
        case Ask.STREAM_INFO:
            return f"$JS.API.STREAM.INFO.{s}", b'{"subjects_filter": ">"}'
        case Ask.STREAM_NAMES:
            return "$JS.API.STREAM.NAMES", json.dumps({"subject": STREAM_SUBJECTS[stream]}).encode()
        case Ask.STREAM_LIST:
            return "$JS.API.STREAM.LIST", json.dumps({"subject": STREAM_SUBJECTS[stream]}).encode()
        case Ask.CONSUMER_LIST:
            return f"$JS.API.CONSUMER.LIST.{s}", b"{}"
        case Ask.CONSUMER_NAMES:
            return f"$JS.API.CONSUMER.NAMES.{s}", b"{}"
        case Ask.CONSUMER_INFO:
            return f"$JS.API.CONSUMER.INFO.{s}.{_someone_elses_durable(user, stream)}", b""
        case Ask.DIRECT_GET:
            return f"$JS.API.DIRECT.GET.{s}", b'{"seq": 1}'
        case Ask.MSG_GET:
            return f"$JS.API.STREAM.MSG.GET.{s}", b'{"seq": 1}'
        case Ask.CREATE_PULL:
            name = _own_durable(user, stream)
            return f"$JS.API.CONSUMER.CREATE.{s}.{name}", _consumer(name)
        case Ask.CREATE_PUSH:
            name = f"{user}-push"
            return f"$JS.API.CONSUMER.CREATE.{s}.{name}", _consumer(
                name, deliver_subject=_elsewhere(stream)
            )
        case Ask.DURABLE_CREATE:
            name = _own_durable(user, stream)
            return f"$JS.API.CONSUMER.DURABLE.CREATE.{s}.{name}", _consumer(name)
        case Ask.DELETE:
            return f"$JS.API.CONSUMER.DELETE.{s}.{_own_durable(user, stream)}", b""


async def _answered(conn: Connection, subject: str, body: bytes) -> Msg | None:
    return await conn.ask(subject, body, timeout=DENIED)


@pytest.mark.parametrize("user", list(READS))
async def test_each_user_is_answered_on_exactly_the_streams_the_table_says(
    provisioned: PermissionedServer, user: str
) -> None:
    asks = [(ask, stream) for ask in Ask for stream in Stream]
    async with connected(provisioned, user) as conn:
        requests = [_request(ask, user, stream) for ask, stream in asks]
        answers = await asyncio.gather(*(_answered(conn, *r) for r in requests))
        refused = [
            subject
            for (subject, _), answer in zip(requests, answers, strict=True)
            if answer is None
        ]
        for subject in refused:
            await conn.violation_for(subject)

    answered = {
        f"{ask} {stream}" for (ask, stream), a in zip(asks, answers, strict=True) if a is not None
    }
    expected = {f"{ask} {stream}" for ask, streams in EXPECTED[user].items() for stream in streams}
    assert sorted(answered) == sorted(expected)
    # An allowed read answers with the stream's own content, not an error about rights.
    for (ask, stream), answer in zip(asks, answers, strict=True):
        if answer is not None and ask is Ask.STREAM_INFO:
            assert json.loads(answer.data)["config"]["name"] == stream.value


async def test_intake_and_ledger_cannot_learn_which_leads_the_committee_looked_at(
    provisioned: PermissionedServer,
) -> None:
    lead = f"L{secrets.token_hex(6)}"
    viewed = f"audit.oversight.lead.{lead}.LeadViewed"
    async with connected(provisioned, "oversight") as oversight:
        await oversight.js.publish(viewed, b'{"reason": "case review"}', stream="AUDIT")
    audit = json.dumps({"config": stream_config(Stream.AUDIT).as_dict()}).encode()
    attempts = [
        ("$JS.API.STREAM.INFO.AUDIT", b'{"subjects_filter": ">"}'),
        ("$JS.API.STREAM.INFO.AUDIT", json.dumps({"subjects_filter": viewed}).encode()),
        ("$JS.API.STREAM.NAMES", json.dumps({"subject": viewed}).encode()),
        ("$JS.API.STREAM.LIST", json.dumps({"subject": viewed}).encode()),
        ("$JS.API.STREAM.CREATE.AUDIT", audit),  # a create answers with the stream's state
        ("$JS.API.CONSUMER.LIST.AUDIT", b"{}"),
        ("$JS.API.CONSUMER.NAMES.AUDIT", b"{}"),
        ("$JS.API.CONSUMER.INFO.AUDIT.oversight-oversight-AUDIT", b""),
        ("$JS.API.DIRECT.GET.AUDIT", json.dumps({"last_by_subj": viewed}).encode()),
        (f"$JS.API.DIRECT.GET.AUDIT.{viewed}", b""),
        ("$JS.API.STREAM.MSG.GET.AUDIT", json.dumps({"last_by_subj": viewed}).encode()),
        (f"$JS.API.CONSUMER.CREATE.AUDIT.peek.{viewed}", _consumer("peek", filter_subject=viewed)),
        ("$JS.API.INFO", b""),
    ]

    # Control: the committee (and only a reader of AUDIT) learns the subject this way.
    async with connected(provisioned, "oversight") as oversight:
        shown = await oversight.ask(attempts[0][0], attempts[0][1], timeout=ALLOWED)
    assert shown is not None
    assert viewed in json.loads(shown.data)["state"]["subjects"]

    for user in ("intake", "ledger"):
        async with connected(provisioned, user) as conn:
            answers = await asyncio.gather(*(conn.ask(s, b) for s, b in attempts))
            for subject, _ in attempts:
                await conn.violation_for(subject)
            # Writing its own audit records needs none of it, and tells nothing either.
            ack = await conn.js.publish(f"audit.{user}.lead.{lead}.LeadViewed", b"{}")

        assert answers == [None] * len(attempts), user
        assert ack.stream == "AUDIT"
        assert lead not in repr(ack)


async def test_no_service_can_have_the_broker_deliver_into_the_committees_stream(
    provisioned: PermissionedServer,
) -> None:
    lead = f"L{secrets.token_hex(6)}"
    target = f"oversight.lead.{lead}.CaseOpened"
    before = await _oversight_state(provisioned)
    async with connected(provisioned, "admin") as admin:
        # The broker delivers to a push consumer only while something listens there.
        await _listen(admin, target)
        for user, stream in (("intake", Stream.INTAKE), ("ledger", Stream.LEDGER)):
            own = _own_durable(user, stream)
            push = {"deliver_subject": target}
            attempts = [
                (f"$JS.API.CONSUMER.CREATE.{stream.value}.{own}", _consumer(own, **push)),
                (f"$JS.API.CONSUMER.CREATE.{stream.value}.spy", _consumer("spy", **push)),
                (f"$JS.API.CONSUMER.DURABLE.CREATE.{stream.value}.spy", _consumer("spy", **push)),
                (f"$JS.API.CONSUMER.CREATE.{stream.value}", _consumer(None, **push)),
            ]
            async with connected(provisioned, user) as conn:
                # Something to deliver, in the stream the user reads and writes.
                bait = STREAM_SUBJECTS[stream].replace(">", f"lead.{lead}.Bait")
                await conn.js.publish(bait, b"{}")
                answers = await asyncio.gather(*(conn.ask(s, b) for s, b in attempts))
                for subject, _ in attempts:
                    await conn.violation_for(subject)
            assert answers == [None] * len(attempts), user
        kept = {
            d.name: (await admin.jsm.consumer_info(d.stream.value, d.name)).config.deliver_subject
            for d in DURABLES
        }
        # Whatever the broker had sent the listener has arrived by the time this answers.
        await admin.nc.flush(timeout=int(ALLOWED))

    assert await _oversight_state(provisioned) == before, "nothing landed in OVERSIGHT"
    assert kept == dict.fromkeys(kept), "every durable is still a pull consumer"


async def test_the_broker_does_store_what_a_push_consumer_delivers_into_another_stream(
    provisioned: PermissionedServer,
) -> None:
    """The control for the test above: what the services are denied is a real attack.
    nats-server does not check a consumer's deliver_subject against its creator's publish
    permissions (nats-io/nats-server#8274); here the admin creates one."""
    lead = f"L{secrets.token_hex(6)}"
    target = f"oversight.lead.{lead}.CaseOpened"
    async with connected(provisioned, "admin") as admin:
        await _listen(admin, target)
        await admin.js.publish(f"ledger.lead.{lead}.Bait", b"{}")
        await admin.jsm.add_consumer(
            "LEDGER",
            ConsumerConfig(
                durable_name="control-push",
                filter_subject=f"ledger.lead.{lead}.Bait",
                deliver_subject=target,
            ),
        )
        try:
            # Stored under the delivered message's own subject, a ledger one.
            await wait_until(lambda: _has_subject(admin, "OVERSIGHT", f"ledger.lead.{lead}.>"))
        finally:
            await admin.jsm.delete_consumer("LEDGER", "control-push")


async def _listen(conn: Connection, subject: str) -> None:
    async def ignore(msg: Msg) -> None:
        return None

    await conn.nc.subscribe(subject, cb=ignore)
    await conn.nc.flush()


async def _oversight_state(server: PermissionedServer) -> tuple[int, dict[str, int]]:
    async with connected(server, "admin") as admin:
        info = await admin.jsm.stream_info("OVERSIGHT", subjects_filter=">")
    return info.state.last_seq, dict(info.state.subjects or {})


async def _has_subject(admin: Connection, stream: str, wanted: str) -> bool:
    return await count_on(admin.jsm, Stream(stream), wanted) > 0
