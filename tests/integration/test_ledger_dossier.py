"""The dossier (专题材料) of a period: a period with a lead, a rectification item with evidence,
a self-inspection and an issued notice exports one ZIP whose manifest lists them with each
entry's size and SHA-256, signed with the ledger's key; `leadctl verify --dossier` passes,
then fails naming the entry after one changed byte, one removed entry, one added entry (a
climbing name among them), and with a wrong key or a changed manifest. A town's office gets
its town alone, the county's office every town; roles without the right are refused, a bad
period is refused naming the parameter."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext
from openpyxl import load_workbook

from common.events import utc_now
from common.events.catalogue import LedgerExported
from common.subjects import Stream
from common.times import CHINA
from leadctl.auditing import write_keys
from tests.conftest import NatsTarget, wait_until
from tests.integration.test_ledger_campaigns import self_check_answered
from tests.integration.test_ledger_tasks import done, opened
from tests.integration.test_ledger_tasks_county import county  # noqa: F401
from tests.support.apps import token
from tests.support.leadctl import leadctl_beside
from tests.support.ledger import (
    LedgerService,
    ledger_settings,
    report,
    report_and_file,
    serving_ledger,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

DOSSIER = "/v1/ledger/dossier"
SHA = "cd" * 32


def around_today() -> dict[str, str]:
    today = utc_now().astimezone(CHINA).date()
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "dossier.pem", tmp_path / "dossier.pub.pem"
    write_keys(private, public)
    return private, public


@pytest.fixture
async def signing(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path, keys: tuple[Path, Path]
) -> AsyncIterator[LedgerService]:
    """The ledger with a key to sign dossiers' manifests."""
    settings = ledger_settings(
        nats_target, f"sqlite:///{tmp_path / 'ledger.db'}", tmp_path, dossier_key=keys[0]
    )
    async with serving_ledger(streams, settings) as running:
        yield running


async def exported(http: httpx.AsyncClient, user: str, **period: str) -> httpx.Response:
    return await http.get(DOSSIER, params=period or around_today(), headers=token(user))


