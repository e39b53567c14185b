"""A read model rebuilt from the log is searchable: ``leadctl replay ledger`` fills the tables
through the projection's handlers only, and makes no search index; the service makes it when
it first starts on the rebuilt database, from what the tables hold, and keeps it in step
from then on."""

from __future__ import annotations

from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import inspect

from common.database import sync_engine
from common.projection import Tracker
from common.replay import replay
from ledger.projection import SUBSCRIPTIONS
from ledger.projection.search import FTS
from tests.conftest import NatsTarget, wait_until
from tests.support.ledger import (
    added_by_reporter,
    filed,
    found_by_search,
    ledger_settings,
    report,
    serving_ledger,
)

pytestmark = pytest.mark.integration

DETAILS = "他在砖瓦厂后院私设赌场，每晚都有人来赌钱。"
BEFORE = "补充：赌场的看门人姓刘，左手有纹身。"
AFTER = "补充：赌客多从邻镇开摩托车过来。"


async def test_a_ledger_rebuilt_from_the_log_finds_what_was_written_before_and_after(
    streams: JetStreamContext, nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> None:
    live = ledger_settings(nats_target, f"sqlite:///{tmp_path / 'live.db'}", tmp_path)
    async with serving_ledger(streams, live) as running:
        gambling = await report(streams, summary="村里有人开设赌场", details=DETAILS)
        other = await report(streams, summary="村霸强占集体土地")
        await filed(running.http, gambling)
        await filed(running.http, other)
        await added_by_reporter(streams, gambling, BEFORE)

        async def live_finds() -> bool:
            return await found_by_search(running.http, "左手有纹身") == {gambling}

        await wait_until(live_finds)

    # Rebuilt into an empty database, as `leadctl replay ledger --db` does.
    engine = sync_engine(database_url)
    try:
        tracker = Tracker(engine, SUBSCRIPTIONS[0].projection, owner="leadctl-replay")
        for subscription in SUBSCRIPTIONS:
            await replay(streams, tracker, subscription.stream)
        assert FTS not in inspect(engine).get_table_names()
    finally:
        engine.dispose()

    rebuilt = ledger_settings(nats_target, database_url, tmp_path)
    async with serving_ledger(streams, rebuilt) as running:
        http = running.http
        assert await found_by_search(http, "私设赌场") == {gambling}
        assert await found_by_search(http, "左手有纹身") == {gambling}
        assert await found_by_search(http, "强占集体") == {other}

        await added_by_reporter(streams, gambling, AFTER)

        async def finds_the_new_addition() -> bool:
            return await found_by_search(http, "摩托车") == {gambling}

        await wait_until(finds_the_new_addition)
        assert await found_by_search(http, "左手有纹身") == {gambling}
