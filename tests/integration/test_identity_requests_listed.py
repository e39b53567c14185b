"""The custodians' desk of identity requests lists what needs them whatever its age: the page
looks at a bounded number of leads with settled requests, newest first, but a request still
waiting for a custodian, or approved and still to be read, is always among those shown."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext

from common.auth import Principal
from common.events import Role
from intake.bootstrap import create_app
from intake.pages import identity_desk
from tests.conftest import NatsTarget
from tests.support.apps import token
from tests.support.identity_requests import ask, handed_to
from tests.support.intake import Keys, intake_settings, lead, running, unique, wait_until_projected

pytestmark = pytest.mark.integration

CUSTODIAN = Principal("custodian", "保管员", Role.CUSTODIAN, "shd-discipline")
POLICE = Principal("police", "民警", Role.POLICE, "shd-police")


@pytest.fixture
async def served(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(intake_settings(nats_target, sqlite_url, tmp_path, keys))
    async with running(app) as client:
        yield app, client


async def asked_on_a_new_lead(
    http: httpx.AsyncClient, streams: JetStreamContext, sqlite_url: str
) -> tuple[str, str]:
    """A lead handed to the police station, and the officer's request for its reporter."""
    reported = await http.post(
        "/v1/reports",
        json=lead(unique("村霸威胁证人"), identity={"name": "王某某", "phone": "13800000000"}),
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert reported.status_code == 201, reported.text
    lead_id = reported.json()["lead_id"]
    await wait_until_projected(sqlite_url, lead_id)
    await handed_to(streams, sqlite_url, lead_id, "shd-police")
    asked = await ask(http, lead_id, "police")
    assert asked.status_code == 201, asked.text
    return lead_id, asked.json()["request_id"]


async def test_waiting_requests_are_listed_beyond_the_bound_on_settled_ones(
    served: tuple[FastAPI, httpx.AsyncClient],
    streams: JetStreamContext,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, http = served
    _, waiting = await asked_on_a_new_lead(http, streams, sqlite_url)
    older, approved = await asked_on_a_new_lead(http, streams, sqlite_url)
    newer, refused = await asked_on_a_new_lead(http, streams, sqlite_url)
    newest, settled = await asked_on_a_new_lead(http, streams, sqlite_url)
    requests = "/v1/leads/{}/identity/requests/{}/{}"
    done = await http.post(
        requests.format(older, approved, "approve"), json={}, headers=token("custodian")
    )
    assert done.status_code == 200, done.text
    for lead_id, request_id in ((newer, refused), (newest, settled)):
        done = await http.post(
            requests.format(lead_id, request_id, "refuse"),
            json={"reason": "理由不足"},
            headers=token("custodian"),
        )
        assert done.status_code == 200, done.text

    monkeypatch.setattr(identity_desk, "MOST_LEADS", 3)
    intake = app.state.intake
    for principal in (CUSTODIAN, POLICE):
        shown = [s.request.request_id for s in await identity_desk._requests(intake, principal)]
        # The two still to act on, however old, and the newest settled one up to the bound.
        assert shown == [settled, approved, waiting], principal.user

    # Once read, the approved one is settled too, and the bound leaves out the oldest
    # settled lead.
    read = await http.post(requests.format(older, approved, "read"), headers=token("police"))
    assert read.status_code == 200, read.text
    shown = [s.request.request_id for s in await identity_desk._requests(intake, CUSTODIAN)]
    assert shown == [settled, refused, waiting]
