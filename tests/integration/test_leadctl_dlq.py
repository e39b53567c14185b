"""Parked events (the dead-letter queue): `leadctl dlq` lists and shows them, each with its
reason, origin and consumer; once its cause is fixed an administrator (and no one else)
retries one, which is applied once and leaves the list; an unreadable one stays.

The service keeps running while leadctl works: it is served on a real HTTP port, and each
command runs in a worker thread."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from nats.js import JetStreamContext
from sqlalchemy import create_engine

from common.streams import declare_streams
from common.subjects import Stream
from tests.conftest import NatsTarget, wait_until
from tests.support import projections
from tests.support.apps import token, write_staff
from tests.support.leadctl import (
    RECORDING_CONSUMER,
    leadctl_beside,
    make_trouble,
    on,
    printed,
    recording_service,
    succeeded,
)

pytestmark = pytest.mark.integration


@asynccontextmanager
async def over_http(app: FastAPI) -> AsyncIterator[str]:
    """The app served by uvicorn on a free local port; yields its base URL."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    serving_task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        await wait_until(lambda: server.started or serving_task.done())
        assert server.started, "the service did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving_task
        listening.close()


def recorded(db: Path) -> list[str]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return [event_id for event_id, _ in projections.applied(conn)]
    finally:
        engine.dispose()


def parked_by_origin(listed: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {p["origin_sequence"]: p for p in listed}


async def test_parked_events_are_listed_shown_and_retried_once_their_cause_is_fixed(
    js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await declare_streams(js, list(Stream))
    db = tmp_path / "recording.db"
    service = recording_service(nats_target, db, write_staff(tmp_path / "users.toml"))
    nats_args = on(nats_target)

    async with over_http(service) as url, httpx.AsyncClient(base_url=url) as http:
        trouble = await make_trouble(js, db)
        listed = printed(await leadctl_beside(*nats_args, "dlq", "list", "intake", "--json"))
        by_origin = parked_by_origin(listed)
        poison, malformed = (
            by_origin[trouble.poison_sequence],
            by_origin[trouble.malformed_sequence],
        )
        shown_poison = json.loads(
            succeeded(
                await leadctl_beside(*nats_args, "dlq", "show", "intake", poison["sequence"])
            ).stdout
        )
        shown_malformed = json.loads(
            succeeded(
                await leadctl_beside(*nats_args, "dlq", "show", "intake", malformed["sequence"])
            ).stdout
        )

        monkeypatch.setattr(projections, "FAIL_ON_SUMMARY", "the handler refuses nothing now")
        by_office = await http.post(
            f"/v1/admin/dead-letters/{poison['sequence']}/retry", headers=token("office")
        )
        retried = await leadctl_beside(
            "dlq", "retry", "intake", poison["sequence"], "--token", "token-admin", "--url", url
        )
        again = await http.post(
            f"/v1/admin/dead-letters/{poison['sequence']}/retry", headers=token("admin")
        )
        unreadable = await http.post(
            f"/v1/admin/dead-letters/{malformed['sequence']}/retry", headers=token("admin")
        )
        after = printed(await leadctl_beside(*nats_args, "dlq", "list", "intake", "--json"))
        everything = printed(
            await leadctl_beside(*nats_args, "dlq", "list", "intake", "--all", "--json")
        )
        status = printed(await leadctl_beside(*nats_args, "status", "--json"))

    # Both parked, each with its reason, where it came from and which consumer stopped.
    assert len(listed) == 2
    assert poison["reason"].startswith("handler failed 3 times")
    assert "handler refuses this event" in poison["reason"]
    assert malformed["reason"].startswith("malformed event")
    assert {p["consumer"] for p in listed} == {RECORDING_CONSUMER}
    assert {p["origin_stream"] for p in listed} == {"INTAKE"}
    assert not any(p["resolved"] for p in listed)
    assert shown_poison["reason"] == poison["reason"]
    assert shown_poison["event"]["event_id"] == trouble.poison.event_id
    assert shown_poison["event"]["summary"] == trouble.poison.summary
    assert shown_malformed["reason"] == malformed["reason"]
    assert shown_malformed["event"].startswith("(cannot be read")

    # Only an administrator retries; the retried event is applied, and only once.
    assert by_office.status_code == 403, by_office.text
    assert retried.exit_code == 0, retried.output
    assert printed(retried)["event_id"] == trouble.poison.event_id
    assert recorded(db) == [trouble.good.event_id, trouble.later.event_id, trouble.poison.event_id]
    assert again.status_code == 422, again.text
    assert "retried already" in again.json()["detail"][0]["message_en"]
    assert unreadable.status_code == 422, unreadable.text
    assert "still cannot be read" in unreadable.json()["detail"][0]["message_en"]

    # The retried one leaves the list (but not the record); the unreadable one stays.
    assert [p["origin_sequence"] for p in after] == [trouble.malformed_sequence]
    assert {p["origin_sequence"]: p["resolved"] for p in everything} == {
        trouble.poison_sequence: True,
        trouble.malformed_sequence: False,
    }
    assert status["parked"] == {"intake": 1, "ledger": 0, "oversight": 0}
