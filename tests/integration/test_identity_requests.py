"""Identity access on request (two-person rule): a handler asks with a reason, a custodian
other than the asker refuses or approves, the asker reads once; the committee sees every
step, the reporter's receipt page says when and why (never who), and the identity is in no
event and no log line. A custodian alone reads nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest
from nats.js import JetStreamContext

from common.work import solve
from tests.conftest import wait_until
from tests.support.apps import token
from tests.support.identity_requests import ASKED, ask, handed_to
from tests.support.intake import (
    PlantedIdentity,
    event_types,
    everything_in_jetstream,
    lead,
    unique,
    wait_until_projected,
)
from tests.support.oversight import OversightService

pytestmark = pytest.mark.integration


async def receipt_page(intake: httpx.AsyncClient, receipt: str, lang: str = "zh") -> str:
    given = (await intake.get("/v1/work/receipt")).json()
    page = await intake.post(
        f"/my-report?lang={lang}",
        data={"receipt": receipt, "work": solve(given["challenge"], given["bits"])},
    )
    assert page.status_code == 200, page.text
    return page.text


def disclosures(page: str) -> str:
    """The receipt page's account of reads of the identity ("" when there is none)."""
    if 'id="disclosures"' not in page:
        return ""
    return page.split('id="disclosures"', 1)[1].split("</ul>", 1)[0]


