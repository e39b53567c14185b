"""The limit intake's ``POST /v1/leads`` is measured against: a bare FastAPI route that
validates the same body with the same pydantic schema (``intake.schemas.StaffLead``) and
answers 201 once JetStream has acknowledged a publish of it to the same nats-server, with
the same storage (a stream made like INTAKE, file-backed, ``sync_interval: always``) and a
``Nats-Msg-Id``. No authentication, database, signature, logging or audit: what is left is
HTTP, validation and the durable publish, served by uvicorn with the settings
``common.service.serve`` uses.

Run as its own process by bench.bench_intake:
``python -m bench.intake_limit PORT NATS_URL`` with the admin password in
``BENCH_NATS_PASSWORD``."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Final

import nats
import uvicorn
from fastapi import FastAPI, status

from intake.schemas import StaffLead

STREAM: Final = "BENCH_LIMIT"
SUBJECT: Final = "bench.limit.lead"


def create_app(nats_url: str, password: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = await nats.connect(nats_url, user="admin", password=password)
        js = client.jetstream()
        intake = await js.stream_info("INTAKE")
        # The same storage, retention and duplicate window as intake's own stream.
        config = replace(intake.config, name=STREAM, subjects=["bench.limit.>"])
        await js.add_stream(config)
        app.state.js = js
        yield
        await client.drain()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/leads", status_code=status.HTTP_201_CREATED)
    async def enter_lead(body: StaffLead) -> dict[str, str | int]:
        lead_id = uuid.uuid4().hex
        ack = await app.state.js.publish(
            SUBJECT,
            body.model_dump_json().encode(),
            timeout=5.0,
            stream=STREAM,
            headers={"Nats-Msg-Id": lead_id},
        )
        return {"lead_id": lead_id, "sequence": ack.seq}

    return app


def main() -> None:
    port, nats_url = int(sys.argv[1]), sys.argv[2]
    app = create_app(nats_url, os.environ["BENCH_NATS_PASSWORD"])
    # As common.service.serve runs a service.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
