"""A county of two towns (the demo county: 沙河店镇, SHD, and a township, ZXL) served by one
ledger: each town's leads numbered in a gap-free sequence of their own, a town's people
seeing only their town's leads in every read, the county seeing both with each town's
counts, and the county taking a town's lead over (提级办理)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext

from common.events import Actor, Role
from common.events.catalogue import LeadRegistered, LeadReported, LeadTransferred, ReporterRef
from common.eventstore import EventStore
from common.organisation import demo_county_file
from common.subjects import Stream
from common.vocabulary import Category, Channel, Flag
from tests.conftest import NatsTarget, wait_until
from tests.support.apps import token, write_people
from tests.support.factories import new_lead_id
from tests.support.ledger import (
    LedgerService,
    act,
    filed,
    forbidden,
    hidden,
    ledger_settings,
    moved_to,
    refused,
    report,
    serving_ledger,
)
from tests.support.oversight import case_of, oversight_settings, serving_oversight

pytestmark = pytest.mark.integration

# user -> (role, unit); the token is "token-<user>". "office" is the county office: the
# tests' helpers wait for a lead to be filed as "office" sees it, and the county sees all.
COUNTY_STAFF: dict[str, tuple[Role, str | None]] = {
    "office": (Role.OFFICE, "county"),
    "county.auditor": (Role.AUDITOR, "county"),
    "shd.clerk": (Role.CLERK, "shd-office"),
    "shd.office": (Role.OFFICE, "shd-office"),
    "shd.auditor": (Role.AUDITOR, "shd-office"),
    "shd.police": (Role.POLICE, "shd-police"),
    "zxl.clerk": (Role.CLERK, "zxl-office"),
    "zxl.office": (Role.OFFICE, "zxl-office"),
    "zxl.screener": (Role.SCREENER, "zxl-v01"),
    # A clerk placed in no town and not in the county sees nothing.
    "nowhere.clerk": (Role.CLERK, None),
}
SHD_SUMMARY = "沙河店镇 村霸强占集体鱼塘"
ZXL_SUMMARY = "某乡 砂石盗采团伙威胁村民"


@pytest.fixture
async def county(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[LedgerService]:
    users = write_people(tmp_path / "county-users.toml", COUNTY_STAFF)
    settings = ledger_settings(
        nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, org_file=demo_county_file()
    ).model_copy(update={"users_file": users})
    async with serving_ledger(streams, settings) as running:
        yield running


async def reported_by(js: JetStreamContext, unit: str, **details: Any) -> str:
    """A lead entered by a person of ``unit`` (no village: the unit's town takes it)."""
    lead_id = new_lead_id()
    await EventStore(js, Stream.INTAKE, "intake").append(
        LeadReported(
            lead_id=lead_id,
            channel=Channel.HOTLINE,
            category=Category.PUBLIC_ORDER,
            summary=details.get("summary", ZXL_SUMMARY),
            reporter=ReporterRef(kind="anonymous"),
            actor=Actor(role=Role.CLERK, unit=unit, user="clerk"),
        )
    )
    return lead_id


async def two_towns(county: LedgerService) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Three leads of 沙河店镇 and four of the township, reported at once, interleaved, and
    filed: (SHD's, ZXL's), each in the order of their numbers."""
    js = county.js
    ids = await asyncio.gather(
        report(js, village="shd-v01", summary=SHD_SUMMARY),
        report(js, village="zxl-v01", summary=ZXL_SUMMARY),
        report(js, village="shd-v02", summary=SHD_SUMMARY),
        report(js, village="zxl-v03", summary=ZXL_SUMMARY),
        reported_by(js, "zxl-office"),
        report(js, village="shd-v03", summary=SHD_SUMMARY),
        report(
            js,
            village="zxl-v02",
            summary=ZXL_SUMMARY,
            category=Category.PROTECTIVE_UMBRELLA,
            flags=(Flag.PROTECTIVE_UMBRELLA,),
        ),
    )
    leads = [await filed(county.http, lead_id) for lead_id in ids]
    shd = sorted((lead for lead in leads if lead["ledger_number"].startswith("SHD-")), key=_n)
    zxl = sorted((lead for lead in leads if lead["ledger_number"].startswith("ZXL-")), key=_n)
    return shd, zxl


def _n(lead: dict[str, Any]) -> str:
    return str(lead["ledger_number"])


def numbers_of(leads: list[dict[str, Any]]) -> list[int]:
    return [int(str(lead["ledger_number"]).rsplit("-", 1)[1]) for lead in leads]


async def listed(county: LedgerService, user: str, **params: Any) -> dict[str, Any]:
    response = await county.http.get("/v1/ledger/leads", params=params, headers=token(user))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def stats(county: LedgerService, user: str, path: str = "/v1/ledger/stats") -> Any:
    response = await county.http.get(path, headers=token(user))
    assert response.status_code == 200, response.text
    return response.json()


async def test_each_towns_leads_are_numbered_gap_free_in_their_own_sequence(
    county: LedgerService,
) -> None:
    shd, zxl = await two_towns(county)
    year = str(shd[0]["ledger_number"]).split("-")[1]
    assert [lead["ledger_number"] for lead in shd] == [f"SHD-{year}-{n:06d}" for n in (1, 2, 3)]
    assert [lead["ledger_number"] for lead in zxl] == [f"ZXL-{year}-{n:06d}" for n in (1, 2, 3, 4)]

    # Each filed by its own town's office; the flagged one routed to its own town's
    # committee; the town recorded on the registration.
    ledger = EventStore(county.js, Stream.LEDGER, "ledger")
    for town, leads in (("shd", shd), ("zxl", zxl)):
        for lead in leads:
            history = await ledger.read_lead(lead["lead_id"])
            registered = history.events[0].event
            assert isinstance(registered, LeadRegistered)
            assert (registered.town, registered.unit) == (town, f"{town}-office")
            routed = [e.event for e in history.events if isinstance(e.event, LeadTransferred)]
            if registered.for_committee:
                assert [t.to_unit for t in routed] == ["zxl-discipline"]
    assert sum(lead["unit"] == "zxl-discipline" for lead in zxl) == 1

    # More of each town, later: each sequence goes on from its own last number.
    later = await asyncio.gather(
        report(county.js, village="zxl-v05"), report(county.js, village="shd-v17")
    )
    more = [await filed(county.http, lead_id) for lead_id in later]
    assert sorted(lead["ledger_number"] for lead in more) == [
        f"SHD-{year}-000004",
        f"ZXL-{year}-000005",
    ]


async def test_the_county_sees_both_towns_with_each_towns_counts(county: LedgerService) -> None:
    shd, zxl = await two_towns(county)
    everyone = {lead["ledger_number"] for lead in shd + zxl}
    for user in ("county.auditor", "office"):
        page = await listed(county, user)
        assert page["total"] == 7
        assert {item["ledger_number"] for item in page["items"]} == everyone
        found = await listed(county, user, q="砂石盗采")
        assert {item["ledger_number"] for item in found["items"]} == {
            lead["ledger_number"] for lead in zxl if lead["unit"] != "zxl-discipline"
        } | {lead["ledger_number"] for lead in zxl if lead["unit"] == "zxl-discipline"}
        response = await county.http.get(
            f"/v1/ledger/leads/{zxl[0]['ledger_number']}", headers=token(user)
        )
        assert response.status_code == 200, response.text

    export = await county.http.get("/v1/ledger/export.xlsx", headers=token("county.auditor"))
    assert export.status_code == 200, export.text
    assert "ledger-zhaoxian-" in export.headers["content-disposition"]

    counts = await stats(county, "county.auditor")
    assert counts["town"] == {"shd": 3, "zxl": 4}
    assert sum(counts["village"].values()) == 7  # rolled up: the county's whole ledger
    by_town = await stats(county, "county.auditor", "/v1/ledger/stats/towns")
    assert set(by_town) == {"shd", "zxl"}
    assert by_town["shd"]["village"] == {"shd-v01": 1, "shd-v02": 1, "shd-v03": 1}
    assert by_town["zxl"]["village"] == {"-": 1, "zxl-v01": 1, "zxl-v02": 1, "zxl-v03": 1}
    assert sum(by_town["zxl"]["category"].values()) == 4


async def test_a_towns_people_see_only_their_towns_leads(county: LedgerService) -> None:
    shd, zxl = await two_towns(county)
    for user, own, other in (
        ("shd.clerk", shd, zxl),
        ("shd.auditor", shd, zxl),
        ("zxl.clerk", zxl, shd),
        ("zxl.office", zxl, shd),
    ):
        prefix = str(own[0]["ledger_number"]).split("-")[0]
        page = await listed(county, user)
        assert page["total"] == len(own), user
        assert {item["ledger_number"] for item in page["items"]} == {
            lead["ledger_number"] for lead in own
        }
        # Another town's lead is no different from one that does not exist: by id, by
        # number, through a filter on its number, a search for its words, a command.
        for lead in other:
            hidden(
                await county.http.get(f"/v1/ledger/leads/{lead['lead_id']}", headers=token(user))
            )
            hidden(
                await county.http.get(
                    f"/v1/ledger/leads/{lead['ledger_number']}", headers=token(user)
                )
            )
            numbered = await listed(county, user, ledger_number=lead["ledger_number"])
            assert numbered["items"] == []
        other_words = ZXL_SUMMARY[:6] if prefix == "SHD" else SHD_SUMMARY[:6]
        assert (await listed(county, user, q=other_words))["items"] == []
        counts = await stats(county, user)
        assert sum(counts["village"].values()) == len(own)
        assert all(v == "-" or v.startswith(prefix.lower()) for v in counts["village"])
        assert "town" not in counts
        by_town = await stats(county, user, "/v1/ledger/stats/towns")
        assert list(by_town) == [prefix.lower()]
        export = await county.http.get("/v1/ledger/export.csv", headers=token(user))
        assert export.status_code == 200, export.text
        exported = export.content.decode("utf-8-sig")
        assert not [lead for lead in other if lead["ledger_number"] in exported]
        # Named after the town whose ledger it is.
        assert f"ledger-{prefix.lower()}-" in export.headers["content-disposition"]
        assert len(list(csv.reader(io.StringIO(exported)))) == len(own) + 1

    # A command on another town's lead: 404 before anything else is said.
    hidden(
        await act(
            county.http,
            zxl[0]["lead_id"],
            "transfer",
            "shd.office",
            to_unit="shd-police",
            reason="移交核查",
        )
    )
    # A lead stays in its town: not handed to another town's unit (whose people would then
    # see it), only to its own town's or the county's.
    refused(
        await act(
            county.http,
            shd[0]["lead_id"],
            "transfer",
            "shd.office",
            to_unit="zxl-police",
            reason="移交核查",
        ),
        "只能移交本乡镇单位或县级单位",
        "a unit of its own town",
    )
    # Police and screeners see what was handed to their unit or filed in their village.
    assert (await listed(county, "shd.police"))["items"] == []
    screened = await listed(county, "zxl.screener")
    assert [item["village"] for item in screened["items"]] == ["zxl-v01"]
    # Placed in no town and not in the county: nothing at all.
    assert (await listed(county, "nowhere.clerk"))["total"] == 0
    hidden(
        await county.http.get(
            f"/v1/ledger/leads/{shd[0]['lead_id']}", headers=token("nowhere.clerk")
        )
    )


async def test_the_county_office_takes_a_towns_lead_over(county: LedgerService) -> None:
    _, zxl = await two_towns(county)
    lead = next(lead for lead in zxl if lead["unit"] == "zxl-office")
    lead_id = lead["lead_id"]
    take_over = f"/v1/ledger/leads/{lead_id}/take-over"

    # Only the county's office: the town's office is refused, another town's does not
    # even find the lead, a reader may not command at all.
    forbidden(
        await county.http.post(
            take_over, json={"reason": "群众反映强烈"}, headers=token("zxl.office")
        ),
        "county office",
    )
    hidden(
        await county.http.post(
            take_over, json={"reason": "群众反映强烈"}, headers=token("shd.office")
        )
    )
    answer = await county.http.post(
        take_over, json={"reason": "群众反映强烈"}, headers=token("county.auditor")
    )
    assert answer.status_code == 403, answer.text
    # Bounded input, the field named.
    for body in ({"reason": "x"}, {"reason": "长" * 1001}, {}, {"reason": "理由", "extra": 1}):
        refusal = await county.http.post(take_over, json=body, headers=token("office"))
        assert refusal.status_code == 422, refusal.text
        assert "reason" in refusal.text or "extra" in refusal.text

    done = moved_to(
        await county.http.post(
            take_over, json={"reason": "群众反映强烈，提级办理"}, headers=token("office")
        ),
        "accepted",
    )
    assert done["ledger_number"] == lead["ledger_number"]
    history = await EventStore(county.js, Stream.LEDGER, "ledger").read_lead(lead_id)
    [handed] = [e.event for e in history.events if isinstance(e.event, LeadTransferred)]
    assert (handed.from_unit, handed.to_unit, handed.taken_over) == ("zxl-office", "county", True)

    # The county holds it; the town still reads it, but can no longer act on it.
    async def with_county() -> bool:
        response = await county.http.get(f"/v1/ledger/leads/{lead_id}", headers=token("zxl.clerk"))
        return response.status_code == 200 and response.json()["unit"] == "county"

    await wait_until(with_county)
    forbidden(
        await act(
            county.http, lead_id, "transfer", "zxl.office", to_unit="zxl-police", reason="移交核查"
        ),
        "county",
    )
    hidden(await county.http.get(f"/v1/ledger/leads/{lead_id}", headers=token("shd.clerk")))
    # Taken over once: a second time is a rule a clerk understands.
    refused(
        await county.http.post(take_over, json={"reason": "再次提级"}, headers=token("office")),
        "县级办理",
        "county already holds",
    )
    # The county acts on it as its holder.
    moved_to(
        await act(
            county.http,
            lead_id,
            "transfer",
            "office",
            to_unit="zxl-police",
            reason="指定派出所核查",
        ),
        "transferred",
    )


async def test_the_committee_of_each_town_takes_the_leads_its_town_hands_it(
    county: LedgerService, nats_target: NatsTarget, tmp_path: Path
) -> None:
    """Oversight in the county: a lead the township's office hands to the township's
    committee opens a case, as one handed to 沙河店镇's does."""
    settings = oversight_settings(
        nats_target, f"sqlite:///{tmp_path / 'oversight.db'}", tmp_path, org_file=demo_county_file()
    )
    async with serving_oversight(settings) as oversight:
        _, zxl = await two_towns(county)
        lead = next(lead for lead in zxl if lead["unit"] == "zxl-office")
        moved_to(
            await act(
                county.http,
                lead["lead_id"],
                "transfer",
                "zxl.office",
                to_unit="zxl-discipline",
                reason="涉及公职人员",
            ),
            "transferred",
        )
        # Read by the county's auditor: 沙河店镇's committee does not see the township's cases.
        case = await case_of(oversight.http, lead["lead_id"], "auditor")
        assert "zxl-office" in case["basis"]

        # The assessment per town: each town's units' turns taken together.
        async def assessed() -> dict[str, int]:
            answer = await oversight.http.get(
                "/v1/oversight/assessments/towns", headers=token("auditor")
            )
            assert answer.status_code == 200, answer.text
            return {row["unit"]: row["leads"] for row in answer.json()}

        async def both_towns() -> bool:
            return set(await assessed()) >= {"shd", "zxl"}

        await wait_until(both_towns)
        by_unit = await oversight.http.get("/v1/oversight/assessments", headers=token("auditor"))
        units = {row["unit"] for row in by_unit.json()}
        assert {"zxl-office", "shd-office"} <= units
        assert not {"shd", "zxl"} & units
        refused_reader = await oversight.http.get(
            "/v1/oversight/assessments/towns", headers=token("police")
        )
        assert refused_reader.status_code == 403, refused_reader.text
