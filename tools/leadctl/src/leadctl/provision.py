"""Create every stream and every durable consumer as the NATS administrator, before any
service starts.

Services may create a missing stream only if they may also read it, may never update one,
and may not create, change or delete consumers at all (see deploy/nats/auth.conf and
common.consumers), so the configuration is chosen here, once, by the operator:
``python -m leadctl.provision`` with LEADS_NATS_URL, LEADS_NATS_USER (admin),
LEADS_NATS_PASSWORD and LEADS_STREAM_REPLICAS (1 embedded, 3 deployed). Run it again after
an upgrade: it creates what is new and brings existing consumers to the listed configuration.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import nats

from common.consumers import DURABLES, provision_durables
from common.streams import declare_streams
from common.subjects import Stream


async def provision(
    servers: list[str], user: str, password: str, replicas: int = 1, timeout: float = 60.0
) -> list[str]:
    """Wait for JetStream to answer, then declare all streams and durable consumers; returns
    those whose stored configuration differs from this code's and could not be changed (left
    as they are, for an operator to review)."""
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
        drifted = [f"stream {s}" for s in await declare_streams(js, list(Stream), replicas)]
        drifted += [f"consumer {c}" for c in await provision_durables(js, DURABLES)]
        return drifted
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
    for name in drifted:
        sys.stderr.write(f"{name} exists with another configuration; left as it is\n")
    sys.stdout.write(f"provisioned {len(Stream)} streams and {len(DURABLES)} durable consumers\n")


if __name__ == "__main__":
    main()
