"""Staff files (工作开展痕迹) in the ledger: a photo with its location on a lead (stripped when
asked, the flags saying so), a 20 MB record on a rectification item sent in pieces, both
ciphertext in the ledger's bucket, listed and read back as sent by whoever may read the
owner, each read recorded on AUDIT. Whoever may not see the lead or the item (another
unit's police, another town's office and clerk) gets the 404 of one that does not exist,
for the list, an upload and a download alike; too large, a program, one too many and a
bad title are refused naming the limit or the field."""

from __future__ import annotations

import io
import os
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext
from PIL import Image

import common.evidence
from common.events import Role
from common.events.catalogue import LeadViewed
from common.events.files import LeadFileAttached, TaskFileAttached, TaskFileRead
from common.evidence import EvidenceStore, evidence_bucket
from common.organisation import demo_county_file
from common.subjects import Service, Stream
from tests.conftest import NatsTarget, wait_until
from tests.integration.test_ledger_dossier import exported, manifest_of, rewritten, verified
from tests.integration.test_ledger_tasks import opened
from tests.support.apps import token, write_people
from tests.support.ledger import (
    LedgerService,
    ledger_settings,
    report,
    report_and_file,
    serving_ledger,
)
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

BUCKET = evidence_bucket(Service.LEDGER)
RECORD_BYTES = 20 * 1024 * 1024
PDF_HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


