"""The broker enforces separation of duties: under the deployment's own permission file,
each forbidden read or write fails in both ways a denial shows (notes/nats-permissions.md,
trap 2): the operation yields nothing, and the server reports a permissions violation to the
connection's error callback. The ledger cannot reach into oversight (its consumers, its
messages, its events, its inbox, a stream copying it), nor into the committee's consumer on
its own stream, nor read the audit trail; intake cannot forge ledger events; no service can
shrink the audit trail. The full matrix of who may learn what about which stream, and the
two attacks it closes, are in test_nats_permission_matrix.py."""

from __future__ import annotations

import copy
import secrets

import nats.errors
import pytest
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, StreamSource
from nats.js.errors import BadRequestError

from common.subjects import STREAM_SUBJECTS, Stream
from tests.support.nats_users import ALLOWED, DENIED, PermissionedServer, connected

pytestmark = pytest.mark.integration


async def _last_sequence(server: PermissionedServer, stream: Stream) -> int:
    async with connected(server, "admin") as admin:
        info = await admin.jsm.stream_info(stream.value)
        return info.state.last_seq


async def test_ledger_cannot_create_a_consumer_on_oversight(
    provisioned: PermissionedServer,
) -> None:
    async with connected(provisioned, "ledger", api_timeout=DENIED) as ledger:
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
    provisioned: PermissionedServer,
) -> None:
    # Both read LEDGER; the committee's consumer there opens a case for every lead the
    # ledger hands to it. The ledger must not be able to drain, ack away or delete it.
    durable = "oversight-cases-from-transfers"
    async with connected(provisioned, "ledger", api_timeout=DENIED) as ledger:
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
        await ledger.violation_for("$JS.API.CONSUMER.CREATE.LEDGER.unnamed-takeover")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.nc.request(
                f"$JS.API.CONSUMER.MSG.NEXT.LEDGER.{durable}", b'{"batch": 1}', timeout=DENIED
            )
        await ledger.violation_for(f"$JS.API.CONSUMER.MSG.NEXT.LEDGER.{durable}")
    async with connected(provisioned, "admin") as admin:
        info = await admin.jsm.consumer_info(Stream.LEDGER.value, durable)
    assert info.config.filter_subject == "ledger.lead.*.LeadTransferred"


async def test_ledger_cannot_direct_get_from_oversight(provisioned: PermissionedServer) -> None:
    async with connected(provisioned, "oversight") as oversight:
        await oversight.js.publish(
            "oversight.lead.L1.CaseOpened", b'{"case": "C1"}', stream=Stream.OVERSIGHT.value
        )

    async with connected(provisioned, "ledger", api_timeout=DENIED) as ledger:
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


