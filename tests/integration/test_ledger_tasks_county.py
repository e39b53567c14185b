"""The rectification ledger (整改台账) in a county of two towns: a town's office gives items to
its own town's units and sees its town's items alone; the other town finds no such item;
the county's office and auditors see every town's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from common.events import Role
from common.organisation import demo_county_file
from tests.conftest import NatsTarget, wait_until
from tests.integration.test_ledger_tasks import finding, listed, opened
from tests.support.apps import token, write_people
from tests.support.ledger import LedgerService, ledger_settings, serving_ledger

pytestmark = pytest.mark.integration

# user -> (role, unit); the token is "token-<user>".
PEOPLE: dict[str, tuple[Role, str | None]] = {
    "county.office": (Role.OFFICE, "county"),
    "county.auditor": (Role.AUDITOR, "county"),
    "shd.office": (Role.OFFICE, "shd-office"),
    "shd.discipline": (Role.DISCIPLINE, "shd-discipline"),
    "wang.police": (Role.POLICE, "shd-police"),
    "zxl.office": (Role.OFFICE, "zxl-office"),
    "zxl.discipline": (Role.DISCIPLINE, "zxl-discipline"),
    "zhao.police": (Role.POLICE, "zxl-police"),
}


@pytest.fixture
async def county(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    users = write_people(tmp_path / "county-users.toml", PEOPLE)
    settings = ledger_settings(
        nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, org_file=demo_county_file()
    ).model_copy(update={"users_file": users})
    async with serving_ledger(streams, settings) as running:
        yield running


async def test_each_town_sees_its_own_items_and_the_county_sees_all(
    county: LedgerService,
) -> None:
    http = county.http
    shd = await opened(http, "shd.office")
    assert shd["town"] == "shd"
    zxl = await opened(
        http, "county.office", unit="zxl-police", assignee="zhao.police", problem="砂石盗采整治"
    )
    assert zxl["town"] == "zxl"

    # A town's office gives items to its own town's units only.
    across = await http.post(
        "/v1/ledger/tasks",
        json=finding(unit="zxl-police", assignee="zhao.police"),
        headers=token("shd.office"),
    )
    assert across.status_code == 422
    assert [d["field"] for d in across.json()["detail"]] == ["unit"]

    async def both_listed() -> bool:
        return len(await listed(http, "county.office")) == 2

    await wait_until(both_listed)
    for user, theirs in (
        ("county.office", {shd["task_id"], zxl["task_id"]}),
        ("county.auditor", {shd["task_id"], zxl["task_id"]}),
        ("shd.office", {shd["task_id"]}),
        ("shd.discipline", {shd["task_id"]}),
        ("wang.police", {shd["task_id"]}),
        ("zxl.office", {zxl["task_id"]}),
        ("zxl.discipline", {zxl["task_id"]}),
        ("zhao.police", {zxl["task_id"]}),
    ):
        assert {t["task_id"] for t in await listed(http, user)} == theirs, user
    # The other town's item does not exist for them, to read or to act on.
    for user, task_id in (("zxl.office", shd["task_id"]), ("shd.office", zxl["task_id"])):
        response = await http.get(f"/v1/ledger/tasks/{task_id}", headers=token(user))
        assert response.status_code == 404, user
        returned = await http.post(
            f"/v1/ledger/tasks/{task_id}/return", json={"reason": "不合格"}, headers=token(user)
        )
        assert returned.status_code == 404, user

    # Each export is named after the reader's town, or the county's for its own units.
    for user, named in (
        ("zxl.office", "tasks-zxl-"),
        ("zhao.police", "tasks-zxl-"),
        ("shd.office", "tasks-shd-"),
        ("county.auditor", "tasks-zhaoxian-"),
    ):
        exported = await http.get("/v1/ledger/tasks/export.xlsx", headers=token(user))
        assert exported.status_code == 200, user
        assert f'filename="{named}' in exported.headers["content-disposition"], user
