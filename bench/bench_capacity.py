"""What one lead costs the streams, which never shrink: the three services run in-process on a
fresh nats-server from the wheel, and each lead lives a realistic life through their APIs: a
public report with the reporter's identity (intake), registration (the ledger's registrar),
transfer, acceptance, assignment, two verification notes, the conclusion, the answer to the
reporter and the archive, plus ``BENCH_CAPACITY_READS`` reads of the lead in full by staff
(each recorded on AUDIT). Oversight runs beside them and reacts as it would.

``BENCH_CAPACITY_LEADS`` leads (40 unless told). Prints one line per stream that grew (bytes
per lead as the stream counts them, which is what ``max_bytes`` limits), one for the audit
bytes per read, one for the whole, and one for the disk the store took per lead."""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import nats
from fastapi import FastAPI

from common.auth import UserRecord, hash_token, write_users_file
from common.events import Role
from common.logging import configure_logging
from common.natsserver import NatsServer
from common.streams import declare_streams
from common.subjects import Stream
from common.workauth import WorkAuth

LEADS = int(os.environ.get("BENCH_CAPACITY_LEADS", "40"))
READS = int(os.environ.get("BENCH_CAPACITY_READS", "5"))

STAFF = {
    "office": (Role.OFFICE, "shd-office"),
    "police": (Role.POLICE, "shd-police"),
    "wang.police": (Role.POLICE, "shd-police"),
}
# A report as people write them: a few sentences, a name and a telephone number.
REPORT = {
    "category": "village_tyrant",
    "summary": "前营村有人长期霸占村集体鱼塘，威胁承包户不许续租，多次带人上门滋事",
    "details": (
        "去年秋天起，此人带着三四个人多次到承包户家中，要求交出鱼塘，不从就砸东西。"
        "村里有人报过警，没有下文。承包合同还有两年到期，村委会不敢出面。"
    ),
    "village": "shd-v02",
    "identity": {"name": "张某某", "phone": "13800000000"},
}
LIFE = (
    ("transfer", "office", {"to_unit": "shd-police", "reason": "涉嫌寻衅滋事，移交派出所"}),
    ("accept", "police", {}),
    ("assign", "police", {"assignee": "wang.police", "assignee_name": "王警官"}),
    ("verification", "police", {"note": "走访群众五人，了解鱼塘承包经过"}),
    ("verification", "police", {"note": "调取村口监控，核实滋事时间与人员"}),
    ("conclude", "police", {"result": "substantiated", "summary": "查证属实，已立案侦查"}),
    ("feedback", "police", {"text": "您反映的问题已查实，公安机关已依法处理"}),
    ("archive", "office", {}),
)


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{user}"}


@asynccontextmanager
async def _served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=30
        ) as client:
            yield client


async def _wait_filed(js: Any, lead_id: str) -> None:
    """Until the registrar filed the lead (asked of the stream: reading the lead through the
    ledger would record an access)."""
    subject = f"ledger.lead.{lead_id}.LeadRegistered"
    for _ in range(600):
        info = await js.stream_info(Stream.LEDGER.value, subjects_filter=subject)
        if info.state.subjects:
            return
        await asyncio.sleep(0.02)  # the registrar files it a moment after the report
    raise SystemExit(f"lead {lead_id} was never filed")


async def _live(js: Any, intake: httpx.AsyncClient, ledger: httpx.AsyncClient) -> None:
    answer = await intake.post("/v1/reports", json=REPORT, auth=WorkAuth())
    if answer.status_code != 201:
        raise SystemExit(f"report refused: {answer.status_code} {answer.text}")
    lead_id = answer.json()["lead_id"]
    await _wait_filed(js, lead_id)
    for command, user, body in LIFE:
        done = await ledger.post(
            f"/v1/ledger/leads/{lead_id}/{command}", json=body, headers=_auth(user)
        )
        if done.status_code != 200:
            raise SystemExit(f"{command} refused: {done.status_code} {done.text}")
    for _ in range(READS):
        read = await ledger.get(f"/v1/ledger/leads/{lead_id}", headers=_auth("office"))
        if read.status_code != 200:
            raise SystemExit(f"read refused: {read.status_code}")


async def _sizes(js: Any) -> dict[str, tuple[int, int]]:
    """Bytes and messages each stream holds."""
    found = {}
    for stream in Stream:
        state = (await js.stream_info(stream.value)).state
        found[stream.value] = (state.bytes, state.messages)
    return found


def _disk(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


async def main() -> None:
    # The figures are the output: the services' own logs would bury them.
    configure_logging("bench", "ERROR")
    from intake.bootstrap import create_app as intake_app
    from intake.settings import IntakeSettings
    from ledger.bootstrap import create_app as ledger_app
    from ledger.settings import LedgerSettings
    from oversight.bootstrap import create_app as oversight_app
    from oversight.settings import OversightSettings

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        users = root / "users.toml"
        write_users_file(
            users,
            [
                UserRecord(
                    user=u, display_name=u, role=r, unit=unit, token_sha256=hash_token(f"token-{u}")
                )
                for u, (r, unit) in STAFF.items()
            ],
        )
        with NatsServer(root / "nats") as server:
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            await declare_streams(js, list(Stream))
            common: dict[str, Any] = {"nats_url": server.url, "users_file": users}
            apps = (
                intake_app(
                    IntakeSettings(
                        database_url=f"sqlite:///{root / 'intake.db'}",
                        identity_key=_key(),
                        receipt_key=_key(),
                        signing_key=_key(),
                        work_bits_report=4,
                        work_bits_receipt=4,
                        usual_public_reports_per_hour=1_000_000,
                        **common,
                    )
                ),
                ledger_app(
                    LedgerSettings(database_url=f"sqlite:///{root / 'ledger.db'}", **common)
                ),
                oversight_app(
                    OversightSettings(database_url=f"sqlite:///{root / 'oversight.db'}", **common)
                ),
            )
            try:
                async with AsyncExitStack() as stack:
                    intake, ledger, _ = [await stack.enter_async_context(_served(a)) for a in apps]
                    before, disk_before = await _sizes(js), _disk(root / "nats")
                    for _ in range(LEADS):
                        await _live(js, intake, ledger)
                    # Whatever the reactors still append (oversight's, the registrar's).
                    await asyncio.sleep(2.0)
                    after, disk_after = await _sizes(js), _disk(root / "nats")
            finally:
                await nc.close()

    total = 0
    for name, (size, count) in after.items():
        grew, messages = size - before[name][0], count - before[name][1]
        if grew <= 0:
            continue
        total += grew
        print(
            f"capacity {name}: {grew / LEADS:,.0f} bytes per lead"
            f" ({messages / LEADS:.1f} messages, {grew / max(messages, 1):,.0f} bytes each;"
            f" {LEADS} leads)"
        )
    audit = after[Stream.AUDIT.value][0] - before[Stream.AUDIT.value][0]
    accesses = after[Stream.AUDIT.value][1] - before[Stream.AUDIT.value][1]
    print(
        f"capacity AUDIT per read: {audit / max(accesses, 1):,.0f} bytes per recorded access"
        f" ({accesses / LEADS:.1f} recorded per lead read {READS} times)"
    )
    print(f"capacity all streams: {total / LEADS:,.0f} bytes per lead ({READS} reads each)")
    print(
        f"capacity disk: {(disk_after - disk_before) / LEADS:,.0f} bytes of store files per lead"
        " (one replica; blocks and indexes included)"
    )


if __name__ == "__main__":
    asyncio.run(main())
