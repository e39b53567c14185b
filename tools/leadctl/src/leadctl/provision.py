"""Create every stream as the NATS administrator before any service starts.

Services may create their own streams only if missing and may never update one (see
deploy/nats/auth.conf), so the configuration is chosen here, once, by the operator:
``python -m leadctl.provision`` with LEADS_NATS_URL, LEADS_NATS_USER (admin),
LEADS_NATS_PASSWORD and LEADS_STREAM_REPLICAS (1 embedded, 3 deployed).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import nats

from common.streams import declare_streams
from common.subjects import Stream


async def provision(
    servers: list[str], user: str, password: str, replicas: int = 1, timeout: float = 60.0
) -> list[Stream]:
    """Wait for JetStream to answer, then declare all streams; returns those whose stored
    configuration differs from this code's (left unchanged, for an operator to review)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            nc = await nats.connect(servers, user=user, password=password, connect_timeout=2)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        js = nc.jetstream()
        while True:
            try:
                await js.account_info()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        return await declare_streams(js, list(Stream), replicas)
    finally:
        await nc.close()


def main() -> None:
    servers = os.environ.get("LEADS_NATS_URL", "nats://127.0.0.1:4333").split(",")
    password = os.environ.get("LEADS_NATS_PASSWORD", "")
    if not password:
        sys.exit("LEADS_NATS_PASSWORD is not set")
    drifted = asyncio.run(
        provision(
            servers,
            os.environ.get("LEADS_NATS_USER", "admin"),
            password,
            int(os.environ.get("LEADS_STREAM_REPLICAS", "1")),
        )
    )
    for stream in drifted:
        sys.stderr.write(f"stream {stream} exists with another configuration; left as it is\n")
    sys.stdout.write(f"provisioned {len(Stream)} streams\n")


if __name__ == "__main__":
    main()
