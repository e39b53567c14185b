"""The ledger served by several HTTP worker processes on one port (LEDGER_HTTP_WORKERS):
each worker is a whole replica (its own NATS connection, audit group commit and projection
runners under the lease), every read of a lead is on AUDIT before it is answered whichever
worker answers it, and killing the parent outright ends its workers too, so no worker goes
on serving the port alone."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext

from common.events.catalogue import LeadsViewed, LeadViewed
from common.subjects import Stream
from tests.conftest import NatsTarget, wait_until
from tests.integration.test_failover import Replica, leads_listed, ledger_replicas, readiness
from tests.support.apps import token
from tests.support.ledger import report
from tests.support.streams import stored_on

pytestmark = pytest.mark.integration

WORKERS = 2
READS = 40


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _parent(int(entry.name)) == pid:
            found.add(int(entry.name))
    return found


def _parent(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[1])


def running(pid: int) -> bool:
    """Alive and not a zombie left for its new parent to reap."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def workers_started(replica: Replica) -> set[str]:
    """The replica ids the log says started serving."""
    started = set()
    for line in replica.log.read_text().splitlines():
        if '"service_started"' in line:
            started.add(json.loads(line)["replica"])
    return started


async def views_of(js: JetStreamContext, lead_id: str) -> int:
    count = 0
    for stored in await stored_on(js, Stream.AUDIT, "audit.ledger.>"):
        event = stored.event
        if isinstance(event, LeadViewed) and event.lead_id == lead_id:
            count += 1
        elif isinstance(event, LeadsViewed):
            count += sum(1 for view in event.views if view.lead_id == lead_id)
    return count


@pytest.mark.timeout(180)
async def test_reads_answered_by_several_workers_are_each_recorded_first(
    streams: JetStreamContext, nats_target: NatsTarget, database_url: str, tmp_path: Path
) -> None:
    js = streams
    with ledger_replicas(nats_target, database_url, tmp_path) as replicas:
        replicas.env["LEDGER_HTTP_WORKERS"] = str(WORKERS)
        served = replicas.start()

        async def ready() -> bool:
            async with httpx.AsyncClient(timeout=2.0) as http:
                return await readiness(http, served) is not None

        await wait_until(ready, timeout=60, interval=0.2)
        await wait_until(lambda: len(workers_started(served)) == WORKERS, 30, 0.1)
        lead_id = await report(js)

        async def listed() -> bool:
            async with httpx.AsyncClient(timeout=2.0) as http:
                return lead_id in await leads_listed(http, served)

        await wait_until(listed, timeout=30, interval=0.1)

        async def read() -> None:
            # A connection of its own each: the kernel hands each to one worker or another.
            async with httpx.AsyncClient(timeout=10.0) as http:
                answer = await http.get(
                    f"{served.url}/v1/ledger/leads/{lead_id}",
                    params={"purpose": "核查"},
                    headers={**token("office"), "Connection": "close"},
                )
                assert answer.status_code == 200, answer.text

        await asyncio.gather(*(read() for _ in range(READS)))
        # Every answer came after its record was acknowledged: all are on AUDIT already.
        assert await views_of(js, lead_id) == READS

        workers = children(served.process.pid)
        assert sum(1 for pid in workers if running(pid)) >= WORKERS
        # The parent killed outright, with no chance to stop its workers: they end too.
        os.kill(served.process.pid, signal.SIGKILL)
        served.process.wait()
        await wait_until(lambda: not any(running(pid) for pid in workers), 30, 0.1)
