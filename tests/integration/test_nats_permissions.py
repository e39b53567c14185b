"""The broker enforces separation of duties: deploy/nats/auth.conf against a real nats-server.

Every service can do its own work, and each forbidden read or write fails in both ways a
denial shows (notes/nats-permissions.md, trap 2): the operation yields nothing, and the
server reports a permissions violation to the connection's error callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, JetStreamManager
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig, StreamSource
from nats.js.errors import BadRequestError, NotFoundError

from common.natsserver import NatsServer
from common.subjects import STREAM_SUBJECTS, Service, Stream, inbox_prefix

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "nats" / "embedded.conf"
USERS = ("intake", "ledger", "oversight", "leadctl", "admin")

# How long to wait for an answer that must not come; short so the file stays fast.
DENIED = 1.0
# How long an allowed operation (or the server's violation report) may take.
ALLOWED = 5.0
PERMISSIONS_VIOLATION = "permissions violation"
MIN_SERVER = (2, 10)


def _password() -> str:
    # A letter, then hex: nats-server parses env values as config values, and one that
    # reads as a number or a date (digits only, a leading "-" or "<digit>-") stops it.
    return "p" + secrets.token_hex(16)


@dataclass(frozen=True)
class PermissionedServer:
    url: str
    passwords: dict[str, str]
    log: Path


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PermissionedServer]:
    """The deployment's own permission config on the wheel's nats-server (the system's
    2.9 is too old for `sync_interval` and the per-subject sequence check)."""
    workdir = tmp_path_factory.mktemp("nats")
    passwords = {user: _password() for user in USERS}
    env = {f"NATS_{user.upper()}_PASSWORD": pw for user, pw in passwords.items()}
    log = workdir / "nats-server.log"
    with NatsServer(workdir / "store", config=CONFIG, env=env, log_file=log) as server:
        yield PermissionedServer(url=server.url, passwords=passwords, log=log)


@dataclass
class Connection:
    """One user's connection and the asynchronous errors the server sent it."""

    nc: Client
    js: JetStreamContext
    jsm: JetStreamManager
    errors: list[str] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_error(self, exc: Exception) -> None:
        self.errors.append(str(exc))
        self._changed.set()

    def violations(self) -> list[str]:
        return [e for e in self.errors if PERMISSIONS_VIOLATION in e.lower()]

    async def violation_for(self, subject: str) -> str:
        """The server's permissions violation for ``subject`` (or a subject below it),
        awaited rather than slept on."""
        named = re.compile(r'"' + re.escape(subject) + r'[".]', re.IGNORECASE)
        async with asyncio.timeout(ALLOWED):
            while True:
                for error in self.violations():
                    if named.search(error):
                        return error
                self._changed.clear()
                await self._changed.wait()


@contextlib.asynccontextmanager
async def connected(
    server: PermissionedServer, user: str, *, api_timeout: float = ALLOWED
) -> AsyncIterator[Connection]:
    # Every non-admin user may subscribe only below its own inbox prefix.
    prefix = inbox_prefix(Service(user)) if user != "admin" else "_INBOX"
    conn: Connection | None = None

    async def error_cb(exc: Exception) -> None:
        if conn is not None:
            await conn.on_error(exc)

    nc = await nats.connect(
        server.url,
        user=user,
        password=server.passwords[user],
        inbox_prefix=prefix,
        error_cb=error_cb,
        allow_reconnect=False,
        connect_timeout=ALLOWED,
    )
    conn = Connection(nc=nc, js=nc.jetstream(timeout=api_timeout), jsm=nc.jsm(timeout=api_timeout))
    try:
        yield conn
    finally:
        await nc.close()


@pytest.fixture(scope="module")
async def streams(nats_server: PermissionedServer) -> list[Stream]:
    async with connected(nats_server, "admin") as admin:
        for stream, subjects in STREAM_SUBJECTS.items():
            await admin.jsm.add_stream(
                StreamConfig(
                    name=stream.value,
                    subjects=[subjects],
                    storage=StorageType.FILE,
                    allow_direct=True,
                    deny_delete=True,
                    deny_purge=True,
                    duplicate_window=120,
                )
            )
    return list(STREAM_SUBJECTS)


async def _last_sequence(server: PermissionedServer, stream: Stream) -> int:
    async with connected(server, "admin") as admin:
        info = await admin.jsm.stream_info(stream.value)
        return info.state.last_seq


# --- every user can do its own work -------------------------------------------------


async def test_admin_provisions_all_eight_streams_on_file_storage(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "admin") as admin:
        infos = [await admin.jsm.stream_info(stream.value) for stream in streams]
    assert {info.config.name for info in infos} == {s.value for s in Stream}
    assert all(info.config.storage == StorageType.FILE for info in infos)


