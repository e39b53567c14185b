"""What was reported, and the exchange with the reporter, read by the discipline committee on
its case: a member of the public reports a protective umbrella by name through intake, with
the details and a photo, and the committee's case opens; the reporter adds to the report and
writes with the receipt, the ledger answers, the reporter writes again. The committee reads
all of it on the case, in time order, each entry marked as the reporter's or staff's; an
auditor reads the same, a police officer is refused. Every read is recorded as before, and
who reported is nowhere in oversight's database.

Intake runs beside oversight, as deployed; the ledger's answer is scripted on LEDGER."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from common.events.catalogue import LeadViewed
from common.subjects import Stream
from common.vocabulary import Flag
from oversight.projection.tables import reports, thread
from tests.support.apps import token
from tests.support.intake import (
    PlantedIdentity,
    lead,
    report_of,
    unique,
    wait_until_projected,
)
from tests.support.oversight import (
    OFFICE,
    OversightService,
    answered,
    case_of,
    get,
    oversight_caught_up,
    oversight_columns,
    record,
    stored_by_oversight,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

DETAILS = "村党支部书记每月从东山赌场拿钱，派出所来查之前总有人提前通风报信，赌场照开不误。"
PHOTO = {"name": "赌场门口.jpg", "size": 307_200, "sha256": "ef" * 32}
RECORDING = {"name": "通风报信录音.m4a", "size": 2_097_152, "sha256": "0a" * 32}
SUPPLEMENT = "补充：每次通风报信的电话都是从村委会座机打出的。"
MESSAGE = "请问纪委收到了吗？我担心被书记报复。"
ANSWER = "您反映的问题已转纪委办理，我们会对您的信息严格保密。"
THANKS = "谢谢，我再补充一句：赌场老板姓钱。"


async def add(intake: httpx.AsyncClient, receipt: str, body: dict[str, Any]) -> None:
    """What the reporter adds or writes with the receipt."""
    added = await intake.post(f"/v1/reports/{receipt}/messages", json=body)
    assert added.status_code == 201, added.text


async def views_by(js: JetStreamContext, lead_id: str) -> Counter[str | None]:
    """The reads of the lead recorded by oversight, by reader."""
    views = await events_on(js, Stream.AUDIT, f"audit.oversight.lead.{lead_id}.LeadViewed")
    return Counter(v.actor.user for v in views if isinstance(v, LeadViewed))


def entries(case: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (e["kind"], e["kind_label"], e["written_by"], e["text"], e["attachments"])
        for e in case["thread"]
    ]


async def test_the_committee_reads_what_was_reported_and_the_whole_exchange_on_its_case(
    intake: httpx.AsyncClient,
    sqlite_url: str,
    streams: JetStreamContext,
    oversight_on_each_database: OversightService,
) -> None:
    js, service = streams, oversight_on_each_database
    http = service.http
    identity = PlantedIdentity.new()
    summary = unique("村党支部书记为赌场充当保护伞")
    reported = await intake.post(
        "/v1/reports",
        json=lead(
            summary,
            details=DETAILS,
            flags=[Flag.PROTECTIVE_UMBRELLA.value],
            identity=identity.as_json(),
            attachments=[PHOTO],
        ),
    )
    assert reported.status_code == 201, reported.text
    lead_id, receipt = reported.json()["lead_id"], reported.json()["receipt"]
    report = await report_of(js, lead_id)
    case = await case_of(http, lead_id)
    case_path = f"/v1/oversight/cases/{case['case_id']}"
    await oversight_caught_up(js)

    # 1. What was reported, in full, before anyone added to it.
    first = await get(http, case_path, purpose="审查保护伞线索")
    assert first["lead_id"] == lead_id
    assert first["report"] == {
        "reported_at": first["report"]["reported_at"],
        "channel": "web",
        "category": report.category.value,
        "village": report.village,
        "summary": summary,
        "details": DETAILS,
        "attachments": [PHOTO],
    }
    assert first["thread"] == []

    # 2. The reporter adds to the report and writes with the receipt; the ledger answers;
    # the reporter writes again. Intake and the ledger are separate streams, read side by side.
    await wait_until_projected(sqlite_url, lead_id)
    await add(
        intake, receipt, {"kind": "supplement", "text": SUPPLEMENT, "attachments": [RECORDING]}
    )
    await add(intake, receipt, {"kind": "message", "text": MESSAGE})
    answer = answered(lead_id, ANSWER)
    await record(js, answer)
    await add(intake, receipt, {"kind": "message", "text": THANKS})
    await oversight_caught_up(js)

    full = await get(http, case_path, purpose="审查保护伞线索")
    assert entries(full) == [
        ("supplement", "补充材料", "reporter", SUPPLEMENT, [RECORDING]),
        ("message", "留言", "reporter", MESSAGE, []),
        ("feedback", "反馈", "staff", ANSWER, []),
        ("message", "留言", "reporter", THANKS, []),
    ]
    times = [e["occurred_at"] for e in full["thread"]]
    assert times == sorted(times)
    reporters = [e for e in full["thread"] if e["written_by"] == "reporter"]
    # The public has no account: nothing about the writer but that it was the reporter.
    assert {(e["author"]["role"], e["author"]["unit"], e["author"]["user"]) for e in reporters} == {
        ("reporter", None, None)
    }
    [staff] = [e for e in full["thread"] if e["written_by"] == "staff"]
    assert staff["event_id"] == answer.event_id
    assert staff["author"] == {"role": "office", "unit": OFFICE, "user": "office"}
    assert staff["method"] == "receipt"
    # What was added is kept apart from the report; the case itself is unchanged.
    assert full["report"] == first["report"]
    assert (full["case_id"], full["umbrella"], full["supervision"]) == (
        case["case_id"],
        True,
        [],
    )

    # 3. An auditor reads the same case in full; a police officer is refused, as before.
    audited = await get(http, case_path, user="auditor", purpose="审计")
    assert (audited["report"], audited["thread"]) == (full["report"], full["thread"])
    refused = await http.get(case_path, headers=token("police"))
    assert refused.status_code == 403, refused.text
    assert DETAILS not in refused.text
    assert SUPPLEMENT not in refused.text

    # 4. Each read is on record, the refused one not.
    assert await views_by(js, lead_id) == Counter({"discipline": 2, "auditor": 1})

    # 5. Who reported reached none of oversight's tables: not the identity, not its
    # ciphertext, not the receipt's hash, not whether the reporter gave a name.
    ciphertext = report.reporter.identity_ciphertext
    assert ciphertext
    assert report.receipt_hash
    for answer_body in (first, full, audited):
        assert ciphertext not in str(answer_body)
        assert identity.found_in(str(answer_body).encode()) == []
    stored = stored_by_oversight(service)
    # (what was reported is there: the look went through oversight's own database)
    assert DETAILS in stored[reports.name]
    assert THANKS in stored[thread.name]
    for table, values in stored.items():
        assert ciphertext not in values, table
        assert report.receipt_hash not in values, table
        assert identity.found_in(values.encode()) == [], table
        assert "named" not in values.split("\n"), table
    assert not [
        column
        for column in oversight_columns(service)
        if any(word in column for word in ("reporter", "identity", "receipt", "named"))
    ]
