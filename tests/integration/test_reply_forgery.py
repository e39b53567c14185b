"""A service cannot forge another service's events through the broker.

nats-server does not check a request's reply subject against the asker's permissions, and
every stream lives in one account: so the ledger's user can ask for one of its own messages
by direct read and name, as the reply subject, a subject of the committee's DIRECTIVES
stream. The broker then publishes the answer there itself, and DIRECTIVES stores it (shown
below: the permissions cannot stop it). What stops it is that every reader takes an event
only when it was stored by an append: its Nats-Msg-Id is its event id and it carries none
of the headers the broker puts on a copy (common.eventstore.appended_id).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from common.events import Actor, Role, encode
from common.events.catalogue import DisciplineOutcome
from common.eventstore import EventStore, appended_id
from common.projection import NOT_APPENDED, Raw, decode_batch
from common.subjects import Stream
from common.vocabulary import Conclusion
from intake.bootstrap import create_app as intake_app
from ledger.bootstrap import create_app as ledger_app
from oversight.projection.projector import PROJECTION as OVERSIGHT_PROJECTION
from tests.conftest import wait_until
from tests.support.apps import serving
from tests.support.factories import new_lead_id
from tests.support.nats_users import PermissionedServer, connected
from tests.support.service_users import is_stored, service_settings
from tests.support.streams import count_on

pytestmark = pytest.mark.integration

COMMITTEE = Actor(role=Role.DISCIPLINE, unit="shd-discipline")


async def forge_outcome(server: PermissionedServer, lead_id: str) -> DisciplineOutcome:
    """As the ledger's user: plant a committee outcome in DIRECTIVES, twice (the broker's
    answer with its headers, and bare)."""
    forged = DisciplineOutcome(lead_id=lead_id, result=Conclusion.UNSUBSTANTIATED, actor=COMMITTEE)
    target = f"directive.lead.{lead_id}.{forged.event_type}"
    async with connected(server, "ledger") as ledger:
        # Under another lead, so that the target's own ledger history stays clean.
        ack = await ledger.js.publish(
            f"ledger.lead.{new_lead_id()}.Bait",
            encode(forged),
            stream=Stream.LEDGER.value,
            headers={"Nats-Msg-Id": forged.event_id},
        )
        for request in ({"seq": ack.seq}, {"seq": ack.seq, "no_hdr": True}):
            await ledger.nc.publish(
                "$JS.API.DIRECT.GET.LEDGER", json.dumps(request).encode(), reply=target
            )
        await ledger.nc.flush()
    return forged


async def stored_on(server: PermissionedServer, subject: str) -> int:
    async with connected(server, "admin") as admin:
        return await count_on(admin.jsm, Stream.DIRECTIVES, subject)


async def test_a_forged_directive_lands_in_the_stream_and_no_reader_takes_it(
    provisioned: PermissionedServer,
) -> None:
    lead_id = new_lead_id()
    forged = await forge_outcome(provisioned, lead_id)
    subject = f"directive.lead.{lead_id}.DisciplineOutcome"
    # The broker stored the copy (the bare one at least): no permission refuses it.
    await wait_until(lambda: _stored_any(provisioned, subject))
    copies = await stored_on(provisioned, subject)

    async with connected(provisioned, "admin") as admin:
        history = await EventStore(admin.js, Stream.DIRECTIVES, "directive").read_lead(lead_id)
        assert history.events == ()
        assert history.last_sequence > 0, "the copies still guard the next append"

        raws = []
        for sequence in range(1, (await admin.jsm.stream_info("DIRECTIVES")).state.last_seq + 1):
            msg = await admin.jsm.get_msg(Stream.DIRECTIVES.value, sequence)
            if msg.subject == subject:
                raws.append(Raw(sequence, subject, msg.data or b"", appended_id(msg.headers)))
    assert len(raws) == copies
    assert all(r.data == encode(forged) for r in raws)
    items, failures = decode_batch(OVERSIGHT_PROJECTION, raws)
    assert [item.event for item in items] == [None] * copies
    assert [reason for _, reason in failures] == [NOT_APPENDED] * copies


async def _stored_any(server: PermissionedServer, subject: str) -> bool:
    return await stored_on(server, subject) > 0


async def test_the_ledger_does_not_conclude_a_lead_on_a_forged_committee_outcome(
    provisioned: PermissionedServer, tmp_path: Path
) -> None:
    settings = service_settings(provisioned, tmp_path)
    async with (
        serving(intake_app(settings["intake"])) as intake,  # type: ignore[arg-type]
        serving(ledger_app(settings["ledger"])) as _ledger,  # type: ignore[arg-type]
    ):
        answer = await intake.post(
            "/v1/reports",
            json={
                "category": "protective_umbrella",
                "summary": f"某所长为赌场充当保护伞（{secrets.token_hex(4)}）",
                "village": "shd-v01",
            },
        )
        assert answer.status_code == 201, answer.text
        lead_id = answer.json()["lead_id"]
        # Filed and routed to the committee: an outcome would now conclude it.
        await wait_until(
            lambda: _on_ledger(provisioned, f"ledger.lead.{lead_id}.LeadTransferred"),
            timeout=20,
        )
        await forge_outcome(provisioned, lead_id)

        subject = f"directive.lead.{lead_id}.DisciplineOutcome"
        await wait_until(lambda: _stored_any(provisioned, subject))
        copies = await stored_on(provisioned, subject)

        async def every_copy_parked() -> bool:
            return len(await _parked(provisioned, lead_id)) >= copies

        await wait_until(every_copy_parked, timeout=20)
        reasons = await _parked(provisioned, lead_id)
        assert all("not stored by an append" in reason for reason in reasons), reasons
        assert not await _on_ledger(provisioned, f"ledger.lead.{lead_id}.LeadConcluded")


async def _on_ledger(server: PermissionedServer, subject: str) -> bool:
    return await is_stored(server, Stream.LEDGER.value, subject)


async def _parked(server: PermissionedServer, lead_id: str) -> list[str]:
    """The reasons of what the ledger parked from this lead's directives."""
    found = []
    async with connected(server, "admin") as admin:
        last = (await admin.jsm.stream_info(Stream.DLQ_LEDGER.value)).state.last_seq
        for sequence in range(1, last + 1):
            msg = await admin.jsm.get_msg(Stream.DLQ_LEDGER.value, sequence)
            headers = msg.headers or {}
            if headers.get("Dlq-Subject", "").startswith(f"directive.lead.{lead_id}."):
                found.append(headers.get("Dlq-Reason", ""))
    return found
