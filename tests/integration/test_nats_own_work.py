"""Every NATS user can do its own work under the deployment's own permission file, once the
administrator has provisioned streams and durables: intake publishes reports, the ledger
pulls them through its durable and reads its own stream, both write audit records without
a look at the audit stream, oversight reads the audit trail and issues directives the ledger
consumes, and leadctl reads every stream and writes only its audit records. None of it
trips a permission."""

from __future__ import annotations

import contextlib
import secrets

import nats.errors
import pytest
from nats.js.errors import NotFoundError

from common.consumers import DURABLES
from common.subjects import Stream
from tests.support.nats_users import ALLOWED, DENIED, PermissionedServer, connected

pytestmark = pytest.mark.integration


async def test_intake_publishes_a_lead_report_and_gets_a_pub_ack(
    provisioned: PermissionedServer,
) -> None:
    async with connected(provisioned, "intake") as intake:
        ack = await intake.js.publish(
            "intake.lead.L1.LeadReported", b'{"report": "first"}', stream=Stream.INTAKE.value
        )
    assert ack.stream == Stream.INTAKE.value
    assert ack.seq >= 1
    assert intake.errors == []


async def test_ledger_pulls_a_lead_report_through_its_provisioned_durable_and_acks_it(
    provisioned: PermissionedServer,
) -> None:
    body = b'{"report": "' + secrets.token_hex(8).encode() + b'"}'
    async with connected(provisioned, "intake") as intake:
        await intake.js.publish("intake.lead.L1.LeadReported", body, stream=Stream.INTAKE.value)

    async with connected(provisioned, "ledger") as ledger:
        # As FastStream does: nats-py looks the durable up and binds, creating nothing.
        sub = await ledger.js.pull_subscribe(
            "intake.lead.*.LeadReported", durable="ledger-registrar", stream=Stream.INTAKE.value
        )
        fetched = await sub.fetch(batch=100, timeout=ALLOWED)
        for msg in fetched:
            await msg.ack_sync(timeout=ALLOWED)
        info = await ledger.jsm.consumer_info(Stream.INTAKE.value, "ledger-registrar")

    assert body in [msg.data for msg in fetched]
    assert info.num_ack_pending == 0
    assert ledger.errors == []


async def test_ledger_reads_its_own_stream_directly_after_publishing(
    provisioned: PermissionedServer,
) -> None:
    subject = "ledger.lead.L1.LeadRegistered"
    async with connected(provisioned, "ledger") as ledger:
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


async def test_intake_and_ledger_write_their_audit_records_without_any_look_at_the_audit_stream(
    provisioned: PermissionedServer,
) -> None:
    for user in ("intake", "ledger"):
        async with connected(provisioned, user) as conn:
            ack = await conn.js.publish(
                f"audit.{user}.lead.L1.LeadViewed", b"{}", stream=Stream.AUDIT.value
            )
        assert ack.stream == Stream.AUDIT.value
        assert conn.errors == []


async def test_oversight_reads_audit_and_issues_a_directive_that_ledger_consumes(
    provisioned: PermissionedServer,
) -> None:
    marker = secrets.token_hex(8).encode()
    async with connected(provisioned, "ledger") as ledger:
        await ledger.js.publish(
            "audit.ledger.lead.L1.LeadViewed",
            b'{"viewer": "' + marker + b'"}',
            stream=Stream.AUDIT.value,
        )

    async with connected(provisioned, "oversight") as oversight:
        viewed = await oversight.jsm.get_last_msg(
            Stream.AUDIT.value, "audit.ledger.lead.L1.LeadViewed", direct=True
        )
        # Only through its own durable consumer: no user but the admin makes consumers.
        audit = await oversight.js.pull_subscribe(
            "audit.>", durable="oversight-oversight-AUDIT", stream=Stream.AUDIT.value
        )
        audited = await audit.fetch(batch=100, timeout=ALLOWED)
        for msg in audited:
            await msg.ack()
        await oversight.js.publish(
            "directive.lead.L1.DisciplineOutcome",
            b'{"directive": "' + marker + b'"}',
            stream=Stream.DIRECTIVES.value,
        )

    async with connected(provisioned, "ledger") as ledger:
        directives = await ledger.js.pull_subscribe(
            "directive.lead.*.DisciplineOutcome",
            durable="ledger-outcomes",
            stream=Stream.DIRECTIVES.value,
        )
        received = await directives.fetch(batch=100, timeout=ALLOWED)
        for msg in received:
            await msg.ack_sync(timeout=ALLOWED)

    assert viewed.data is not None
    assert marker in viewed.data
    assert any(marker in msg.data for msg in audited)
    assert [m.subject for m in received if marker in m.data] == [
        "directive.lead.L1.DisciplineOutcome"
    ]
    assert oversight.errors == []
    assert ledger.errors == []


async def test_leadctl_reads_every_stream_and_writes_only_its_audit_records(
    provisioned: PermissionedServer,
) -> None:
    async with connected(provisioned, "intake") as intake:
        ack = await intake.js.publish(
            "intake.lead.L3.LeadReported", b'{"report": "L3"}', stream=Stream.INTAKE.value
        )

    async with connected(provisioned, "leadctl", api_timeout=DENIED) as leadctl:
        # What `leadctl status` shows: each stream, its consumers and their lag.
        names = {(await leadctl.jsm.stream_info(s.value)).config.name for s in Stream}
        lagging = [c.name for s in Stream for c in await leadctl.js.consumers_info(s.value)]
        for stream in Stream:
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
    assert set(lagging) == {d.name for d in DURABLES}
    assert (first.seq, first.data) == (ack.seq, b'{"report": "L3"}')
    assert len(leadctl.violations()) == 2