async def test_a_request_is_refused_then_approved_read_once_seen_by_the_committee_and_told(
    intake: httpx.AsyncClient,
    oversight: OversightService,
    streams: JetStreamContext,
    sqlite_url: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    planted = PlantedIdentity.new()
    reported = await intake.post(
        "/v1/reports",
        json=lead(unique("村霸威胁证人"), identity=planted.as_json()),
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert reported.status_code == 201, reported.text
    lead_id, receipt = reported.json()["lead_id"], reported.json()["receipt"]
    await wait_until_projected(sqlite_url, lead_id)
    requests = f"/v1/leads/{lead_id}/identity/requests"
    # Asked only by who may read the lead: police, once it is handed to their station.
    assert (await ask(intake, lead_id, "police")).status_code == 404
    await handed_to(streams, sqlite_url, lead_id, "shd-police")

    # The custodian alone reads nothing any more.
    alone = await intake.post(
        f"/v1/leads/{lead_id}/identity/disclose",
        json={"reason": "核实身份"},
        headers=token("custodian"),
    )
    assert alone.status_code == 403, alone.text
    # Who does not handle leads may not ask.
    for outsider in ("clerk", "screener.v01", "auditor"):
        assert (await ask(intake, lead_id, outsider)).status_code == 403

    first = await ask(intake, lead_id, "police")
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "pending"
    first_id = first.json()["request_id"]
    by_asker = await intake.post(f"{requests}/{first_id}/approve", json={}, headers=token("police"))
    assert by_asker.status_code == 403, by_asker.text
    too_early = await intake.post(f"{requests}/{first_id}/read", headers=token("police"))
    assert too_early.status_code == 403, too_early.text
    refused = await intake.post(
        f"{requests}/{first_id}/refuse",
        json={"reason": "理由不足，先核实事实"},
        headers=token("custodian"),
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused"
    after_refusal = await intake.post(f"{requests}/{first_id}/read", headers=token("police"))
    assert after_refusal.status_code == 403, after_refusal.text
    decided_again = await intake.post(
        f"{requests}/{first_id}/approve", json={}, headers=token("custodian.2")
    )
    assert decided_again.status_code == 409, decided_again.text
    assert disclosures(await receipt_page(intake, receipt)) == ""

    second = await ask(intake, lead_id, "police")
    assert second.status_code == 201, second.text
    second_id = second.json()["request_id"]
    # Someone else's request does not exist for them, and they may not read by it.
    assert (
        await intake.post(f"{requests}/{second_id}/read", headers=token("wang.police"))
    ).status_code == 404
    assert [
        r["request_id"] for r in (await intake.get(requests, headers=token("wang.police"))).json()
    ] == []
    approved = await intake.post(
        f"{requests}/{second_id}/approve", json={"valid_hours": 2}, headers=token("custodian")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["reads_left"] == 1
    assert disclosures(await receipt_page(intake, receipt)) == ""
    by_other = await intake.post(f"{requests}/{second_id}/read", headers=token("custodian"))
    assert by_other.status_code == 404, by_other.text
    read = await intake.post(f"{requests}/{second_id}/read", headers=token("police"))
    assert read.status_code == 200, read.text
    assert read.json() == planted.as_json()
    again = await intake.post(f"{requests}/{second_id}/read", headers=token("police"))
    assert again.status_code == 403, again.text
    assert (await event_types(streams, lead_id))[-1] == "IdentityDisclosed"

    # A custodian's own request is decided by another custodian, never by themselves.
    own = await ask(intake, lead_id, "custodian")
    assert own.status_code == 201, own.text
    own_id = own.json()["request_id"]
    self_approved = await intake.post(
        f"{requests}/{own_id}/approve", json={}, headers=token("custodian")
    )
    assert self_approved.status_code == 403, self_approved.text
    listed = (await intake.get(requests, headers=token("custodian.2"))).json()
    assert [r["status"] for r in listed] == ["refused", "approved", "pending"]

    # The committee sees every step, under the person who took it.
    async def log() -> list[dict[str, str]]:
        answer = await oversight.http.get(
            "/v1/oversight/access-log", params={"lead_id": lead_id}, headers=token("discipline")
        )
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    expected = {
        ("identity_requested", "police"),
        ("identity_refused", "custodian"),
        ("identity_approved", "custodian"),
        ("identity_disclosed", "police"),
    }
    seen: list[dict[str, str]] = []

    async def all_steps() -> bool:
        seen[:] = await log()
        return expected <= {(e["kind"], e["user"]) for e in seen}

    await wait_until(all_steps)
    [told] = [e for e in seen if e["kind"] == "identity_disclosed"]
    assert second_id in told["purpose"]

    # The reporter is told when and why, in China time, never who.
    told_zh = disclosures(await receipt_page(intake, receipt))
    assert "您的身份信息已于" in told_zh
    assert "因调查取证、制作询问笔录被依规查阅" in told_zh
    assert "(UTC+8)" in told_zh
    told_en = disclosures(await receipt_page(intake, receipt, "en"))
    assert "to take a statement" in told_en
    for who in ("police", "shd-police", "custodian", ASKED["reason"]):
        assert who not in told_zh + told_en
    # One read, told once.
    assert told_zh.count("您的身份信息已于") == 1

    # Hostile input: bounded, named, nothing recorded.
    for body in (
        {"reason_category": "statement", "reason": "长" * 201},
        {"reason_category": "curiosity", "reason": "想知道是谁举报的"},
        {"reason_category": "statement", "reason": "短"},
        {"reason_category": "statement", "reason": "需制作询问笔录", "user": "admin"},
    ):
        bad = await intake.post(requests, json=body, headers=token("police"))
        assert bad.status_code == 422, bad.text
    assert (
        await intake.post(f"{requests}/{'x' * 65}/read", headers=token("police"))
    ).status_code == 422
    assert (
        await intake.post(
            f"{requests}/{own_id}/approve", json={"valid_hours": 73}, headers=token("custodian.2")
        )
    ).status_code == 422
    assert (
        await intake.post(f"{requests}/nosuchrequest/approve", json={}, headers=token("custodian"))
    ).status_code == 404

    stored = await everything_in_jetstream(streams)
    for stream, sequence, blob in stored:
        assert not planted.found_in(blob), f"identity in the clear in {stream} #{sequence}"
    logs = capfd.readouterr()
    output = logs.out + logs.err + caplog.text
    assert second_id in output, "the service's log was not captured"
    assert not planted.found_in(output.encode())
    assert ASKED["reason"] not in output


async def test_a_shredded_identity_cannot_be_read_on_an_approved_request(
    intake: httpx.AsyncClient, streams: JetStreamContext, sqlite_url: str
) -> None:
    reported = await intake.post(
        "/v1/reports", json=lead(unique("村霸强占鱼塘"), identity={"name": "销毁测试"})
    )
    assert reported.status_code == 201, reported.text
    lead_id = reported.json()["lead_id"]
    await wait_until_projected(sqlite_url, lead_id)
    await handed_to(streams, sqlite_url, lead_id, "shd-judicial", "shd-police")
    asked = await ask(intake, lead_id, "judicial")
    request = f"/v1/leads/{lead_id}/identity/requests/{asked.json()['request_id']}"
    assert (
        await intake.post(f"{request}/approve", json={}, headers=token("custodian"))
    ).status_code == 200
    shredded = await intake.post(
        f"/v1/leads/{lead_id}/identity/shred",
        json={"reason": "举报人要求销毁身份信息"},
        headers=token("custodian"),
    )
    assert shredded.status_code == 200, shredded.text
    gone = await intake.post(f"{request}/read", headers=token("judicial"))
    assert gone.status_code == 410, gone.text
    assert (await ask(intake, lead_id, "police")).status_code == 410
