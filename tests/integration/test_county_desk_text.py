"""What the ledger tells people of the towns in a county of two towns (the demo county:
沙河店镇, SHD, and a township, ZXL): the vocabulary lists every town with its ledger prefix
and its own villages (the first town's field kept for the clients that read it), and the
desk's ledger-number hint gives the reader's own town's prefix, or every town's to the
county's office."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext

from common.events import Role
from common.organisation import UnitKind, demo_county_file, load_organisation
from common.vocabulary_api import PATH
from ledger.bootstrap import create_app
from tests.conftest import NatsTarget
from tests.support.accounts import open_account
from tests.support.apps import serving
from tests.support.ledger import LedgerService, desk_settings, signed_in_on_page

pytestmark = pytest.mark.integration

PASSWORD = "两个乡镇的一个好密码"


@pytest.fixture
async def county(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    settings = desk_settings(
        nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, org_file=demo_county_file()
    )
    app = create_app(settings)
    async with serving(app) as http:
        yield LedgerService(app, http, streams, settings)


async def test_the_vocabulary_lists_every_town_with_its_prefix_and_villages(
    county: LedgerService,
) -> None:
    answer = await county.http.get(PATH)
    assert answer.status_code == 200, answer.text
    vocabulary = answer.json()
    org = load_organisation(demo_county_file())
    first = org.town
    assert vocabulary["town"] == {
        "code": first.code,
        "label": first.name,
        "label_en": first.name_en,
    }
    towns = vocabulary["towns"]
    assert [(t["code"], t["ledger_prefix"]) for t in towns] == [("shd", "SHD"), ("zxl", "ZXL")]
    for town, given in zip(org.towns, towns, strict=True):
        assert (given["label"], given["label_en"]) == (town.name, town.name_en)
        villages = [v["code"] for v in given["villages"]]
        assert villages == [u.code for u in town.of_kind(UnitKind.VILLAGE)]
        assert villages, town.code
    # Each village stands under its own town alone, and every village under one.
    grouped = [v["code"] for t in towns for v in t["villages"]]
    assert sorted(grouped) == sorted(v["code"] for v in vocabulary["villages"])
    assert len(set(grouped)) == len(grouped)


async def desk_hint(county: LedgerService, user: str, role: Role, unit: str | None) -> str:
    await open_account(county.js, user, role, unit, PASSWORD)
    transport = httpx.ASGITransport(app=county.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        await signed_in_on_page(http, user, PASSWORD)
        page = await http.get("/desk")
    assert page.status_code == 200, page.text
    start = page.text.index('id="ledger_number"')
    field = page.text[start : page.text.index(">", start)]
    return field.split('placeholder="', 1)[1].split('"', 1)[0]


async def test_the_desk_hints_the_readers_own_towns_ledger_numbers(
    county: LedgerService,
) -> None:
    assert await desk_hint(county, "zxl.clerk", Role.CLERK, "zxl-office") == "ZXL-YYYY-NNNNNN"
    assert await desk_hint(county, "shd.police", Role.POLICE, "shd-police") == "SHD-YYYY-NNNNNN"
    assert (
        await desk_hint(county, "county.office", Role.OFFICE, "county")
        == "SHD-YYYY-NNNNNN / ZXL-YYYY-NNNNNN"
    )
