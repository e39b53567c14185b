"""The administrator's provisioning, against the deployment's own permission file on a real
nats-server: it makes every stream and every listed durable as listed, and run again keeps
each durable and brings one an earlier release made to the listing."""

from __future__ import annotations

import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType

from common.consumers import DURABLES, Kind
from common.subjects import Stream
from tests.support.nats_users import PermissionedServer, connected

pytestmark = pytest.mark.integration


async def test_provisioning_makes_all_eight_streams_and_every_listed_durable_as_listed(
    provisioned: PermissionedServer,
) -> None:
    async with connected(provisioned, "admin") as admin:
        infos = [await admin.jsm.stream_info(stream.value) for stream in Stream]
        consumers = {
            d.name: (await admin.jsm.consumer_info(d.stream.value, d.name)).config for d in DURABLES
        }

    assert {info.config.name for info in infos} == {s.value for s in Stream}
    assert all(info.config.storage == StorageType.FILE for info in infos)
    for durable in DURABLES:
        stored, listed = consumers[durable.name], durable.config()
        assert (stored.filter_subject, stored.ack_policy, stored.max_deliver) == (
            listed.filter_subject,
            listed.ack_policy,
            listed.max_deliver,
        ), durable.name
        assert stored.ack_wait == listed.ack_wait
        assert stored.deliver_subject is None, "pull consumers only"
        if durable.kind is Kind.PROJECTION:
            assert stored.filter_subject is None, "a projection reads its whole stream"
            assert stored.max_ack_pending == listed.max_ack_pending


async def test_provisioning_again_keeps_each_durable_and_brings_an_old_one_to_the_listing(
    provisioned: PermissionedServer,
) -> None:
    # A durable as an earlier release's runner made it: filtered, started past a position.
    old = "oversight-oversight-DIRECTIVES"
    async with connected(provisioned, "admin") as admin:
        await admin.jsm.delete_consumer(Stream.DIRECTIVES.value, old)
        await admin.jsm.add_consumer(
            Stream.DIRECTIVES.value,
            ConsumerConfig(
                durable_name=old,
                filter_subject="directive.>",
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=5,
                max_ack_pending=2000,
            ),
        )
        kept = await admin.jsm.consumer_info(Stream.INTAKE.value, "ledger-registrar")

        drifted = await provisioned.provision()

        upgraded = await admin.jsm.consumer_info(Stream.DIRECTIVES.value, old)
        again = await admin.jsm.consumer_info(Stream.INTAKE.value, "ledger-registrar")

    assert drifted == []
    assert again.created == kept.created
    assert upgraded.config.filter_subject is None
    assert upgraded.config.max_ack_pending == 40_000
    # Where it starts cannot change, and need not: the runner follows its database.
    assert (upgraded.config.deliver_policy, upgraded.config.opt_start_seq) == (
        DeliverPolicy.BY_START_SEQUENCE,
        5,
    )
