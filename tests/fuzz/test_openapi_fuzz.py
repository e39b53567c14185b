"""Every operation of every service's published OpenAPI, fuzzed with schemathesis, once
anonymously and once as a user who may call it: no 5xx, no status the document does not
declare, no body that contradicts it. The services run with their lifespan, connected to
NATS, under uvicorn, as in production.

A longer hunt: ``FUZZ_EXAMPLES=500 FUZZ_SEED=$RANDOM pytest tests/fuzz -k openapi``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext

from common.streams import declare_streams
from common.subjects import Stream
from intake.bootstrap import create_app as create_intake
from tests.conftest import NatsTarget
from tests.fuzz.harness import EXAMPLES, PUBLIC, Run, fuzz, reached
from tests.fuzz.seeds import Known, seed_intake, seed_ledger, seed_oversight
from tests.support.apps import random_key, write_staff
from tests.support.intake import Keys, intake_settings
from tests.support.suite import SERVICES, create_service, over_http

pytestmark = pytest.mark.integration

# Cheap enough for hundreds of public requests, and still a real proof.
WORK_BITS = 2


def staff_user(service: str, method: str, path: str) -> str | None:
    """A user of a role that may call the operation (tests.support.apps.STAFF)."""
    if path.startswith("/v1/admin/"):
        return "admin"
    if (method, path) in PUBLIC:
        return "public"  # no account: a solved challenge instead
    if path.startswith("/v1/leads/{lead_id}/identity/"):
        return "custodian"
    return {"intake": "clerk", "ledger": "office", "oversight": "discipline"}[service]


async def _seed_intake(js: JetStreamContext, base_url: str) -> Known:
    return await seed_intake(base_url)


SEEDS = {"intake": _seed_intake, "ledger": seed_ledger, "oversight": seed_oversight}


def anonymous(method: str, path: str) -> str | None:
    return None


def make_service(name: str, nats_target: NatsTarget, tmp_path: Path) -> FastAPI:
    users = write_staff(tmp_path / "users.toml")
    if name != "intake":
        return create_service(name, nats_target, tmp_path, users)
    keys = Keys(identity=random_key(), receipt=random_key())
    settings = intake_settings(nats_target, f"sqlite:///{tmp_path / 'intake.db'}", tmp_path, keys)
    return create_intake(
        settings.model_copy(update={"work_bits_report": WORK_BITS, "work_bits_receipt": WORK_BITS})
    )


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("who", ["anonymous", "authorised"])
@pytest.mark.timeout(max(180, EXAMPLES * 8))  # a longer hunt takes longer
async def test_no_operation_answers_a_5xx_or_contradicts_its_document(
    service: str, who: str, js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    await declare_streams(js, list(Stream))  # as the administrator does
    app = make_service(service, nats_target, tmp_path)
    if who == "anonymous":
        user_for = anonymous
    else:

        def user_for(method: str, path: str) -> str | None:
            return staff_user(service, method, path)

    async with over_http(app) as port:
        base_url = f"http://127.0.0.1:{port}"
        run = Run(service, base_url, user_for, known=await SEEDS[service](js, base_url))
        await asyncio.to_thread(fuzz, run)
    print(reached(run))  # noqa: T201 - what the run reached, beside its verdict
    assert run.cases > 0
    assert not run.failures, "\n\n".join(run.failures)
