"""Errors that say what happened: with the event log gone, a write is a 503 with
Retry-After that says nothing was stored; with the log silent after the write was sent, a
503 that says it may have been stored, and the retry with the same Idempotency-Key gives
the one lead that was stored, never a second."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import nats
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine

from common.natsserver import NatsServer
from common.streams import declare_streams
from common.subjects import Stream
from common.work import HEADER, solve
from intake.bootstrap import create_app
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import token
from tests.support.intake import LEAD_REPORTED, Keys, intake_settings, lead, running, unique
from tests.support.streams import count_on

pytestmark = pytest.mark.integration


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A server of this test's own, to stop and pause."""
    with NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log") as server:
        yield server


@pytest.fixture
async def intake_on_own_nats(
    own_nats: NatsServer, tmp_path: Path, keys: Keys
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    nc = await nats.connect(own_nats.url)
    await declare_streams(nc.jetstream(), list(Stream))
    await nc.close()
    target = NatsTarget(own_nats.url, "own")
    app = create_app(intake_settings(target, f"sqlite:///{tmp_path / 'intake.db'}", tmp_path, keys))
    async with running(app) as client:
        yield client, app


def unavailable(answer: httpx.Response) -> tuple[str, str]:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) > 0
    [problem] = answer.json()["detail"]
    return problem["message"], problem["message_en"]


async def stored_reports(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return await count_on(nc.jetstream(), Stream.INTAKE, LEAD_REPORTED)
    finally:
        await nc.close()


async def test_with_the_event_log_down_a_report_is_a_503_saying_nothing_was_stored(
    own_nats: NatsServer, intake_on_own_nats: tuple[httpx.AsyncClient, FastAPI]
) -> None:
    intake, app = intake_on_own_nats
    first = await intake.post("/v1/reports", json=lead(unique("先前的举报")))
    assert first.status_code == 201, first.text
    challenge = (await intake.get("/v1/work/report")).json()

    own_nats.stop()
    connection = app.state.runtime.broker.connection
    await wait_until(lambda: not connection.is_connected)

    answer = await intake.post(
        "/v1/reports",
        json=lead(unique("消息服务停机时的举报")),
        headers={
            "Idempotency-Key": uuid.uuid4().hex,
            HEADER: solve(challenge["challenge"], challenge["bits"]),
        },
    )
    zh, en = unavailable(answer)
    assert "未作任何保存" in zh
    assert "nothing was stored" in en


async def test_a_write_sent_but_never_answered_may_have_been_stored_and_its_retry_gives_that_lead(
    own_nats: NatsServer, intake_on_own_nats: tuple[httpx.AsyncClient, FastAPI]
) -> None:
    intake, _ = intake_on_own_nats
    assert (await intake.post("/v1/reports", json=lead(unique("先前的举报")))).status_code == 201
    body, key = lead(unique("消息服务无应答时的举报")), uuid.uuid4().hex
    assert own_nats._process is not None
    pid = own_nats._process.pid

    os.kill(pid, signal.SIGSTOP)  # the server takes the message and says nothing
    try:
        answer = await intake.post("/v1/reports", json=body, headers={"Idempotency-Key": key})
    finally:
        os.kill(pid, signal.SIGCONT)
    zh, en = unavailable(answer)
    assert "可能已经保存" in zh
    assert "may have been stored" in en
    assert "same Idempotency-Key" in en

    retried = await intake.post("/v1/reports", json=body, headers={"Idempotency-Key": key})
    assert retried.status_code == 201, retried.text
    again = await intake.post("/v1/reports", json=body, headers={"Idempotency-Key": key})
    assert again.json() == retried.json()
    assert await stored_reports(own_nats.url) == 2


async def test_a_database_write_locked_past_its_busy_timeout_is_a_503_to_retry_with_the_key(
    intake: httpx.AsyncClient, sqlite_url: str, streams: object
) -> None:
    holder = create_engine(sqlite_url, isolation_level=None)
    with holder.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # a long write elsewhere (a backup, say)
        try:
            answer = await intake.post(
                "/v1/leads",
                json={
                    "category": "village_tyrant",
                    "summary": "村霸强占集体土地，数据库被锁时录入",
                    "village": "shd-v01",
                    "channel": "hotline",
                },
                headers={"Idempotency-Key": uuid.uuid4().hex, **token("clerk")},
            )
        finally:
            conn.exec_driver_sql("ROLLBACK")
    holder.dispose()
    zh, en = unavailable(answer)
    assert "Idempotency-Key" in zh
    assert "same Idempotency-Key" in en
