"""Files sent from intake's public pages, over HTTP to a running intake: with the report
(fields first, then the files, each judged and stored as it arrives, the report filed
whatever becomes of them) and later with the receipt in the form. Refusals name their
limit; a form over a field's bound files nothing; the work and the receipt are checked
before a byte of a file is read."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext
from PIL import Image

from common.events.evidence import EvidenceAttached
from common.subjects import Stream
from intake.bootstrap import create_app
from intake.pages.uploads import FIELD_BYTES, FORM_ENVELOPE
from intake.settings import IntakeSettings
from tests.conftest import NatsTarget
from tests.integration.test_intake_pages import Page, proof, report_form
from tests.support.apps import token
from tests.support.intake import (
    LEAD_REPORTED,
    Keys,
    intake_events,
    intake_settings,
    running,
    unique,
)
from tests.support.streams import subjects_on

pytestmark = pytest.mark.integration

MAX_BYTES = 64 * 1024
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PROGRAM = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200


def photo_with_location() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x013B] = "Zhang San"  # Artist
    exif[0x8825] = {1: "N", 2: (32.0, 45.0, 10.0), 3: "E", 4: (113.0, 20.0, 5.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def settings_for(
    nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys, max_files: int = 3
) -> IntakeSettings:
    return intake_settings(nats_target, sqlite_url, tmp_path, keys).model_copy(
        update={"evidence_max_bytes": MAX_BYTES, "evidence_max_files": max_files}
    )


def files(*named: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    # Every Content-Type a lie: the type is judged from the bytes.
    return [("files", (name, data, "image/jpeg")) for name, data in named]


async def report_with(
    intake: httpx.AsyncClient, sent: list[tuple[str, tuple[str, bytes, str]]], **more: str
) -> httpx.Response:
    key = Page((await intake.get("/report")).text).value("idempotency_key")
    form = report_form(key, unique("村霸强收保护费")) | {
        "work": await proof(intake, "report"),
        **more,
    }
    return await intake.post("/report", data=form, files=sent)


async def only_lead(js: JetStreamContext) -> str:
    [subject] = await subjects_on(js, Stream.INTAKE, LEAD_REPORTED)
    return subject.split(".")[2]


async def attached(js: JetStreamContext, lead_id: str) -> list[EvidenceAttached]:
    return [e for e in await intake_events(js, lead_id) if isinstance(e, EvidenceAttached)]


async def test_a_report_with_a_photo_a_document_a_program_and_one_too_many(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    sqlite_url: str,
    tmp_path: Path,
    keys: Keys,
) -> None:
    settings = settings_for(nats_target, sqlite_url, tmp_path, keys, max_files=4)
    photo = photo_with_location()
    async with running(create_app(settings)) as intake:
        answer = await report_with(
            intake,
            files(
                ("IMG_0001.jpg", photo),
                ("证据.pdf", PDF),
                ("照片.jpg", PROGRAM),  # a program renamed as a photo
                ("big.pdf", PDF + b"0" * MAX_BYTES),
                ("one-too-many.pdf", PDF),
            ),
            strip_metadata="yes",
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["Cache-Control"] == "no-store"
        page = Page(answer.text)
        receipt = page.text(".receipt")
        assert len(receipt) == 23
        listed = page.text("#sent-files")
        assert page.text("#sent-summary") == "收到 5 个文件，已保存 2 个。"
        stored = page.text(".stored")
        assert "IMG_0001.jpg" in stored
        assert "照片（JPEG）" in stored
        assert "发现位置或作者信息，已去除" in stored
        assert "文档（PDF）" in stored
        refused = page.text(".refused")
        assert "照片.jpg" in refused
        assert "不接受这类文件（按文件内容判断，不看文件名）" in refused
        assert "big.pdf 文件太大：这类文件上限为 64 KiB。" in listed
        assert "one-too-many.pdf 文件太多：每个举报最多 4 个文件。" in listed
        assert "可以以后凭查询码" in page.text(".card")

        lead_id = await only_lead(streams)
        kept = await attached(streams, lead_id)
        assert [(a.media_type, a.metadata_stripped) for a in kept] == [
            ("image/jpeg", True),
            ("application/pdf", False),
        ]
        # A clerk's download is the photo without its location.
        got = await intake.get(
            f"/v1/leads/{lead_id}/files/{kept[0].file_id}", headers=token("clerk")
        )
        assert got.status_code == 200, got.text
        with Image.open(io.BytesIO(got.content)) as image:
            assert dict(image.getexif().get_ifd(0x8825)) == {}
            assert image.format == "JPEG"
        # no file name is kept anywhere in the log
        assert not any(b"IMG_0001" in e.model_dump_json().encode() for e in kept)


async def test_files_are_added_later_with_the_receipt_in_the_form(
    streams: JetStreamContext,
    nats_target: NatsTarget,
    sqlite_url: str,
    tmp_path: Path,
    keys: Keys,
) -> None:
    settings = settings_for(nats_target, sqlite_url, tmp_path, keys)
    async with running(create_app(settings)) as intake:
        answer = await report_with(intake, [])
        receipt = Page(answer.text).text(".receipt")
        assert "sent-files" not in answer.text
        lead_id = await only_lead(streams)

        # Without the work, and with an unknown receipt, nothing is read nor stored.
        unproven = await intake.post(
            "/my-report/files", data={"receipt": receipt}, files=files(("a.pdf", PDF))
        )
        assert unproven.status_code == 428, unproven.text
        assert Page(unproven.text).text("#held-files") == ""
        unknown = await intake.post(
            "/my-report/files",
            data={"receipt": "00000-00000-00000-00000", "work": await proof(intake, "receipt")},
            files=files(("a.pdf", PDF)),
        )
        assert unknown.status_code == 404, unknown.text
        nothing = await intake.post(
            "/my-report/files",
            data={"receipt": receipt, "work": await proof(intake, "receipt")},
            files=[("files", ("", b"", "application/octet-stream"))],
        )
        assert nothing.status_code == 422, nothing.text
        assert "请先选择要添加的文件" in Page(nothing.text).text("#files-problem")
        assert await attached(streams, lead_id) == []

        added = await intake.post(
            "/my-report/files?lang=en",
            data={"receipt": receipt, "work": await proof(intake, "receipt")},
            files=files(("letter.pdf", PDF)),
        )
        assert added.status_code == 200, added.text
        assert added.headers["Cache-Control"] == "no-store"
        page = Page(added.text)
        assert "Received: 1 file(s); stored: 1." in page.text("#sent-summary")
        assert "document (PDF)" in page.text("#held-files")
        assert "no location or author data found" in page.text("#held-files")
        assert receipt not in str(added.url)
        assert [a.media_type for a in await attached(streams, lead_id)] == ["application/pdf"]


async def test_a_form_over_a_fields_bound_or_without_the_work_files_nothing(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    answer = await report_with(intake, files(("a.pdf", PDF)), summary="长" * FIELD_BYTES)
    assert answer.status_code == 413, answer.text
    page = Page(answer.text)
    assert f"“简要内容”的内容太长：上限为 {FIELD_BYTES} 字节" in page.text(".problem")
    assert page.value("idempotency_key")  # the form is shown again to send again

    # Without the work nothing is filed, nor any file read.
    key = Page((await intake.get("/report")).text).value("idempotency_key")
    unproven = await intake.post(
        "/report", data=report_form(key, unique("村霸")), files=files(("a.pdf", PDF))
    )
    assert unproven.status_code == 428, unproven.text
    assert "sent-files" not in unproven.text
    assert await subjects_on(streams, Stream.INTAKE, LEAD_REPORTED) == {}


async def test_a_declared_body_over_the_pages_limit_is_refused_before_it_is_read(
    intake: httpx.AsyncClient,
) -> None:
    limit = IntakeSettings.model_fields["evidence_max_bytes"].default + FORM_ENVELOPE
    for path in ("/report", "/my-report/files"):
        answer = await intake.post(
            path,
            content=b"",
            headers={
                "Content-Type": "multipart/form-data; boundary=x",
                "Content-Length": str(limit + 1),
            },
        )
        assert answer.status_code == 413, answer.text
        assert answer.json()["detail"][0]["limit_bytes"] == limit
