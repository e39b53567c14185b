"""`leadctl status`, the operator's view: each stream's messages, each consumer's lag and
the parked events."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.js import JetStreamContext

from common.eventstore import EventStore
from common.streams import declare_streams
from common.subjects import Stream
from tests.conftest import NatsTarget
from tests.support.apps import serving, write_staff
from tests.support.factories import reported
from tests.support.leadctl import (
    RECORDING_CONSUMER,
    Trouble,
    leadctl,
    make_trouble,
    on,
    printed,
    recording_service,
    succeeded,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def backlog(js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path) -> Trouble:
    """Two events parked by the recording service; then, with it stopped, two more
    appended that its consumer has not read."""
    await declare_streams(js, list(Stream))
    db = tmp_path / "recording.db"
    service = recording_service(nats_target, db, write_staff(tmp_path / "users.toml"))
    async with serving(service):
        trouble = await make_trouble(js, db)
    intake = EventStore(js, Stream.INTAKE, "intake")
    await intake.append(reported())
    await intake.append(reported())
    return trouble


def test_status_reports_each_streams_messages_each_consumers_lag_and_the_parked_events(
    backlog: Trouble, nats_target: NatsTarget
) -> None:
    result = succeeded(leadctl(*on(nats_target), "status", "--json"))

    found = printed(result)
    streams = {s["stream"]: s for s in found["streams"]}
    assert set(streams) == {s.value for s in Stream}
    assert all(s["exists"] for s in streams.values())
    intake = streams["INTAKE"]
    assert (intake["messages"], intake["first_sequence"], intake["last_sequence"]) == (6, 1, 6)
    assert [(c["name"], c["lag"]) for c in intake["consumers"]] == [(RECORDING_CONSUMER, 2)]
    assert streams["DLQ_INTAKE"]["messages"] == 2
    assert streams["LEDGER"]["messages"] == 0
    assert found["parked"] == {"intake": 2, "ledger": 0, "oversight": 0}