def photo_with_location() -> bytes:
    image = Image.new("RGB", (64, 48), (30, 120, 30))
    exif = Image.Exif()
    exif[0x013B] = "Li Si"  # Artist
    exif[0x8825] = {1: "N", 2: (32.0, 45.0, 10.0), 3: "E", 4: (113.0, 20.0, 5.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def gps_of(data: bytes) -> dict[int, object]:
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(0x8825))


def files_of(kind: str, owner_id: str) -> str:
    return f"/v1/ledger/{kind}/{owner_id}/files"


async def upload(
    http: httpx.AsyncClient,
    kind: str,
    owner_id: str,
    user: str,
    content: object,
    title: str = "入户走访照片",
    strip: bool = False,
) -> httpx.Response:
    # The Content-Type is a lie on purpose: the type is judged from the bytes.
    return await http.post(
        files_of(kind, owner_id),
        params={"title": title, "strip_metadata": "true" if strip else "false"},
        content=content,  # type: ignore[arg-type]
        headers={**token(user), "Content-Type": "image/jpeg"},
    )


async def raw_object(js: JetStreamContext, file_id: str) -> bytes:
    return b"".join([chunk async for chunk in EvidenceStore(js, BUCKET).raw(file_id)])


async def test_a_photo_on_a_lead_is_stripped_when_asked_stored_sealed_and_read_recorded(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    lead_id = (await report_and_file(service))["lead_id"]
    photo = photo_with_location()
    assert gps_of(photo)

    stripped = await upload(http, "leads", lead_id, "clerk", photo, strip=True)
    assert stripped.status_code == 201, stripped.text
    assert stripped.json()["media_type"] == "image/jpeg"
    assert (stripped.json()["metadata_found"], stripped.json()["metadata_stripped"]) == (True, True)
    kept = await upload(http, "leads", lead_id, "office", photo, title="谈话现场照片")
    assert kept.status_code == 201, kept.text
    assert (kept.json()["metadata_found"], kept.json()["metadata_stripped"]) == (True, False)
    assert kept.json()["size"] == len(photo)

    recorded = [
        e
        for e in await events_on(js, Stream.LEDGER, f"ledger.lead.{lead_id}.LeadFileAttached")
        if isinstance(e, LeadFileAttached)
    ]
    assert [(e.file_id, e.title, e.actor.user) for e in recorded] == [
        (stripped.json()["file_id"], "入户走访照片", "clerk"),
        (kept.json()["file_id"], "谈话现场照片", "office"),
    ]
    assert all(lead_id not in e.file_id for e in recorded)

    listed = await http.get(files_of("leads", lead_id), headers=token("auditor"))
    assert listed.status_code == 200, listed.text
    assert [f["title"] for f in listed.json()["files"]] == ["入户走访照片", "谈话现场照片"]
    assert listed.json()["files"][0]["metadata_stripped"] is True

    # The bucket holds ciphertext: neither the author's name nor a stretch of the photo.
    raw = await raw_object(js, kept.json()["file_id"])
    assert b"Li Si" not in raw
    assert photo[200:264] not in raw

    clean = await http.get(
        f"{files_of('leads', lead_id)}/{stripped.json()['file_id']}", headers=token("office")
    )
    assert clean.status_code == 200, clean.text
    assert gps_of(clean.content) == {}
    assert b"Li Si" not in clean.content
    original = await http.get(
        f"{files_of('leads', lead_id)}/{kept.json()['file_id']}", headers=token("auditor")
    )
    assert original.status_code == 200, original.text
    assert original.content == photo
    assert original.headers["content-type"] == "image/jpeg"
    views = [
        v
        for v in await events_on(js, Stream.AUDIT, f"audit.ledger.lead.{lead_id}.LeadViewed")
        if isinstance(v, LeadViewed) and "staff file" in v.purpose
    ]
    assert [(v.actor.user, v.purpose) for v in views] == [
        ("office", f"staff file {stripped.json()['file_id']}"),
        ("auditor", f"staff file {kept.json()['file_id']}"),
    ]

    # The lead is held by the office: another unit's police and the judicial office do not
    # see it, and are answered as for a lead that does not exist, whatever they ask.
    file_id = kept.json()["file_id"]
    for outsider in ("police", "judicial"):
        for answer in (
            await http.get(files_of("leads", lead_id), headers=token(outsider)),
            await http.get(f"{files_of('leads', lead_id)}/{file_id}", headers=token(outsider)),
            await upload(http, "leads", lead_id, outsider, photo),
        ):
            assert answer.status_code == 404, (outsider, answer.text)
            assert (
                answer.json()
                == (
                    await http.get(files_of("leads", "no-such-lead"), headers=token(outsider))
                ).json()
            )
    unknown = await http.get(
        f"{files_of('leads', lead_id)}/{uuid.uuid4().hex}", headers=token("office")
    )
    assert unknown.status_code == 404
    assert (await http.get(files_of("leads", lead_id))).status_code == 401
    # Refused reads are not reads: the two downloads alone are recorded.
    views_now = await events_on(js, Stream.AUDIT, f"audit.ledger.lead.{lead_id}.LeadViewed")
    assert len([v for v in views_now if "staff file" in getattr(v, "purpose", "")]) == 2


async def test_a_20_mb_record_on_an_item_is_streamed_sealed_and_read_back_by_its_readers(
    service: LedgerService,
) -> None:
    http, js = service.http, service.js
    item = await opened(http, "office")
    task_id = item["task_id"]
    record = PDF_HEADER + os.urandom(RECORD_BYTES - len(PDF_HEADER))

    async def streamed() -> AsyncIterator[bytes]:
        # In pieces, with no Content-Length: the ledger never holds it whole.
        for start in range(0, len(record), 1024 * 1024):
            yield record[start : start + 1024 * 1024]

    sent = await upload(http, "tasks", task_id, "wang.police", streamed(), title="整改会议记录")
    assert sent.status_code == 201, sent.text
    answer = sent.json()
    assert (answer["media_type"], answer["size"]) == ("application/pdf", RECORD_BYTES)
    assert answer["uploaded_by"] == "wang.police"
    file_id = answer["file_id"]
    recorded = await events_on(js, Stream.LEDGER, f"ledger.task.{task_id}.TaskFileAttached")
    assert [type(e) for e in recorded] == [TaskFileAttached]

    raw = await raw_object(js, file_id)
    assert len(raw) > RECORD_BYTES
    assert PDF_HEADER not in raw
    assert record[5_000_000:5_000_064] not in raw

    for reader in ("office", "auditor", "wang.police"):
        listed = await http.get(files_of("tasks", task_id), headers=token(reader))
        assert listed.status_code == 200, listed.text
        assert [f["file_id"] for f in listed.json()["files"]] == [file_id]
    got = await http.get(f"{files_of('tasks', task_id)}/{file_id}", headers=token("auditor"))
    assert got.status_code == 200, got.text
    assert got.content == record
    reads = await events_on(js, Stream.AUDIT, f"audit.ledger.task.{task_id}.TaskFileRead")
    assert [(r.actor.user, r.file_id) for r in reads if isinstance(r, TaskFileRead)] == [
        ("auditor", file_id)
    ]

    # Another unit's people see only their own unit's items: not this one.
    for answer in (
        await http.get(files_of("tasks", task_id), headers=token("judicial")),
        await http.get(f"{files_of('tasks', task_id)}/{file_id}", headers=token("judicial")),
        await upload(http, "tasks", task_id, "judicial", PDF_HEADER),
    ):
        assert answer.status_code == 404, answer.text
    # The auditor sees the item but adds nothing to it.
    refused = await upload(http, "tasks", task_id, "auditor", PDF_HEADER)
    assert refused.status_code == 403, refused.text


async def test_too_large_programs_one_too_many_and_bad_titles_are_refused_naming_the_limit(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    settings = ledger_settings(
        nats_target,
        f"sqlite:///{tmp_path / 'ledger.db'}",
        tmp_path,
        files_max_bytes=1024 * 1024,
        files_max_per_owner=1,
    )
    async with serving_ledger(streams, settings) as running:
        http = running.http
        lead_id = (await report_and_file(running))["lead_id"]

        async def too_long() -> AsyncIterator[bytes]:
            yield PDF_HEADER
            for _ in range(3):
                yield os.urandom(512 * 1024)

        # Sent in pieces with no length, and with its length declared: refused either way,
        # naming the file's limit.
        for body in (too_long(), PDF_HEADER + os.urandom(1024 * 1024)):
            too_large = await upload(http, "leads", lead_id, "office", body)
            assert too_large.status_code == 413, too_large.text
            problem = too_large.json()["detail"][0]
            assert problem["limit_bytes"] == 1024 * 1024
            assert "1,048,576 bytes" in problem["message_en"]

        for program in (b"MZ\x90\x00" + os.urandom(4096), b"\x7fELF\x02\x01\x01" + bytes(4096)):
            refused = await upload(http, "leads", lead_id, "office", program)
            assert refused.status_code == 415, refused.text
            assert refused.json()["detail"][0]["field"] == "file"
            assert "PDF" in refused.json()["detail"][0]["message_en"]

        for title in ("", "x" * 101, "两行\n标题"):
            bad = await upload(http, "leads", lead_id, "office", PDF_HEADER, title=title)
            assert bad.status_code == 422, (title, bad.text)
            assert "title" in str(bad.json()["detail"]), bad.text

        first = await upload(http, "leads", lead_id, "office", PDF_HEADER)
        assert first.status_code == 201, first.text
        second = await upload(http, "leads", lead_id, "office", PDF_HEADER)
        assert second.status_code == 422, second.text
        assert second.json()["detail"][0]["field"] == "file"
        assert "1" in second.json()["detail"][0]["message"]
        listed = await http.get(files_of("leads", lead_id), headers=token("office"))
        assert len(listed.json()["files"]) == 1


async def test_no_room_on_the_spools_disk_is_a_503_to_send_again_and_stores_nothing(
    service: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead_id = (await report_and_file(service))["lead_id"]
    # The spool asks more free space of its disk than any disk has.
    monkeypatch.setattr(common.evidence, "SPOOL_FLOOR_BYTES", 2**62)
    full = await upload(service.http, "leads", lead_id, "office", PDF_HEADER)
    assert full.status_code == 503, full.text
    assert full.headers["retry-after"] == "30"
    assert full.json()["detail"][0]["field"] == "file"
    listed = await service.http.get(files_of("leads", lead_id), headers=token("office"))
    assert listed.json()["files"] == []


PEOPLE: dict[str, tuple[Role, str | None]] = {
    "shd.office": (Role.OFFICE, "shd-office"),
    "shd.clerk": (Role.CLERK, "shd-office"),
    "zxl.office": (Role.OFFICE, "zxl-office"),
    "zxl.clerk": (Role.CLERK, "zxl-office"),
    "zhao.police": (Role.POLICE, "zxl-police"),
    "county.office": (Role.OFFICE, "county"),
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


async def test_another_towns_office_and_clerk_find_no_such_lead_for_its_files(
    county: LedgerService,
) -> None:
    http = county.http
    lead_id = await report(county.js, village="shd-v01", summary="沙河店镇一村村霸")
    await filed_for(http, lead_id, "shd.office")
    response = await upload(http, "leads", lead_id, "shd.clerk", PDF_HEADER)
    assert response.status_code == 201, response.text
    file_id = response.json()["file_id"]
    for outsider in ("zxl.office", "zxl.clerk", "zhao.police"):
        for answer in (
            await http.get(files_of("leads", lead_id), headers=token(outsider)),
            await http.get(f"{files_of('leads', lead_id)}/{file_id}", headers=token(outsider)),
            await upload(http, "leads", lead_id, outsider, PDF_HEADER),
        ):
            assert answer.status_code == 404, (outsider, answer.text)
    county_view = await http.get(files_of("leads", lead_id), headers=token("county.office"))
    assert county_view.status_code == 200, county_view.text
    assert [f["file_id"] for f in county_view.json()["files"]] == [file_id]
    # Nor is it in the other town's dossier; the county's encloses it.
    for user, enclosed in (("zxl.office", 0), ("county.office", 1), ("shd.clerk", 1)):
        dossier = await exported(http, user)
        assert dossier.status_code == 200, dossier.text
        assert manifest_of(dossier.content)["counts"]["work_trace_files"] == enclosed, user


async def filed_for(http: httpx.AsyncClient, lead_id: str, user: str) -> None:
    """Once the registrar filed the lead and ``user`` sees it."""

    async def seen() -> bool:
        answer = await http.get(f"/v1/ledger/leads/{lead_id}", headers=token(user))
        return answer.status_code == 200

    await wait_until(seen, timeout=15)


# --- the dossier ---------------------------------------------------------------------------


async def test_the_periods_staff_files_are_enclosed_in_the_dossier_recorded_and_verified(
    service: LedgerService, tmp_path: Path
) -> None:
    http, js = service.http, service.js
    lead = await report_and_file(service)
    item = await opened(http, "office")
    task_id = item["task_id"]
    record = PDF_HEADER + os.urandom(300 * 1024)
    photo = photo_with_location()
    on_task = await upload(http, "tasks", task_id, "wang.police", record, title="=整改会议记录")
    assert on_task.status_code == 201, on_task.text
    on_lead = await upload(http, "leads", lead["lead_id"], "clerk", photo, strip=True)
    assert on_lead.status_code == 201, on_lead.text
    task_file, lead_file = on_task.json()["file_id"], on_lead.json()["file_id"]
    task_path = f"工作痕迹/整改/{task_id}/{task_file}.pdf"
    lead_path = f"工作痕迹/线索/{lead['ledger_number']}/{lead_file}.jpg"

    async def item_listed() -> bool:
        counts = manifest_of((await exported(http, "office")).content)["counts"]
        return bool(counts["rectification_items"] == 1)

    await wait_until(item_listed, timeout=15)
    response = await exported(http, "auditor")
    assert response.status_code == 200, response.text
    manifest = manifest_of(response.content)
    assert manifest["files"] == "enclosed"
    assert manifest["counts"]["work_trace_files"] == 2
    entries = {e["path"]: e for e in manifest["entries"]}
    assert entries[task_path]["size"] == len(record)
    assert entries[lead_path]["sha256"] == on_lead.json()["sha256"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        assert bundle.read(task_path) == record
        assert gps_of(bundle.read(lead_path)) == {}
        index = bundle.read("工作痕迹/index.csv").decode("utf-8-sig")
    assert task_path in index
    assert lead["ledger_number"] in index
    assert "'=整改会议记录" in index  # a title is text, never a formula, in a spreadsheet
    assert "wang.police" in index

    # Each file read for the dossier is recorded, as its download would be.
    task_reads = await events_on(js, Stream.AUDIT, f"audit.ledger.task.{task_id}.TaskFileRead")
    assert {(r.actor.user, r.purpose) for r in task_reads if isinstance(r, TaskFileRead)} >= {
        ("auditor", "dossier")
    }
    lead_reads = await events_on(
        js, Stream.AUDIT, f"audit.ledger.lead.{lead['lead_id']}.LeadViewed"
    )
    assert any(
        isinstance(v, LeadViewed)
        and v.actor.user == "auditor"
        and v.purpose == f"dossier: staff file {lead_file}"
        for v in lead_reads
    )

    saved = tmp_path / "dossier.zip"
    saved.write_bytes(response.content)
    code, text, found = await verified(saved)
    assert (code, found["ok"]) == (0, True), text

    def one_byte(entries: dict[str, bytes]) -> None:
        data = bytearray(entries[task_path])
        data[len(data) // 2] ^= 1
        entries[task_path] = bytes(data)

    changed = rewritten(saved, tmp_path / "changed.zip", one_byte)
    code, text, found = await verified(changed)
    assert code == 1, text
    assert [(p["kind"], p["detail"].split(":")[0]) for p in found["problems"]] == [
        ("changed", task_path)
    ]

    # The police, who uploaded the item's file, take no dossier: the office keeps the ledger.
    assert (await exported(http, "police")).status_code == 403


async def test_a_dossier_larger_than_the_limit_is_refused_naming_it_before_it_is_written(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    settings = ledger_settings(
        nats_target,
        f"sqlite:///{tmp_path / 'ledger.db'}",
        tmp_path,
        dossier_max_bytes=1024 * 1024,
    )
    async with serving_ledger(streams, settings) as running:
        http = running.http
        item = await opened(http, "office")
        big = PDF_HEADER + os.urandom(1024 * 1024)
        sent = await upload(http, "tasks", item["task_id"], "wang.police", big)
        assert sent.status_code == 201, sent.text
        refused = await exported(http, "office")
        assert refused.status_code == 413, refused.text
        problem = refused.json()["detail"][0]
        assert problem["limit_bytes"] == 1024 * 1024
        assert "1,048,576 bytes" in problem["message_en"]
        assert "上限" in problem["message"]
        # Nothing was read for it: no file read recorded.
        reads = await events_on(
            streams, Stream.AUDIT, f"audit.ledger.task.{item['task_id']}.TaskFileRead"
        )
        assert reads == []