def manifest_of(data: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        found: dict[str, Any] = json.loads(bundle.read("manifest.json"))
        return found


def rewritten(source: Path, target: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    """A copy of the ZIP with its entries changed as ``change`` changes them (by name)."""
    with zipfile.ZipFile(source) as bundle:
        entries = {info.filename: bundle.read(info) for info in bundle.infolist()}
    change(entries)
    with zipfile.ZipFile(target, "w") as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
    return target


async def verified(path: Path, *keys: Path) -> tuple[int, str, dict[str, Any]]:
    given = [a for k in keys for a in ("--public-key", k)]
    result = await leadctl_beside("verify", "--dossier", path, *given, "--json")
    text = await leadctl_beside("verify", "--dossier", path, *given)
    return result.exit_code, text.stdout, json.loads(result.stdout.strip().splitlines()[-1])


async def test_a_periods_dossier_lists_its_material_and_verifies_until_it_is_changed(
    signing: LedgerService, tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    http, js = signing.http, signing.js
    lead = await report_and_file(signing)
    item = await opened(http, "office")
    await done(
        http,
        item["task_id"],
        "progress",
        "wang.police",
        progress="已逐条复核十二条线索",
        evidence=[{"name": "复核记录.pdf", "size": 4096, "sha256": SHA}],
    )
    campaign_id = await self_check_answered(http)
    drafted = await http.post(
        "/v1/ledger/notices",
        json={"kind": "criticism", "unit": "shd-police", **around_today()},
        headers=token("clerk"),
    )
    assert drafted.status_code == 201, drafted.text
    notice_id = drafted.json()["notice_id"]
    issued = await http.post(
        f"/v1/ledger/notices/{notice_id}/issue", json={}, headers=token("office")
    )
    assert issued.status_code == 200, issued.text

    async def all_in() -> bool:
        counts = manifest_of((await exported(http, "office")).content)["counts"]
        return counts == {
            "leads": 1,
            "rectification_items": 1,
            "campaigns": 1,
            "notices": 1,
            # the progress report's file, and the police's on each of its three answers
            "work_traces": 4,
            "work_trace_files": 0,
        }

    await wait_until(all_in, timeout=15)
    response = await exported(http, "auditor")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    manifest = manifest_of(response.content)
    assert manifest["period"] == {**around_today(), "zone": "Asia/Shanghai"}
    assert manifest["generated"]["at"].endswith("+08:00")
    assert manifest["generated"]["by"]["user"] == "auditor"
    assert [t["code"] for t in manifest["towns"]] == ["shd"]
    assert manifest["files"] == "references only"
    assert manifest["signed"] is True
    paths = [e["path"] for e in manifest["entries"]]
    assert paths == [
        "线索台账.xlsx",
        "整改台账.xlsx",
        f"专项工作/自查自纠-{campaign_id}.xlsx",
        f"通报/{notice_id}.txt",
        "统计.html",
        "工作痕迹/index.csv",
    ]
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        ledger_sheet = load_workbook(io.BytesIO(bundle.read("线索台账.xlsx"))).active
        assert ledger_sheet is not None
        assert ledger_sheet["A2"].value == lead["ledger_number"]
        task_sheet = load_workbook(io.BytesIO(bundle.read("整改台账.xlsx"))).active
        assert task_sheet is not None
        assert task_sheet["D2"].value == item["problem"]
        assert "被通报单位：沙河店派出所" in bundle.read(f"通报/{notice_id}.txt").decode()
        page = bundle.read("统计.html").decode()
        traces = bundle.read("工作痕迹/index.csv").decode("utf-8-sig")
    # The statistics open anywhere: inline SVG, nothing fetched, nothing run.
    assert "<svg" in page
    assert "各村线索数" in page
    for outside in ("<script", "src=", "href=", "url(", "<link", "@import"):
        assert outside not in page, outside
    assert "复核记录.pdf" in traces
    assert SHA in traces
    assert "台账.xlsx" in traces
    exports = await events_on(js, Stream.AUDIT, "audit.ledger.>")
    assert any(
        isinstance(e, LedgerExported)
        and e.format == "zip"
        and e.filters == {"ledger": "dossier", **around_today()}
        and e.actor.user == "auditor"
        for e in exports
    )

    saved = tmp_path / "dossier.zip"
    saved.write_bytes(response.content)
    code, text, found = await verified(saved, keys[1])
    assert (code, found["ok"], found["signature"]) == (0, True, "valid"), text
    assert code == 0
    assert "ok:" in text

    def one_byte(entries: dict[str, bytes]) -> None:
        data = bytearray(entries[f"通报/{notice_id}.txt"])
        data[0] ^= 1
        entries[f"通报/{notice_id}.txt"] = bytes(data)

    def removed(entries: dict[str, bytes]) -> None:
        del entries["统计.html"]

    def added(entries: dict[str, bytes]) -> None:
        entries["补充说明.txt"] = b"added later"
        entries["../../etc/cron.d/x"] = b"climbing"

    for change, expected in (
        (one_byte, {("changed", f"通报/{notice_id}.txt")}),
        (removed, {("missing", "统计.html")}),
        (
            added,
            {
                ("added", "补充说明.txt"),
                ("added", "../../etc/cron.d/x"),
                ("unsafe name", "../../etc/cron.d/x"),
            },
        ),
    ):
        copy = rewritten(saved, tmp_path / f"{change.__name__}.zip", change)
        code, text, found = await verified(copy, keys[1])
        assert code == 1, text
        named = {(p["kind"], p["detail"].split(":")[0]) for p in found["problems"]}
        assert named == expected, found
        assert all(detail in text for _, detail in expected), text

    # A manifest changed to match a changed entry: the hashes agree, the signature does not.
    def covered(entries: dict[str, bytes]) -> None:
        one_byte(entries)
        manifest = json.loads(entries["manifest.json"])
        data = entries[f"通报/{notice_id}.txt"]
        for entry in manifest["entries"]:
            if entry["path"] == f"通报/{notice_id}.txt":
                entry["sha256"] = __import__("hashlib").sha256(data).hexdigest()
        entries["manifest.json"] = json.dumps(manifest).encode()

    covered_copy = rewritten(saved, tmp_path / "covered.zip", covered)
    code, text, found = await verified(covered_copy, keys[1])
    assert code == 1
    assert found["problems"] == [{"kind": "signature", "detail": "bad_signature"}]
    # Another key than the ledger's: the signature is not vouched for.
    other_private, other_public = tmp_path / "other.pem", tmp_path / "other.pub.pem"
    write_keys(other_private, other_public)
    code, text, found = await verified(saved, other_public)
    assert code == 1
    assert found["problems"] == [{"kind": "signature", "detail": "unknown_key"}]
    # Not a ZIP at all.
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really")
    code, text, found = await verified(junk)
    assert code == 1
    assert found["problems"][0]["kind"] == "unreadable"


async def test_without_a_key_the_dossier_says_it_is_unsigned_and_a_key_given_fails_it(
    service: LedgerService, tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    response = await exported(service.http, "office")
    assert response.status_code == 200, response.text
    manifest = manifest_of(response.content)
    assert manifest["signed"] is False
    assert "signature" not in manifest
    assert manifest["counts"]["leads"] == 0
    saved = tmp_path / "unsigned.zip"
    saved.write_bytes(response.content)
    code, text, found = await verified(saved)
    assert (code, found["signature"]) == (0, "unsigned"), text
    code, text, found = await verified(saved, keys[1])
    assert code == 1
    assert found["problems"] == [{"kind": "signature", "detail": "unsigned"}]


async def test_roles_without_the_right_are_refused_and_a_bad_period_names_the_parameter(
    service: LedgerService,
) -> None:
    http = service.http
    for user in ("office", "clerk", "auditor"):
        assert (await exported(http, user)).status_code == 200, user
    for user in ("police", "discipline", "screener.v01", "judicial", "custodian"):
        assert (await exported(http, user)).status_code == 403, user
    assert (await http.get(DOSSIER, params=around_today())).status_code == 401
    today = utc_now().astimezone(CHINA).date()
    for period, field in (
        ({"to": str(today)}, "from"),
        ({"from": str(today)}, "to"),
        ({"from": "2026-13-01", "to": str(today)}, "from"),
        ({"from": str(today), "to": str(today - timedelta(days=1))}, "to"),
        ({"from": str(today - timedelta(days=366)), "to": str(today)}, "to"),
    ):
        refused = await http.get(DOSSIER, params=period, headers=token("office"))
        assert refused.status_code == 422, (period, refused.text)
        assert field in [p["field"] for p in refused.json()["detail"]], refused.text
    # A year with its leap day is a period.
    year = await exported(
        http, "office", **{"from": str(today - timedelta(days=365)), "to": str(today)}
    )
    assert year.status_code == 200, year.text


async def test_a_towns_office_gets_its_town_and_the_county_every_town(
    county: LedgerService,  # noqa: F811 - the fixture imported above
) -> None:
    http, js = county.http, county.js
    await report(js, village="shd-v01", summary="沙河店镇一村村霸")
    await report(js, village="zxl-v01", summary="另一乡的村霸")
    shd_item = await opened(http, "shd.office")
    zxl_item = await opened(
        http, "county.office", unit="zxl-police", assignee="zhao.police", problem="砂石盗采整治"
    )

    async def both_in() -> bool:
        counts = manifest_of((await exported(http, "county.office")).content)["counts"]
        return (counts["leads"], counts["rectification_items"]) == (2, 2)

    await wait_until(both_in, timeout=15)
    for user, towns, prefix, item in (
        ("shd.office", ["shd"], "SHD-", shd_item),
        ("zxl.office", ["zxl"], "ZXL-", zxl_item),
    ):
        response = await exported(http, user)
        assert response.status_code == 200, response.text
        manifest = manifest_of(response.content)
        assert [t["code"] for t in manifest["towns"]] == towns
        assert manifest["counts"]["leads"] == 1
        assert manifest["counts"]["rectification_items"] == 1
        with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
            leads = load_workbook(io.BytesIO(bundle.read("线索台账.xlsx"))).active
            tasks = load_workbook(io.BytesIO(bundle.read("整改台账.xlsx"))).active
        assert leads is not None
        assert tasks is not None
        assert next(r[0] for r in leads.iter_rows(min_row=2, values_only=True)).startswith(prefix)
        assert tasks["D2"].value == item["problem"]
    whole = manifest_of((await exported(http, "county.office")).content)
    assert [t["code"] for t in whole["towns"]] == ["shd", "zxl"]
    # The committee keeps no ledger: its dossier is not its to take.
    assert (await exported(http, "shd.discipline")).status_code == 403
