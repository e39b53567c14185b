"""The projection runner against a real JetStream, on SQLite and on PostgreSQL:
exactly-once application through crashes and redelivery, parking, and replay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, PubAck
from nats.js.errors import NotFoundError
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import IntegrityError

from common.database import sync_url
from common.deadletter import HEADER_REASON, HEADER_SEQUENCE, DeadLetters
from common.events import Event, encode
from common.eventstore import EventStore
from common.projection import Tracker
from common.pull import position_of
from common.replay import ReplayFailed, replay
from common.runner import ProjectionRunner, RunnerOptions
from common.streams import declare_streams
from common.subjects import Service, Stream
from tests.conftest import wait_until
from tests.support import projections
from tests.support.factories import new_lead_id, reported, supplemented

pytestmark = pytest.mark.integration

FAST = RunnerOptions(batch_size=50, fetch_timeout=0.2, retry_delay=0.01, ack_wait=2.0)


@pytest.fixture
async def store(js: JetStreamContext) -> EventStore:
    await declare_streams(js, [Stream.INTAKE, Stream.DLQ_INTAKE])
    return EventStore(js, Stream.INTAKE, "intake")


@pytest.fixture
def engine(database_url: str) -> AsyncIterator[Engine]:
    engine = create_engine(sync_url(database_url))
    yield engine
    engine.dispose()


@pytest.fixture(params=[False, True], ids=["inline", "child-process"])
def in_child_process(request: pytest.FixtureRequest) -> bool:
    """Replays run both ways: decoded and applied here, or in a forked child."""
    return bool(request.param)


def make_runner(
    js: JetStreamContext,
    engine: Engine,
    runner_class: type[ProjectionRunner] = ProjectionRunner,
    owner: str = "replica-a",
) -> ProjectionRunner:
    tracker = Tracker(engine, projections.recording_projection(), owner=owner)
    return runner_class(
        js,
        tracker,
        Stream.INTAKE,
        durable="test-recording",
        dead_letters=DeadLetters(js, Service.INTAKE),
        options=FAST,
    )


def applied(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return projections.applied(conn)


async def publish_malformed(js: JetStreamContext) -> PubAck:
    """A LeadReported without a lead_id and with a number for a summary."""
    return await js.publish(
        f"intake.lead.{new_lead_id()}.LeadReported",
        b'{"event_type": "LeadReported", "summary": 42}',
    )


async def append_many(store: EventStore, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        event = reported()
        await store.append(event)
        ids.append(event.event_id)
    return ids


async def test_every_event_is_applied_once_in_order(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    ids = await append_many(store, 120)
    runner = make_runner(js, engine)
    await runner.start()
    try:
        await wait_until(lambda: len(applied(engine)) >= 120)
    finally:
        await runner.stop()

    assert [event_id for event_id, _ in applied(engine)] == ids
    assert runner.tracker.position("INTAKE") == (await js.stream_info("INTAKE")).state.last_seq


class CrashBeforeAck(ProjectionRunner):
    """Dies after the transaction committed and before JetStream heard the ack."""

    async def acknowledge(self, messages: Sequence[Msg]) -> None:
        raise asyncio.CancelledError


async def test_a_consumer_cancelled_between_commit_and_ack_applies_nothing_twice(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    ids = await append_many(store, 30)
    crashing = make_runner(js, engine, CrashBeforeAck)
    await crashing.start()
    await wait_until(lambda: crashing._task is not None and crashing._task.done())
    committed = applied(engine)
    assert committed, "the crashing runner committed its first batch before dying"
    await crashing.stop()

    restarted = make_runner(js, engine)
    await restarted.start()
    try:
        await wait_until(lambda: len(applied(engine)) >= 30)
        # The unacknowledged batch must come back (after ack_wait) and be skipped.
        consumer = await js.consumer_info("INTAKE", "test-recording")
        await wait_until(lambda: restarted.caught_up.is_set())
        await wait_until(lambda: _ack_floor_reached(js, consumer.delivered.stream_seq), timeout=15)
    finally:
        await restarted.stop()

    assert [event_id for event_id, _ in applied(engine)] == ids


async def _ack_floor_reached(js: JetStreamContext, sequence: int) -> bool:
    info = await js.consumer_info("INTAKE", "test-recording")
    return info.ack_floor.stream_seq >= sequence and info.num_ack_pending == 0


async def test_a_redelivered_batch_is_skipped_by_the_stored_position(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    ids = await append_many(store, 10)
    runner = make_runner(js, engine)
    await runner.start()
    try:
        await wait_until(lambda: len(applied(engine)) == 10)
        # JetStream redelivers what it was not told about; simulate it by feeding the same
        # stored messages through the runner again.
        subscription = await js.pull_subscribe("intake.>", durable="second-look", stream="INTAKE")
        again = await subscription.fetch(10, timeout=2)
        await runner.process(again)
    finally:
        await runner.stop()

    assert [event_id for event_id, _ in applied(engine)] == ids


async def test_a_malformed_message_is_parked_with_its_reason_and_later_events_apply(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    before = await append_many(store, 3)
    bad = await publish_malformed(js)
    after = await append_many(store, 3)
    runner = make_runner(js, engine)
    await runner.start()
    try:
        await wait_until(lambda: len(applied(engine)) == 6)
    finally:
        await runner.stop()

    assert [event_id for event_id, _ in applied(engine)] == before + after
    parked = await js.get_msg("DLQ_INTAKE", seq=1)
    assert parked.headers is not None
    assert parked.headers[HEADER_SEQUENCE] == str(bad.seq)
    assert "malformed event" in parked.headers[HEADER_REASON]
    assert "lead_id" in parked.headers[HEADER_REASON]


async def test_an_event_whose_handler_keeps_failing_is_parked_and_the_rest_apply(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    first = await append_many(store, 2)
    poison = reported(summary=projections.FAIL_ON_SUMMARY)
    await store.append(poison)
    last = await append_many(store, 2)
    runner = make_runner(js, engine)
    await runner.start()
    try:
        await wait_until(lambda: len(applied(engine)) == 4)
        await wait_until(lambda: runner.tracker.position("INTAKE") == 5)
    finally:
        await runner.stop()

    assert [event_id for event_id, _ in applied(engine)] == first + last
    parked = await js.get_msg("DLQ_INTAKE", seq=1)
    assert parked.headers is not None
    assert "handler failed 3 times" in parked.headers[HEADER_REASON]
    assert parked.data is not None
    assert poison.event_id.encode() in parked.data


async def test_a_second_replica_waits_while_the_first_holds_the_lease(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    ids = await append_many(store, 40)
    first = make_runner(js, engine, owner="replica-a")
    second = make_runner(js, engine, owner="replica-b")
    await first.start()
    await wait_until(lambda: len(applied(engine)) == 40)
    await second.start()
    try:
        more = await append_many(store, 40)
        await wait_until(lambda: len(applied(engine)) == 80)
    finally:
        await first.stop()
        await second.stop()

    assert [event_id for event_id, _ in applied(engine)] == ids + more


async def test_a_replay_into_a_fresh_database_equals_the_live_projection(
    js: JetStreamContext, store: EventStore, engine: Engine, tmp_path, in_child_process: bool
) -> None:
    for _ in range(25):
        lead = new_lead_id()
        await store.append(reported(lead))
        await store.append(supplemented(lead))
    runner = make_runner(js, engine)
    await runner.start()
    try:
        await wait_until(lambda: len(applied(engine)) == 50)
    finally:
        await runner.stop()

    fresh = create_engine(f"sqlite:///{tmp_path / 'replayed.db'}")
    report = await replay(
        js,
        Tracker(fresh, projections.recording_projection(), "replay"),
        Stream.INTAKE,
        batch_size=7,  # several batches, handed over while earlier ones are applied
        in_child_process=in_child_process,
    )

    assert (report.applied, report.read) == (50, 50)
    with fresh.connect() as conn:
        assert projections.applied(conn) == applied(engine)
    fresh.dispose()


async def test_a_replay_until_a_moment_shows_only_what_was_stored_by_then(
    js: JetStreamContext, store: EventStore, tmp_path, in_child_process: bool
) -> None:
    early = await append_many(store, 5)
    moment = datetime.now(UTC)
    # The server stamps messages with the same clock; make the next ones strictly later.
    await wait_until(lambda: datetime.now(UTC) > moment)
    await append_many(store, 5)

    fresh = create_engine(f"sqlite:///{tmp_path / 'then.db'}")
    report = await replay(
        js,
        Tracker(fresh, projections.recording_projection(), "replay"),
        Stream.INTAKE,
        until=moment,
        in_child_process=in_child_process,
    )

    assert report.applied == 5
    with fresh.connect() as conn:
        assert [event_id for event_id, _ in projections.applied(conn)] == early
    fresh.dispose()


async def test_a_replay_from_a_sequence_applies_only_what_follows(
    js: JetStreamContext, store: EventStore, tmp_path, in_child_process: bool
) -> None:
    ids = await append_many(store, 10)
    fresh = create_engine(f"sqlite:///{tmp_path / 'tail.db'}")

    report = await replay(
        js,
        Tracker(fresh, projections.recording_projection(), "replay"),
        Stream.INTAKE,
        from_sequence=7,
        in_child_process=in_child_process,
    )

    assert report.applied == 4
    with fresh.connect() as conn:
        assert [event_id for event_id, _ in projections.applied(conn)] == ids[6:]
    fresh.dispose()


async def test_a_replay_in_a_child_process_writes_the_database_it_is_given_and_names_the_malformed(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    before = await append_many(store, 20)
    bad = await publish_malformed(js)
    after = await append_many(store, 9)
    tracker = Tracker(engine, projections.recording_projection(), "replay")

    report = await replay(js, tracker, Stream.INTAKE, batch_size=4, in_child_process=True)

    assert (report.read, report.applied, report.last_sequence) == (30, 29, 30)
    [(sequence, reason)] = report.malformed
    assert sequence == bad.seq
    assert "lead_id" in reason
    assert [event_id for event_id, _ in applied(engine)] == before + after
    assert tracker.position("INTAKE") == 30
    # The lease is given back: another writer may take the projection now.
    assert Tracker(engine, projections.recording_projection(), "someone-else").acquire_lease()


async def test_a_handler_failing_in_the_child_process_stops_the_replay_with_its_error(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    ids = await append_many(store, 10)
    await store.append(reported(summary=projections.FAIL_ON_SUMMARY))  # sequence 11
    await append_many(store, 5)
    tracker = Tracker(engine, projections.recording_projection(), "replay")

    with pytest.raises(ReplayFailed, match="handler refuses this event"):
        await replay(js, tracker, Stream.INTAKE, batch_size=4, in_child_process=True)

    # Batches of four: the first two committed, the third (9-12) rolled back whole, and
    # nothing handed over after it applied.
    assert [event_id for event_id, _ in applied(engine)] == ids[:8]
    assert tracker.position("INTAKE") == 8
    assert Tracker(engine, projections.recording_projection(), "someone-else").acquire_lease()


async def test_a_restart_with_a_batch_still_in_hand_loses_nothing(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    ids = await append_many(store, 400)
    first = make_runner(js, engine)
    await first.start()
    # Stopped as soon as something was applied: the puller still holds what it fetched
    # beyond the first batch, delivered but never applied or acknowledged.
    await wait_until(lambda: first.tracker.position("INTAKE") >= 50)
    await first.stop()

    second = make_runner(js, engine)
    await second.start()
    try:
        await wait_until(lambda: second.tracker.position("INTAKE") == 400)
    finally:
        await second.stop()

    assert [event_id for event_id, _ in applied(engine)] == ids


async def test_a_consumer_that_delivered_past_the_position_is_caught_up_by_reading_not_remade(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    ids = await append_many(store, 30)
    runner = make_runner(js, engine)
    # A replica that pulled ten and died before applying any: the consumer delivered past
    # the stored position (0), and those ten come back only after the ack wait.
    await js.add_consumer("INTAKE", runner.consumer_config())
    held = await js.pull_subscribe_bind("test-recording", stream="INTAKE")
    in_hand = await held.fetch(10, timeout=2)
    await held.unsubscribe()
    before = await js.consumer_info("INTAKE", "test-recording")

    await runner.start()
    try:
        await wait_until(lambda: len(applied(engine)) >= 30)
        # The ten held ones are redelivered after the ack wait, skipped and acknowledged.
        await wait_until(lambda: _ack_floor_reached(js, 30), timeout=15)
        after = await js.consumer_info("INTAKE", "test-recording")
    finally:
        await runner.stop()

    assert [position_of(m).stream_sequence for m in in_hand] == list(range(1, 11))
    assert before.delivered.stream_seq == 10
    assert [event_id for event_id, _ in applied(engine)] == ids
    assert after.created == before.created, "the same consumer, never deleted and made anew"


async def test_a_foreign_message_the_broker_stored_in_the_stream_is_parked_and_the_rest_apply(
    js: JetStreamContext, store: EventStore, engine: Engine
) -> None:
    await declare_streams(js, [Stream.LEDGER])
    await js.add_consumer("LEDGER", ConsumerConfig(durable_name="copier"))
    first = await append_many(store, 3)
    runner = make_runner(js, engine)
    await runner.start()
    try:
        await wait_until(lambda: runner.tracker.position("INTAKE") == 3)
        # A valid LeadReported on a ledger subject, pulled with an intake subject as the
        # reply subject: the broker delivers it there, and the INTAKE stream stores it (at
        # 4) under its own, foreign, subject. A consumer filtered on intake.> never delivers
        # it, so a runner that refuses gaps would stop at 3 for good.
        forged = reported()
        await js.publish(f"ledger.lead.{forged.lead_id}.LeadReported", encode(forged))
        await js._nc.publish(
            "$JS.API.CONSUMER.MSG.NEXT.LEDGER.copier",
            b'{"batch": 1}',
            reply=f"intake.lead.{forged.lead_id}.LeadReported",
        )
        await wait_until(lambda: _last_subject(js, "INTAKE", "ledger.>"))
        last = await append_many(store, 3)
        await wait_until(lambda: runner.tracker.position("INTAKE") == 7)
    finally:
        await runner.stop()

    assert [event_id for event_id, _ in applied(engine)] == first + last
    parked = await js.get_msg("DLQ_INTAKE", seq=1)
    assert parked.headers is not None
    assert parked.headers[HEADER_SEQUENCE] == "4"
    assert parked.headers[HEADER_REASON].startswith("foreign message: subject ledger.lead.")


async def _last_subject(js: JetStreamContext, stream: str, wanted: str) -> bool:
    try:
        await js.get_last_msg(stream, wanted, direct=True)
    except NotFoundError:
        return False
    return True


async def test_a_parked_event_retried_twice_at_once_is_applied_once(engine: Engine) -> None:
    tracker = Tracker(engine, projections.recording_projection(), owner="replica-a")
    tracker.create_tables(["INTAKE"])
    tracker.acquire_lease()
    event = reported()

    outcomes = await asyncio.gather(*(asyncio.to_thread(_retry, tracker, event) for _ in range(4)))

    assert outcomes.count(True) == 1
    assert [event_id for event_id, _ in applied(engine)] == [event.event_id]


def _retry(tracker: Tracker, event: Event) -> bool:
    try:
        return tracker.apply_parked(event, "DLQ_INTAKE", 7)
    except IntegrityError:
        return False  # the concurrent retry that lost at the unique key
