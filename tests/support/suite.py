"""The three services made for one test: the test's NATS server, a SQLite database each, and
one users file they all read (as in a deployment, where every service is given the same)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from common.natsserver import free_port
from intake.bootstrap import create_app as create_intake
from ledger.bootstrap import create_app as create_ledger
from ledger.settings import LedgerSettings
from oversight.bootstrap import create_app as create_oversight
from oversight.settings import OversightSettings
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import random_key
from tests.support.intake import Keys, intake_settings

SERVICES = ("intake", "ledger", "oversight")


def create_service(name: str, nats_target: NatsTarget, tmp_path: Path, users_file: Path) -> FastAPI:
    database_url = f"sqlite:///{tmp_path / f'{name}.db'}"
    if name == "intake":
        keys = Keys(identity=random_key(), receipt=random_key())
        settings = intake_settings(nats_target, database_url, tmp_path, keys)
        return create_intake(settings.model_copy(update={"users_file": users_file}))
    if name == "ledger":
        return create_ledger(
            LedgerSettings(
                nats_url=nats_target.url, database_url=database_url, users_file=users_file
            )
        )
    return create_oversight(
        OversightSettings(
            nats_url=nats_target.url, database_url=database_url, users_file=users_file
        )
    )


@asynccontextmanager
async def over_http(app: FastAPI) -> AsyncIterator[int]:
    """The app under uvicorn on a free port, as it runs in production (its lifespan
    included); yields the port. For what an in-process transport cannot show: a body sent
    in chunks over a socket, a connection closed early."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
        )
    )
    serving = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or serving.done(), timeout=30)
    if serving.done():
        serving.result()
        raise RuntimeError("uvicorn stopped before it started")
    try:
        yield port
    finally:
        server.should_exit = True
        await serving
