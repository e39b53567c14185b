"""What a public request costs, and that nobody can lock reporters out: each report and each
look-up by receipt spends a solved challenge once; a guesser pays for every guess and takes
nothing from anyone else; a flood of reports makes each further report dearer."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext

from common.work import HEADER, Purpose, WorkIssuer, digest, leading_zero_bits, solve
from intake.bootstrap import create_app
from intake.receipts import new_receipt
from intake.work import work_key
from tests.conftest import NatsTarget
from tests.support.intake import (
    WORK_BITS,
    Keys,
    intake_settings,
    lead,
    running,
    stored_in_intake,
    unique,
    wait_until_projected,
)

pytestmark = pytest.mark.integration

BITS = WORK_BITS
GUESSES = 60


async def challenge(client: httpx.AsyncClient, purpose: Purpose) -> dict[str, str | int]:
    answer = await client.get(f"/v1/work/{purpose}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    given: dict[str, str | int] = answer.json()
    return given


def unsolved(token: str, bits: int) -> str:
    """A proof whose nonce does not solve the challenge."""
    nonce = 0
    while leading_zero_bits(digest(token, str(nonce))) >= bits:
        nonce += 1
    return f"{token}:{nonce}"


def refused_for_work(answer: httpx.Response) -> str:
    assert answer.status_code == 428, answer.text
    (problem,) = answer.json()["detail"]
    assert problem["field"] == HEADER
    assert problem["message"]
    message_en: str = problem["message_en"]
    return message_en


async def test_a_report_without_a_solved_challenge_is_refused_and_nothing_is_stored(
    intake: httpx.AsyncClient, streams: JetStreamContext, keys: Keys
) -> None:
    body = lead(unique("没有计算验证的举报"))
    raw = intake  # every request below sends its own proof, or none (auth=None)

    bare = await raw.post("/v1/reports", json=body, auth=None)
    assert "needs a proof of work" in refused_for_work(bare)

    given = await challenge(raw, Purpose.REPORT)
    token, bits = str(given["challenge"]), int(given["bits"])
    assert bits == BITS
    wrong = await raw.post("/v1/reports", json=body, headers={HEADER: unsolved(token, bits)})
    assert "does not solve" in refused_for_work(wrong)

    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    forged_answer = await raw.post("/v1/reports", json=body, headers={HEADER: solve(forged, bits)})
    assert "not issued here" in refused_for_work(forged_answer)

    for_lookups = await challenge(raw, Purpose.RECEIPT)
    misused = await raw.post(
        "/v1/reports",
        json=body,
        headers={HEADER: solve(str(for_lookups["challenge"]), int(for_lookups["bits"]))},
    )
    assert "issued for 'receipt'" in refused_for_work(misused)

    # Issued by this service's key, but an hour ago.
    issuer = WorkIssuer(work_key(base64.b64decode(keys.receipt)))
    old = issuer.issue(Purpose.REPORT, BITS, now=time.time() - 3600)
    expired = await raw.post("/v1/reports", json=body, headers={HEADER: solve(old.token, BITS)})
    assert "expired" in refused_for_work(expired)

    assert await stored_in_intake(streams) == 0

    proof = solve(token, bits)
    accepted = await raw.post("/v1/reports", json=body, headers={HEADER: proof})
    assert accepted.status_code == 201, accepted.text
    again = await raw.post(
        "/v1/reports", json=lead(unique("同一题目再用")), headers={HEADER: proof}
    )
    assert "used already" in refused_for_work(again)
    assert await stored_in_intake(streams) == 1


async def test_a_guesser_pays_for_each_guess_and_the_reporter_is_still_answered(
    intake: httpx.AsyncClient, sqlite_url: str
) -> None:
    reported = await intake.post("/v1/reports", json=lead(unique("村霸强占宅基地")))
    assert reported.status_code == 201, reported.text
    receipt = reported.json()["receipt"]
    await wait_until_projected(sqlite_url, reported.json()["lead_id"])

    refused_for_work(await intake.get(f"/v1/reports/{new_receipt()}", auth=None))

    halfway = asyncio.Event()
    answers: list[int] = []

    async def guess() -> None:
        for attempt in range(GUESSES):
            answers.append((await intake.get(f"/v1/reports/{new_receipt()}")).status_code)
            if attempt == GUESSES // 2:
                halfway.set()

    guesser = asyncio.create_task(guess())
    await halfway.wait()
    # The guesser is mid-way; the reporter's own look-up and message are answered at once.
    status = await intake.get(f"/v1/reports/{receipt}")
    assert status.status_code == 200, status.text
    added = await intake.post(f"/v1/reports/{receipt}/messages", json={"text": "还有补充"})
    assert added.status_code == 201, added.text
    await guesser

    assert answers == [404] * GUESSES, "a wrong guess must be a plain 404, never a lock-out"
    after = await intake.get(f"/v1/reports/{receipt}")
    assert after.status_code == 200, after.text


async def test_a_flood_of_reports_makes_each_further_report_cost_more(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> None:
    settings = intake_settings(nats_target, sqlite_url, tmp_path, keys).model_copy(
        update={"usual_public_reports_per_hour": 2}
    )
    async with running(create_app(settings)) as intake:
        assert (await challenge(intake, Purpose.REPORT))["bits"] == BITS
        early = await challenge(intake, Purpose.REPORT)

        for n in range(8):
            answer = await intake.post("/v1/reports", json=lead(unique(f"批量举报{n}")))
            assert answer.status_code == 201, answer.text

        # 8 reports against a usual 2 an hour: two doublings, two more bits each.
        assert (await challenge(intake, Purpose.REPORT))["bits"] == BITS + 2
        # Look-ups by receipt do not get dearer: a flood of reports is no reporter's fault.
        assert (await challenge(intake, Purpose.RECEIPT))["bits"] == BITS
        # A cheap challenge fetched before the flood cannot be spent during it.
        stale = await intake.post(
            "/v1/reports",
            json=lead(unique("洪水前领取的题目")),
            headers={HEADER: solve(str(early["challenge"]), int(early["bits"]))},
        )
        assert "easier" in refused_for_work(stale)