async def test_ledger_cannot_publish_oversight_events(provisioned: PermissionedServer) -> None:
    before = await _last_sequence(provisioned, Stream.OVERSIGHT)
    async with connected(provisioned, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.js.publish("oversight.lead.L1.CaseOpened", b'{"forged": true}')
        await ledger.violation_for("oversight.lead.L1.CaseOpened")
    assert await _last_sequence(provisioned, Stream.OVERSIGHT) == before


async def test_intake_cannot_publish_ledger_events(provisioned: PermissionedServer) -> None:
    before = await _last_sequence(provisioned, Stream.LEDGER)
    async with connected(provisioned, "intake", api_timeout=DENIED) as intake:
        with pytest.raises(nats.errors.TimeoutError):
            await intake.js.publish("ledger.lead.L1.LeadRegistered", b'{"forged": true}')
        await intake.violation_for("ledger.lead.L1.LeadRegistered")
    assert await _last_sequence(provisioned, Stream.LEDGER) == before


async def test_ledger_cannot_read_the_audit_trail(provisioned: PermissionedServer) -> None:
    async with connected(provisioned, "ledger", api_timeout=DENIED) as ledger:
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.js.pull_subscribe("audit.>", stream=Stream.AUDIT.value)
        await ledger.violation_for("$JS.API.CONSUMER.CREATE.AUDIT")
        with pytest.raises(nats.errors.TimeoutError):
            await ledger.jsm.get_msg(Stream.AUDIT.value, seq=1, direct=True)
        await ledger.violation_for("$JS.API.DIRECT.GET.AUDIT")


async def test_ledger_listening_on_every_inbox_sees_nothing_of_what_oversight_pulls(
    provisioned: PermissionedServer,
) -> None:
    secret = b'{"case": "' + secrets.token_hex(8).encode() + b'"}'
    spied: dict[str, list[Msg]] = {">": [], "_INBOX_oversight.>": [], "_INBOX.>": []}

    async with (
        connected(provisioned, "admin") as admin,
        connected(provisioned, "ledger") as ledger,
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

        async with connected(provisioned, "oversight") as oversight:
            await oversight.js.publish(
                "oversight.lead.L2.CaseOpened", secret, stream=Stream.OVERSIGHT.value
            )
            sub = await oversight.js.pull_subscribe(
                "oversight.>",
                durable="oversight-oversight-OVERSIGHT",
                stream=Stream.OVERSIGHT.value,
            )
            pulled: list[Msg] = []
            while secret not in [m.data for m in pulled]:
                batch = await sub.fetch(batch=100, timeout=ALLOWED)
                for msg in batch:
                    await msg.ack_sync(timeout=ALLOWED)
                pulled.extend(batch)

        # Everything the server sent either listener before answering these pings has
        # been read, so the counts below are final.
        await admin.nc.flush(timeout=int(ALLOWED))
        await ledger.nc.flush(timeout=int(ALLOWED))

    assert oversight.errors == []
    assert secret in [msg.data for msg in seen_by_admin]
    assert {subject: len(got) for subject, got in spied.items()} == dict.fromkeys(spied, 0)
    assert len(ledger.violations()) == len(spied)


async def test_ledger_cannot_reconfigure_a_stream_to_copy_oversight_or_capture_its_inbox(
    provisioned: PermissionedServer,
) -> None:
    async with connected(provisioned, "ledger", api_timeout=DENIED) as ledger:
        as_provisioned = (await ledger.jsm.stream_info(Stream.LEDGER.value)).config
        # Declaring its stream with the provisioned configuration is allowed and harmless ...
        await ledger.jsm.add_stream(as_provisioned)

        copying = copy.deepcopy(as_provisioned)
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

    async with connected(provisioned, "admin") as admin:
        ledger_stream = await admin.jsm.stream_info(Stream.LEDGER.value)
        dlq = await admin.jsm.stream_info(Stream.DLQ_LEDGER.value)
    assert not ledger_stream.config.sources
    assert dlq.config.subjects == [STREAM_SUBJECTS[Stream.DLQ_LEDGER]]


async def test_no_service_can_shrink_the_audit_trail(provisioned: PermissionedServer) -> None:
    async with connected(provisioned, "intake") as intake:
        for n in range(2):
            await intake.js.publish(
                "audit.intake.lead.L4.LeadViewed",
                f'{{"n": {n}}}'.encode(),
                stream=Stream.AUDIT.value,
            )
    before = await _last_sequence(provisioned, Stream.AUDIT)
    async with connected(provisioned, "admin") as admin:
        shrunk = copy.deepcopy((await admin.jsm.stream_info(Stream.AUDIT.value)).config)
    shrunk.max_msgs = 1  # would delete all but the newest record, deny_delete or not

    for user in ("intake", "ledger", "oversight"):
        async with connected(provisioned, user, api_timeout=DENIED) as conn:
            with pytest.raises(nats.errors.TimeoutError):
                await conn.jsm.update_stream(shrunk)
            await conn.violation_for("$JS.API.STREAM.UPDATE.AUDIT")

    async with connected(provisioned, "admin") as admin:
        audit = await admin.jsm.stream_info(Stream.AUDIT.value)
    assert audit.state.last_seq == before
    assert audit.state.messages == before
