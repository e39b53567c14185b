"""Finding a lead by what it says: the office remembers three characters of a report (in
Chinese, with no spaces to split words at) and finds the lead, whether they were in the
summary, the details, or what the reporter added later with the receipt. The words are
searched as they are written: no search syntax, no wildcards, whatever the database; a
search too short to mean anything, too long, or with control characters is refused naming
``q``. An export of a search says what was searched for."""

from __future__ import annotations

import pytest

from common.events.catalogue import LedgerExported
from common.subjects import Stream
from tests.conftest import wait_until
from tests.support.apps import token
from tests.support.ledger import (
    LedgerService,
    added_by_reporter,
    filed,
    found_by_search,
    report,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

GAMBLING = "他在砖瓦厂后院私设赌场，每晚都有人来赌钱。"
QUOTED = '摊主说他讲过"不交钱就别想摆摊"这样的话。'
WILDCARDS = "利息高达100%_每月翻倍"
SUPPLEMENT = "补充：放贷的人开一辆黑色面包车，车牌尾号K7。"
MESSAGE = "我愿意出面作证。"


async def test_the_office_finds_a_lead_by_three_characters_of_what_it_says(
    service_on_each_database: LedgerService,
) -> None:
    http, js = service_on_each_database.http, service_on_each_database.js
    gambling = await report(js, summary="村霸强占集体土地", details=GAMBLING)
    lending = await report(js, village="shd-v02", summary="有人放高利贷", details=WILDCARDS)
    quoted = await report(js, summary="集市收取保护费", details=QUOTED)
    everything = {gambling, lending, quoted}
    for lead in everything:
        await filed(http, lead)
    await added_by_reporter(js, lending, SUPPLEMENT)
    await added_by_reporter(js, lending, MESSAGE, message=True)

    async def searchable() -> bool:
        return await found_by_search(http, "出面作证") == {lending}

    await wait_until(searchable)

    # Any three characters or more, from the summary, the details or an addition.
    assert await found_by_search(http, "强占集") == {gambling}
    assert await found_by_search(http, "砖瓦厂") == {gambling}
    assert await found_by_search(http, "私设赌场") == {gambling}
    assert await found_by_search(http, "黑色面") == {lending}
    assert await found_by_search(http, "尾号k7") == {lending}  # letters in any case
    assert await found_by_search(http, "保护费") == {quoted}
    assert await found_by_search(http, "翻了倍") == set()
    assert await found_by_search(http, "村霸强") == {gambling}

    # The words as written: quotes, FTS5 operators and LIKE's wildcards mean themselves.
    assert await found_by_search(http, '"不交钱') == {quoted}
    assert await found_by_search(http, '钱" OR "赌') == set()
    assert await found_by_search(http, "赌场 OR 村霸") == set()
    assert await found_by_search(http, "100%_") == {lending}
    assert await found_by_search(http, "___") == set()
    assert await found_by_search(http, "%%%") == set()
    assert await found_by_search(http, "0%_每") == {lending}

    # Searched within the other filters.
    listed = await http.get(
        "/v1/ledger/leads",
        params={"q": "砖瓦厂", "village": "shd-v02"},
        headers=token("office"),
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 0

    # Bounded, and the refusal names the parameter.
    for words in ("赌场", "x" * 101, "砖瓦\n厂", "砖瓦\x00厂"):
        refused = await http.get("/v1/ledger/leads", params={"q": words}, headers=token("office"))
        assert refused.status_code == 422, (words, refused.text)
        assert [(p["field"], p["label"]) for p in refused.json()["detail"]] == [
            ("q", "检索内容")
        ], words

    # The export of a search holds what was found, and its record says what was searched.
    exported = await http.get(
        "/v1/ledger/export.csv", params={"q": "砖瓦厂"}, headers=token("office")
    )
    assert exported.status_code == 200, exported.text
    assert "村霸强占集体土地" in exported.text
    assert "有人放高利贷" not in exported.text
    [record] = [
        e
        for e in await events_on(js, Stream.AUDIT, "audit.ledger.>")
        if isinstance(e, LedgerExported)
    ]
    assert (record.filters, record.row_count) == ({"q": "砖瓦厂"}, 1)
