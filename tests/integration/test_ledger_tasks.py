"""The rectification ledger (整改台账): an inspection's finding opened by the office, the
responsible unit's progress with evidence, its request to close, the office's return and
then its closure (销号); who may see and change an item; hostile input; overdue items; the
export; and a replay that rebuilds the same table."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from openpyxl import load_workbook
from sqlalchemy import select

from common.database import sync_engine
from common.events import Actor, Role
from common.events.catalogue import LedgerExported
from common.events.tasks import TaskOpened, TaskSource, TaskViewed
from common.eventstore import EventStore
from common.projection import Tracker
from common.replay import replay
from common.subjects import Stream
from ledger.projection import SUBSCRIPTIONS
from ledger.projection.tasks import tasks
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import token
from tests.support.ledger import LedgerService, ledger_settings, serving_ledger
from tests.support.streams import stored_on

pytestmark = pytest.mark.integration

EVIDENCE = {"name": "整改照片.jpg", "size": 20480, "sha256": "a" * 64}
OFFICE = Actor(role=Role.OFFICE, unit="shd-office", user="office")


def finding(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "inspection",
        "source_ref": "县督导组第二轮督导反馈意见",
        "problem": "线索核查不深入，部分线索未按期反馈举报人",
        "measures": ["逐条复核已办结线索", "建立反馈台账，限期反馈"],
        "unit": "shd-police",
        "assignee": "wang.police",
        "assignee_name": "王警官",
        "deadline": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        **changes,
    }
    return body


async def opened(http: httpx.AsyncClient, user: str = "office", **changes: Any) -> dict[str, Any]:
    response = await http.post("/v1/ledger/tasks", json=finding(**changes), headers=token(user))
    assert response.status_code == 201, response.text
    answer: dict[str, dict[str, Any]] = response.json()
    assert response.headers["location"] == f"/v1/ledger/tasks/{answer['task']['task_id']}"
    return answer["task"]


async def do(
    http: httpx.AsyncClient, task_id: str, command: str, user: str, **body: Any
) -> httpx.Response:
    return await http.post(f"/v1/ledger/tasks/{task_id}/{command}", json=body, headers=token(user))


async def done(
    http: httpx.AsyncClient, task_id: str, command: str, user: str, **body: Any
) -> dict[str, Any]:
    response = await do(http, task_id, command, user, **body)
    assert response.status_code == 200, response.text
    answer: dict[str, dict[str, Any]] = response.json()
    return answer["task"]


async def listed(http: httpx.AsyncClient, user: str, **filters: Any) -> list[dict[str, Any]]:
    response = await http.get("/v1/ledger/tasks", params=filters, headers=token(user))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_an_inspection_finding_goes_from_opening_to_closure_with_progress_and_evidence(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    task = await opened(http)
    task_id = task["task_id"]
    assert (task["status"], task["status_label"], task["source_label"]) == (
        "open",
        "整改中",
        "督导反馈问题",
    )
    assert (task["unit_name"], task["town"]) == ("沙河店派出所", "shd")

    # Asking to close before any progress is refused, with a sentence the unit understands.
    early = await do(http, task_id, "request-closure", "wang.police", outcome="已整改")
    assert early.status_code == 422
    assert "整改进展" in early.json()["detail"][0]["message"]

    await done(http, task_id, "progress", "wang.police", progress="已复核12条", evidence=[EVIDENCE])
    asked = await done(http, task_id, "request-closure", "police", outcome="已全部整改")
    assert asked["status_label"] == "申请销号"
    # While the office decides, the unit cannot report on.
    waiting = await do(http, task_id, "progress", "police", progress="再补充一点")
    assert waiting.status_code == 422

    returned = await done(http, task_id, "return", "clerk", reason="佐证材料不全，请补充反馈记录")
    assert (returned["status"], returned["return_reason"]) == (
        "returned",
        "佐证材料不全，请补充反馈记录",
    )
    # Returned: a new progress report is needed before asking again.
    again = await do(http, task_id, "request-closure", "police", outcome="已全部整改")
    assert again.status_code == 422
    await done(http, task_id, "progress", "police", progress="补充反馈记录", evidence=[EVIDENCE])
    await done(http, task_id, "request-closure", "police", outcome="已全部整改并反馈")
    closed = await done(http, task_id, "close", "office", note="同意销号")
    assert (closed["status"], closed["status_label"]) == ("closed", "已销号")
    assert closed["closed_at"] is not None
    assert closed["progress_count"] == 2

    # Closed is final: 409, whoever asks.
    assert (await do(http, task_id, "return", "office", reason="再看看")).status_code == 409
    assert (await do(http, task_id, "progress", "police", progress="又做了")).status_code == 409

    # The history, read from the log, and the read recorded on AUDIT.
    response = await http.get(f"/v1/ledger/tasks/{task_id}", headers=token("discipline"))
    assert response.status_code == 200, response.text
    history = response.json()["history"]
    assert [h["event_type"] for h in history] == [
        "TaskOpened",
        "TaskProgressReported",
        "TaskClosureRequested",
        "TaskReturned",
        "TaskProgressReported",
        "TaskClosureRequested",
        "TaskClosed",
    ]
    assert history[1]["data"]["evidence"] == [EVIDENCE]
    assert history[1]["actor"]["user"] == "wang.police"
    views = await stored_on(js, Stream.AUDIT, f"audit.ledger.task.{task_id}.TaskViewed")
    assert [(v.event.actor.user, type(v.event)) for v in views] == [("discipline", TaskViewed)]

    # The list follows: the closed item under its status, shown to the unit as to the office.
    async def closed_on_the_list() -> bool:
        return [t["status"] for t in await listed(http, "police")] == ["closed"]

    await wait_until(closed_on_the_list)
    assert [t["task_id"] for t in await listed(http, "office", status="closed")] == [task_id]
    assert await listed(http, "office", status="open") == []


async def test_who_may_see_and_change_an_item(service: LedgerService) -> None:
    http = service.http
    task_id = (await opened(http))["task_id"]

    # Another unit, and roles that see nothing of the town's items: as if it did not exist.
    for user in ("judicial", "screener.v01", "admin"):
        response = await http.get(f"/v1/ledger/tasks/{task_id}", headers=token(user))
        assert response.status_code == 404, (user, response.text)
        progress = await do(http, task_id, "progress", user, progress="我来报送")
        assert progress.status_code == 404, (user, progress.text)
        assert await listed(http, user) == []
    unknown = await http.get("/v1/ledger/tasks/no-such-item", headers=token("office"))
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == response.json()["detail"]

    # Visible, but not theirs to change: 403.
    for user, command, body in (
        ("discipline", "progress", {"progress": "纪委代报"}),
        ("auditor", "request-closure", {"outcome": "已整改"}),
        ("office", "progress", {"progress": "办公室代报"}),
        ("police", "close", {"note": "自己销号"}),
        ("police", "reassign", {"reason": "不归我们", **_responsible("shd-judicial", "judicial")}),
    ):
        response = await do(http, task_id, command, user, **body)
        assert response.status_code == 403, (user, command, response.text)
    # Only the office and clerks open items.
    refused = await http.post("/v1/ledger/tasks", json=finding(), headers=token("police"))
    assert refused.status_code == 403
    # Without a request to close, there is nothing to approve.
    assert (await do(http, task_id, "close", "office")).status_code == 422

    # Reassigned to the judicial office: now theirs, and no longer the police station's.
    moved = await done(
        http,
        task_id,
        "reassign",
        "office",
        reason="职责调整",
        **_responsible("shd-judicial", "judicial"),
    )
    assert moved["unit"] == "shd-judicial"
    assert (await do(http, task_id, "progress", "judicial", progress="已接手")).status_code == 200
    gone = await http.get(f"/v1/ledger/tasks/{task_id}", headers=token("police"))
    assert gone.status_code == 404


def _responsible(unit: str, user: str) -> dict[str, str]:
    deadline = (datetime.now(UTC) + timedelta(days=20)).isoformat()
    return {"unit": unit, "assignee": user, "assignee_name": user, "deadline": deadline}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"problem": "问" * 5001}, "problem"),
        ({"measures": []}, "measures"),
        ({"measures": ["措施"] * 31}, "measures"),
        ({"measures": ["措" * 1001]}, "measures.0"),
        ({"source": "rumour"}, "source"),
        ({"source_ref": "文" * 201}, "source_ref"),
        ({"unit": "shd.police.>"}, "unit"),
        ({"unit": "nowhere"}, "unit"),
        ({"assignee": "li.judicial"}, "assignee"),
        ({"assignee": "judicial"}, "assignee"),
        ({"deadline": "2020-01-01"}, "deadline"),
        ({"deadline": "2030-01-01T10:00:00"}, "deadline"),
        ({"list_id": "a.b"}, "list_id"),
        ({"extra": "x"}, "extra"),
    ],
    ids=lambda value: value if isinstance(value, str) else next(iter(value)),
)
async def test_hostile_or_oversized_input_is_refused_naming_the_field(
    service: LedgerService, changes: dict[str, Any], field: str
) -> None:
    response = await service.http.post(
        "/v1/ledger/tasks", json=finding(**changes), headers=token("office")
    )
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["detail"]], response.text


async def test_oversized_progress_and_evidence_are_refused(service: LedgerService) -> None:
    http = service.http
    task_id = (await opened(http))["task_id"]
    for body, field in (
        ({"progress": "进" * 5001}, "progress"),
        ({"progress": "有进展", "evidence": [EVIDENCE] * 51}, "evidence"),
        (
            {"progress": "有进展", "evidence": [{**EVIDENCE, "sha256": "nothex"}]},
            "evidence.0.sha256",
        ),
    ):
        response = await do(http, task_id, "progress", "police", **body)
        assert response.status_code == 422, response.text
        assert field in [d["field"] for d in response.json()["detail"]]
    bad_id = await http.get("/v1/ledger/tasks/a%2Eb", headers=token("office"))
    assert bad_id.status_code in (404, 422)


async def _opened_long_ago(js: JetStreamContext, problem: str, days_late: int) -> str:
    """An item whose deadline has passed (the API takes only deadlines to come)."""
    task_id = f"late-{days_late}-{abs(hash(problem)) % 10_000}"
    await EventStore(js, Stream.LEDGER, "ledger").append(
        TaskOpened(
            task_id=task_id,
            source=TaskSource.SELF_CHECK,
            problem=problem,
            measures=("限期整改",),
            unit="shd-police",
            assignee="wang.police",
            assignee_name="王警官",
            deadline=datetime.now(UTC) - timedelta(days=days_late),
            town="shd",
            actor=OFFICE,
        ),
        expected_sequence=0,
    )
    return task_id


async def test_an_overdue_item_is_listed_as_overdue_and_the_export_shows_the_ledger(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    on_time = (await opened(http, problem='=HYPERLINK("http://x")'))["task_id"]
    late = await _opened_long_ago(js, "重点行业整治不到位", 3)

    async def both_listed() -> bool:
        return len(await listed(http, "office")) == 2

    await wait_until(both_listed)
    overdue = await listed(http, "office", overdue="true")
    assert [(t["task_id"], t["overdue"]) for t in overdue] == [(late, True)]
    assert [t["task_id"] for t in await listed(http, "office", overdue="false")] == [on_time]
    assert [t["task_id"] for t in await listed(http, "police", source="self_check")] == [late]

    response = await http.get("/v1/ledger/tasks/export.xlsx", headers=token("clerk"))
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == [
        "序号",
        "问题来源",
        "来源依据",
        "存在问题",
        "整改措施",
        "责任单位",
        "责任人",
        "整改时限",
        "整改进展",
        "整改状态",
        "销号时间",
    ]
    by_problem = {row[3]: row for row in rows[1:]}
    assert [row[0] for row in rows[1:]] == [1, 2]
    late_row = by_problem["重点行业整治不到位"]
    assert (late_row[1], late_row[5]) == ("自查自纠", "沙河店派出所")
    assert late_row[9] == "整改中（已超期）"
    # A formula typed into a finding is shown as text, never run.
    assert '\'=HYPERLINK("http://x")' in by_problem
    assert (
        by_problem['\'=HYPERLINK("http://x")'][4]
        == "1. 逐条复核已办结线索\n2. 建立反馈台账，限期反馈"
    )

    exports = await stored_on(js, Stream.AUDIT, "audit.ledger.global.LedgerExported")
    [recorded] = [e.event for e in exports]
    assert isinstance(recorded, LedgerExported)
    assert (recorded.filters["ledger"], recorded.row_count) == ("tasks", 2)
    # The judicial office exports nothing of the police station's.
    theirs = await http.get("/v1/ledger/tasks/export.xlsx", headers=token("judicial"))
    assert theirs.status_code == 200
    their_sheet = load_workbook(io.BytesIO(theirs.content)).active
    assert their_sheet is not None
    assert their_sheet.max_row == 1


async def test_a_replay_rebuilds_the_same_table_and_the_ledger_as_it_stood(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    live_url = f"sqlite:///{tmp_path / 'live.db'}"
    async with serving_ledger(streams, ledger_settings(nats_target, live_url, tmp_path)) as live:
        http = live.http
        first = (await opened(http))["task_id"]
        await done(http, first, "progress", "police", progress="已整改", evidence=[EVIDENCE])
        # The ledger as it stood here: the finding open, with one progress report.
        as_it_stood = datetime.now(UTC)
        await done(http, first, "request-closure", "police", outcome="完成")
        await done(http, first, "close", "office")
        second = (await opened(http, source="plan", problem="建立线索台账"))["task_id"]
        await done(http, second, "progress", "police", progress="已建立")

        async def applied() -> bool:
            items = {t["task_id"]: t for t in await listed(http, "office")}
            return items.keys() == {first, second} and items[second]["progress_count"] == 1

        await wait_until(applied)

    rebuilt = sync_engine(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    live_engine = sync_engine(live_url)
    try:
        tracker = Tracker(rebuilt, SUBSCRIPTIONS[0].projection, owner="leadctl-replay")
        for subscription in SUBSCRIPTIONS:
            await replay(streams, tracker, subscription.stream)
        ordered = select(tasks).order_by(tasks.c.task_id)
        with live_engine.connect() as a, rebuilt.connect() as b:
            live_rows = [dict(r) for r in a.execute(ordered).mappings()]
            assert live_rows == [dict(r) for r in b.execute(ordered).mappings()]
        assert [r["status"] for r in live_rows if r["task_id"] == first] == ["closed"]
    finally:
        rebuilt.dispose()
        live_engine.dispose()

    then = sync_engine(f"sqlite:///{tmp_path / 'then.db'}")
    try:
        tracker = Tracker(then, SUBSCRIPTIONS[0].projection, owner="leadctl-replay")
        for subscription in SUBSCRIPTIONS:
            await replay(streams, tracker, subscription.stream, until=as_it_stood)
        with then.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(tasks)).mappings()]
        assert [(r["task_id"], r["status"], r["progress_count"]) for r in rows] == [
            (first, "open", 1)
        ]
    finally:
        then.dispose()


async def test_a_retried_opening_with_its_idempotency_key_opens_one_item(
    service: LedgerService,
) -> None:
    http = service.http
    key = {"Idempotency-Key": "retry-0123456789abcdef"}
    answers = [
        await http.post("/v1/ledger/tasks", json=finding(), headers={**token(user), **key})
        for user in ("office", "office", "clerk")
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    first, again, clerks = (a.json()["task"]["task_id"] for a in answers)
    assert first == again
    assert clerks != first  # the same key of another person is theirs

    async def two_listed() -> bool:
        return {t["task_id"] for t in await listed(http, "office")} == {first, clerks}

    await wait_until(two_listed)
    short = await http.post(
        "/v1/ledger/tasks",
        json=finding(),
        headers={**token("office"), "Idempotency-Key": "short"},
    )
    assert short.status_code == 422
    assert [d["field"] for d in short.json()["detail"]] == ["Idempotency-Key"]
