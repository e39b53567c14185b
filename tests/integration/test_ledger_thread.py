"""What was reported, and the exchange with the reporter, read where the lead is handled: a
member of the public reports by name through intake with the details and a photo; the
clerk reads all of it in the ledger, not only the summary; the reporter adds to it and
writes with the receipt, the clerk reads both in the lead's thread, the office answers
there, and the reporter reads the answer with the receipt. Each read is recorded; and who
reported is nowhere in the ledger's database.

Intake and the ledger run side by side on one NATS server, as deployed."""

from __future__ import annotations

import httpx
import pytest
from nats.js import JetStreamContext

from common.events.catalogue import LeadViewed
from common.subjects import Stream
from tests.conftest import wait_until
from tests.support.intake import PlantedIdentity, lead, report_of, unique
from tests.support.ledger import (
    LedgerService,
    act,
    everything_stored,
    filed,
    found_by_search,
    read_in_full,
    shown,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

DETAILS = "每逢集市，张某带人向摊贩收取所谓卫生费，不交就掀摊子。去年冬天还打伤了卖菜的王大爷。"
PHOTO = {"name": "掀摊现场.jpg", "size": 204_800, "sha256": "ab" * 32}
RECORDING = {"name": "收费录音.m4a", "size": 1_048_576, "sha256": "cd" * 32}
SUPPLEMENT = "补充：张某的侄子在派出所当辅警，收费时常穿制服。"
MESSAGE = "请问处理到哪一步了？我担心被报复。"
ANSWER = "您反映的情况已登记，正在核查，我们会对您的信息严格保密。"


async def views_by(js: JetStreamContext, lead_id: str, user: str) -> int:
    views = await events_on(js, Stream.AUDIT, f"audit.ledger.lead.{lead_id}.LeadViewed")
    return sum(1 for v in views if isinstance(v, LeadViewed) and v.actor.user == user)


async def test_the_clerk_reads_what_was_reported_and_added_and_the_reporter_reads_the_answer(
    intake: httpx.AsyncClient,
    service_on_each_database: LedgerService,
    streams: JetStreamContext,
    database_url: str,
) -> None:
    ledger = service_on_each_database.http
    identity = PlantedIdentity.new()
    summary = unique("集市上有人强收保护费")
    reported = await intake.post(
        "/v1/reports",
        json=lead(summary, details=DETAILS, identity=identity.as_json(), attachments=[PHOTO]),
    )
    assert reported.status_code == 201, reported.text
    lead_id, receipt = reported.json()["lead_id"], reported.json()["receipt"]
    number = (await filed(ledger, lead_id))["ledger_number"]
    # The details are searchable once the ledger has read the report.
    await wait_until(lambda: _finds(ledger, "掀摊子", lead_id))

    # 1. What was reported, in full, by the lead's ledger number as well as its id.
    first = await read_in_full(ledger, number, "clerk")
    assert (first["lead_id"], first["summary"], first["details"]) == (lead_id, summary, DETAILS)
    assert first["channel"] == "web"
    assert first["attachments"] == [PHOTO]
    assert (first["thread"], first["duplicates"]) == ([], [])
    # Not who reported: not in the clear, not sealed.
    ciphertext = (await report_of(streams, lead_id)).reporter.identity_ciphertext
    assert ciphertext
    assert identity.found_in(str(first).encode()) == []
    assert ciphertext not in str(first)

    # 2. The reporter adds to the report and writes to the office, with the receipt only.
    for body in (
        {"kind": "supplement", "text": SUPPLEMENT, "attachments": [RECORDING]},
        {"kind": "message", "text": MESSAGE},
    ):
        added = await intake.post(f"/v1/reports/{receipt}/messages", json=body)
        assert added.status_code == 201, added.text
    await wait_until(lambda: _finds(ledger, "担心被报复", lead_id))

    second = await read_in_full(ledger, lead_id, "clerk")
    assert [
        (e["kind"], e["kind_label"], e["from_reporter"], e["text"], e["attachments"])
        for e in second["thread"]
    ] == [
        ("supplement", "补充材料", True, SUPPLEMENT, [RECORDING]),
        ("message", "留言", True, MESSAGE, []),
    ]
    # The public has no account: nothing about the writer but that it was the reporter.
    assert {(e["author"]["role"], e["author"]["user"]) for e in second["thread"]} == {
        ("reporter", None)
    }
    assert second["details"] == DETAILS  # what was added is kept apart from the report

    # 3. The office answers in the thread; the answer is the ledger's feedback.
    answered = await act(ledger, lead_id, "feedback", "office", text=ANSWER)
    assert answered.status_code == 200, answered.text
    await shown(ledger, lead_id, feedback=ANSWER)

    third = await read_in_full(ledger, lead_id, "clerk")
    *reporters, answer = third["thread"]
    assert [e["text"] for e in reporters] == [SUPPLEMENT, MESSAGE]
    assert (answer["kind"], answer["kind_label"], answer["from_reporter"], answer["text"]) == (
        "feedback",
        "反馈",
        False,
        ANSWER,
    )
    assert answer["author"] == {"role": "office", "unit": "shd-office", "user": "office"}
    assert answer["method"] == "receipt"
    assert answer["event_id"] == answered.json()["event_id"]
    times = [e["occurred_at"] for e in third["thread"]]
    assert times == sorted(times)

    # 4. The reporter reads the answer with the receipt.
    async def answer_on_the_receipt_page() -> bool:
        page = await intake.get(f"/v1/reports/{receipt}")
        assert page.status_code == 200, page.text
        return [f["text"] for f in page.json()["feedback"]] == [ANSWER]

    await wait_until(answer_on_the_receipt_page)

    # 5. Every read by the clerk is on record, by number or by id alike.
    assert await views_by(streams, lead_id, "clerk") == 3

    # 6. Nothing of who reported reached the ledger's tables: not the identity, not its
    # ciphertext, not the receipt's hash.
    stored = everything_stored(database_url)
    # (what was reported is there: the look went through the right database)
    assert DETAILS in stored
    assert SUPPLEMENT in stored
    assert ciphertext not in stored
    assert identity.found_in(stored.encode()) == []
    receipt_hash = (await report_of(streams, lead_id)).receipt_hash
    assert receipt_hash
    assert receipt_hash not in stored


async def _finds(ledger: httpx.AsyncClient, words: str, lead_id: str) -> bool:
    return lead_id in await found_by_search(ledger, words, "clerk")