async def test_intake_publishes_a_lead_report_and_gets_a_pub_ack(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "intake") as intake:
        ack = await intake.js.publish(
            "intake.lead.L1.LeadReported", b'{"report": "first"}', stream=Stream.INTAKE.value
        )
    assert ack.stream == Stream.INTAKE.value
    assert ack.seq >= 1
    assert intake.errors == []


async def test_ledger_pulls_a_lead_report_from_intake_with_a_durable_consumer_and_acks_it(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    body = b'{"report": "' + secrets.token_hex(8).encode() + b'"}'
    async with connected(nats_server, "intake") as intake:
        await intake.js.publish("intake.lead.L1.LeadReported", body, stream=Stream.INTAKE.value)

    async with connected(nats_server, "ledger") as ledger:
        sub = await ledger.js.pull_subscribe(
            "intake.lead.L1.LeadReported", durable="ledger-registrar", stream=Stream.INTAKE.value
        )
        fetched = await sub.fetch(batch=100, timeout=ALLOWED)
        for msg in fetched:
            await msg.ack_sync(timeout=ALLOWED)
        info = await ledger.jsm.consumer_info(Stream.INTAKE.value, "ledger-registrar")

    assert body in [msg.data for msg in fetched]
    assert info.num_ack_pending == 0
    assert ledger.errors == []


async def test_ledger_reads_its_own_stream_directly_after_publishing(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    subject = "ledger.lead.L1.LeadRegistered"
    async with connected(nats_server, "ledger") as ledger:
        ack = await ledger.js.publish(subject, b'{"unit": "U7"}', stream=Stream.LEDGER.value)
        # By sequence ($JS.API.DIRECT.GET.LEDGER, what EventStore.read_lead uses) ...
        by_seq = await ledger.jsm.get_msg(
            Stream.LEDGER.value, seq=ack.seq, subject="ledger.lead.L1.>", next=True, direct=True
        )
        # ... last by subject ($JS.API.DIRECT.GET.LEDGER.<subject>) ...
        last = await ledger.jsm.get_last_msg(Stream.LEDGER.value, subject, direct=True)
        # ... and the non-direct API ($JS.API.STREAM.MSG.GET.LEDGER).
        stored = await ledger.jsm.get_msg(Stream.LEDGER.value, seq=ack.seq)

    assert by_seq.seq == last.seq == stored.seq == ack.seq
    assert by_seq.data == last.data == stored.data == b'{"unit": "U7"}'
    assert ledger.errors == []


async def test_oversight_reads_audit_and_issues_a_directive_that_ledger_consumes(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    marker = secrets.token_hex(8).encode()
    async with connected(nats_server, "ledger") as ledger:
        await ledger.js.publish(
            "audit.ledger.lead.L1.LeadViewed",
            b'{"viewer": "' + marker + b'"}',
            stream=Stream.AUDIT.value,
        )

    async with connected(nats_server, "oversight") as oversight:
        viewed = await oversight.jsm.get_last_msg(
            Stream.AUDIT.value, "audit.ledger.lead.L1.LeadViewed", direct=True
        )
        # Only through its own durable consumer: no user but the admin makes unnamed ones.
        audit = await oversight.js.pull_subscribe(
            "audit.>",
            durable="oversight-oversight-AUDIT",
            stream=Stream.AUDIT.value,
            config=ConsumerConfig(ack_policy=AckPolicy.NONE),
        )
        audited = await audit.fetch(batch=100, timeout=ALLOWED)
        await oversight.js.publish(
            "directive.lead.L1.SupervisionListed",
            b'{"directive": "' + marker + b'"}',
            stream=Stream.DIRECTIVES.value,
        )

    async with connected(nats_server, "ledger") as ledger:
        directives = await ledger.js.pull_subscribe(
            "directive.>", durable="ledger-outcomes", stream=Stream.DIRECTIVES.value
        )
        received = await directives.fetch(batch=100, timeout=ALLOWED)
        for msg in received:
            await msg.ack_sync(timeout=ALLOWED)

    assert viewed.data is not None
    assert marker in viewed.data
    assert any(marker in msg.data for msg in audited)
    assert [m.subject for m in received if marker in m.data] == [
        "directive.lead.L1.SupervisionListed"
    ]
    assert oversight.errors == []
    assert ledger.errors == []


async def test_leadctl_reads_every_stream_and_writes_only_its_audit_records(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "intake") as intake:
        ack = await intake.js.publish(
            "intake.lead.L3.LeadReported", b'{"report": "L3"}', stream=Stream.INTAKE.value
        )

    async with connected(nats_server, "leadctl", api_timeout=DENIED) as leadctl:
        names = {info.config.name for info in await leadctl.jsm.streams_info()}
        for stream in streams:
            # An empty stream answers "not found": an answer at all means reading is allowed.
            with contextlib.suppress(NotFoundError):
                await leadctl.jsm.get_msg(stream.value, seq=1, direct=True)
        # Paging through one lead the way EventStore.read_lead does.
        first = await leadctl.jsm.get_msg(
            Stream.INTAKE.value, seq=1, subject="intake.lead.L3.>", next=True, direct=True
        )
        await leadctl.js.publish("audit.leadctl.global.LedgerExported", b"{}")

        # Read-only: no consumers (which could update or drain a service's durable) ...
        with pytest.raises(nats.errors.TimeoutError):
            await leadctl.js.pull_subscribe("intake.>", stream=Stream.INTAKE.value)
        await leadctl.violation_for("$JS.API.CONSUMER.CREATE.INTAKE")
        # ... and no events.
        with pytest.raises(nats.errors.TimeoutError):
            await leadctl.js.publish("intake.lead.L1.LeadReported", b"{}")
        await leadctl.violation_for("intake.lead.L1.LeadReported")

    assert names == {s.value for s in Stream}
    assert (first.seq, first.data) == (ack.seq, b'{"report": "L3"}')
    assert len(leadctl.violations()) == 2


# --- denials -----------------------------------------------------------------------


async def test_ledger_cannot_create_a_consumer_on_oversight(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.add_consumer(
                Stream.OVERSIGHT.value, ConsumerConfig(durable_name="ledger-spy")
            )
        await ledger.violation_for("$JS.API.CONSUMER.DURABLE.CREATE.OVERSIGHT.ledger-spy")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.js.pull_subscribe(
                "oversight.>", durable="ledger-spy2", stream=Stream.OVERSIGHT.value
            )
        await ledger.violation_for("$JS.API.CONSUMER.INFO.OVERSIGHT.ledger-spy2")


async def test_ledger_cannot_touch_the_committees_consumer_on_the_ledger_stream(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    # Both read LEDGER; the committee's consumer there opens a case for every lead the
    # ledger hands to it. The ledger must not be able to drain, ack away or delete it.
    durable = "oversight-cases-from-transfers"
    async with connected(nats_server, "oversight") as oversight:
        await oversight.jsm.add_consumer(
            Stream.LEDGER.value, ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT)
        )
    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.delete_consumer(Stream.LEDGER.value, durable)
        await ledger.violation_for(f"$JS.API.CONSUMER.DELETE.LEDGER.{durable}")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.consumer_info(Stream.LEDGER.value, durable)
        await ledger.violation_for(f"$JS.API.CONSUMER.INFO.LEDGER.{durable}")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.add_consumer(
                Stream.LEDGER.value, ConsumerConfig(name="unnamed-takeover", durable_name=durable)
            )


async def test_ledger_cannot_direct_get_from_oversight(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "oversight") as oversight:
        await oversight.js.publish(
            "oversight.lead.L1.CaseOpened", b'{"case": "C1"}', stream=Stream.OVERSIGHT.value
        )

    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.get_msg(Stream.OVERSIGHT.value, seq=1, direct=True)
        await ledger.violation_for("$JS.API.DIRECT.GET.OVERSIGHT")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.get_last_msg(
                Stream.OVERSIGHT.value, "oversight.lead.L1.CaseOpened", direct=True
            )
        await ledger.violation_for("$JS.API.DIRECT.GET.OVERSIGHT.oversight.lead.L1.CaseOpened")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.get_msg(Stream.OVERSIGHT.value, seq=1)
        await ledger.violation_for("$JS.API.STREAM.MSG.GET.OVERSIGHT")


async def test_ledger_cannot_publish_oversight_events(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    before = await _last_sequence(nats_server, Stream.OVERSIGHT)
    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.js.publish("oversight.lead.L1.CaseOpened", b'{"forged": true}')
        await ledger.violation_for("oversight.lead.L1.CaseOpened")
    assert await _last_sequence(nats_server, Stream.OVERSIGHT) == before


async def test_intake_cannot_publish_ledger_events(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    before = await _last_sequence(nats_server, Stream.LEDGER)
    async with connected(nats_server, "intake", api_timeout=DENIED) as intake:
        with pytest.raises(nats.errors.TimeoutError):
            await intake.js.publish("ledger.lead.L1.LeadRegistered", b'{"forged": true}')
        await intake.violation_for("ledger.lead.L1.LeadRegistered")
    assert await _last_sequence(nats_server, Stream.LEDGER) == before


async def test_ledger_cannot_read_the_audit_trail(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.js.pull_subscribe("audit.>", stream=Stream.AUDIT.value)
        await ledger.violation_for("$JS.API.CONSUMER.CREATE.AUDIT")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.get_msg(Stream.AUDIT.value, seq=1, direct=True)
        await ledger.violation_for("$JS.API.DIRECT.GET.AUDIT")


async def test_ledger_listening_on_every_inbox_sees_nothing_of_what_oversight_pulls(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    secret = b'{"case": "' + secrets.token_hex(8).encode() + b'"}'
    spied: dict[str, list[Msg]] = {">": [], "_INBOX_oversight.>": [], "_INBOX.>": []}

    async with (
        connected(nats_server, "admin") as admin,
        connected(nats_server, "ledger") as ledger,
    ):
        # Control: a user allowed to listen on oversight's inbox does see the delivery, so
        # the ledger's silence below is the permissions' doing.
        seen_by_admin: list[Msg] = []

        async def admin_cb(msg: Msg) -> None:
            seen_by_admin.append(msg)

        await admin.nc.subscribe("_INBOX_oversight.>", cb=admin_cb)
        await admin.nc.flush()

        for subject, got in spied.items():

            async def spy_cb(msg: Msg, got: list[Msg] = got) -> None:
                got.append(msg)

            await ledger.nc.subscribe(subject, cb=spy_cb)
        for subject in spied:
            await ledger.violation_for(subject)

        async with connected(nats_server, "oversight") as oversight:
            await oversight.js.publish(
                "oversight.lead.L2.CaseOpened", secret, stream=Stream.OVERSIGHT.value
            )
            sub = await oversight.js.pull_subscribe(
                "oversight.lead.L2.CaseOpened",
                durable="oversight-oversight-OVERSIGHT",
                stream=Stream.OVERSIGHT.value,
            )
            pulled = await sub.fetch(batch=1, timeout=ALLOWED)
            await pulled[0].ack_sync(timeout=ALLOWED)

        # Everything the server sent either listener before answering these pings has
        # been read, so the counts below are final.
        await admin.nc.flush(timeout=int(ALLOWED))
        await ledger.nc.flush(timeout=int(ALLOWED))

    assert pulled[0].data == secret
    assert oversight.errors == []
    assert secret in [msg.data for msg in seen_by_admin]
    assert {subject: len(got) for subject, got in spied.items()} == dict.fromkeys(spied, 0)
    assert len(ledger.violations()) == len(spied)


async def test_ledger_cannot_reconfigure_a_stream_to_copy_oversight_or_capture_its_inbox(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "ledger", api_timeout=DENIED) as ledger:
        provisioned = (await ledger.jsm.stream_info(Stream.LEDGER.value)).config
        # Declaring its stream with the provisioned configuration is allowed and harmless ...
        await ledger.jsm.add_stream(provisioned)

        copying = copy.deepcopy(provisioned)
        copying.sources = [StreamSource(name=Stream.OVERSIGHT.value)]
        # ... a different configuration the server refuses on create ...
        with pytest.raises(BadRequestError, match="different configuration"):
            await ledger.jsm.add_stream(copying)
        # ... and the update it would need is not granted.
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.update_stream(copying)
        await ledger.violation_for("$JS.API.STREAM.UPDATE.LEDGER")

        capturing = copy.deepcopy((await ledger.jsm.stream_info(Stream.DLQ_LEDGER.value)).config)
        capturing.subjects = [*(capturing.subjects or []), "_INBOX_oversight.>"]
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.update_stream(capturing)
        await ledger.violation_for("$JS.API.STREAM.UPDATE.DLQ_LEDGER")

    async with connected(nats_server, "admin") as admin:
        ledger_stream = await admin.jsm.stream_info(Stream.LEDGER.value)
        dlq = await admin.jsm.stream_info(Stream.DLQ_LEDGER.value)
    assert not ledger_stream.config.sources
    assert dlq.config.subjects == [STREAM_SUBJECTS[Stream.DLQ_LEDGER]]


async def test_no_service_can_shrink_the_audit_trail(
    nats_server: PermissionedServer, streams: list[Stream]
) -> None:
    async with connected(nats_server, "intake") as intake:
        for n in range(2):
            await intake.js.publish(
                "audit.intake.lead.L4.LeadViewed",
                f'{{"n": {n}}}'.encode(),
                stream=Stream.AUDIT.value,
            )
    before = await _last_sequence(nats_server, Stream.AUDIT)

    async with connected(nats_server, "intake", api_timeout=DENIED) as intake:
        shrunk = copy.deepcopy((await intake.jsm.stream_info(Stream.AUDIT.value)).config)
        shrunk.max_msgs = 1  # would delete all but the newest record, deny_delete or not
        with pytest.raises(nats.errors.TimeoutError):
            await intake.jsm.update_stream(shrunk)
        await intake.violation_for("$JS.API.STREAM.UPDATE.AUDIT")

    async with connected(nats_server, "admin") as admin:
        audit = await admin.jsm.stream_info(Stream.AUDIT.value)
    assert audit.state.last_seq == before
    assert audit.state.messages == before
