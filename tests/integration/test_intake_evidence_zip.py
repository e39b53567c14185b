"""A lead's evidence as one ZIP for its case file: every file decrypted, byte for byte what was
stored, a manifest signed with intake's published receipt key that `leadctl verify --dossier`
checks offline (and fails after one changed byte), each file's read recorded; another unit's
lead is no such lead, and a destroyed key leaves nothing to export."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from common.events.catalogue import LeadViewed
from common.subjects import Stream
from intake.bootstrap import create_app
from tests.conftest import NatsTarget
from tests.integration.test_intake_evidence import (
    MP4_HEADER,
    photo_with_location,
    report,
    send,
)
from tests.integration.test_ledger_dossier import manifest_of, rewritten, verified
from tests.support.apps import token
from tests.support.intake import Keys, intake_settings, running, wait_until_projected
from tests.support.streams import events_on

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


async def test_a_leads_files_export_as_a_signed_zip_that_verifies_until_changed(
    streams: JetStreamContext, nats_target: NatsTarget, sqlite_url: str, tmp_path: Path, keys: Keys
) -> None:
    settings = intake_settings(nats_target, sqlite_url, tmp_path, keys)
    async with running(create_app(settings)) as intake:
        lead_id, receipt = await report(intake)
        await wait_until_projected(sqlite_url, lead_id)
        # A video of several chunks, so that one file passes in many pieces.
        video = MP4_HEADER + os.urandom(3 * 1024 * 1024 + 123)
        sent = [
            await send(intake, receipt, content, strip=strip)
            for content, strip in ((photo_with_location(), True), (PDF, False), (video, False))
        ]
        assert [s.status_code for s in sent] == [201, 201, 201], [s.text for s in sent]
        photo_id, pdf_id, video_id = (s.json()["file_id"] for s in sent)

        answer = await intake.get(f"/v1/leads/{lead_id}/files.zip", headers=token("office"))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/zip"
        assert f'filename="evidence-{lead_id}.zip"' in answer.headers["content-disposition"]
        saved = tmp_path / "evidence.zip"
        saved.write_bytes(answer.content)

        manifest = manifest_of(answer.content)
        assert manifest["format"] == "lead-evidence/1"
        assert manifest["lead_id"] == lead_id
        assert manifest["signed"] is True
        assert manifest["generated"]["by"]["user"] == "office"
        paths = [e["path"] for e in manifest["entries"]]
        assert paths == [
            f"证据材料/01-{photo_id}.jpg",
            f"证据材料/02-{pdf_id}.pdf",
            f"证据材料/03-{video_id}.mp4",
        ]
        assert manifest["entries"][0]["metadata_stripped"] is True
        with zipfile.ZipFile(saved) as bundle:
            assert bundle.read(paths[1]) == PDF
            assert bundle.read(paths[2]) == video
            assert bundle.namelist() == ["manifest.json", *paths]

        # Checked offline with the key intake publishes, as it publishes it (base64).
        published = (await intake.get("/v1/receipts/public-key")).json()["keys"][0]
        key_file = tmp_path / "intake.key"
        key_file.write_text(published["public_key"] + "\n")
        code, text, found = await verified(saved, key_file)
        assert (code, found["ok"], found["signature"]) == (0, True, "valid"), text

        def one_byte(entries: dict[str, bytes]) -> None:
            data = bytearray(entries[paths[1]])
            data[-2] ^= 1
            entries[paths[1]] = bytes(data)

        changed = rewritten(saved, tmp_path / "changed.zip", one_byte)
        code, text, found = await verified(changed, key_file)
        assert code == 1, text
        assert any(paths[1] in p["detail"] for p in found["problems"]), found

        # Each file's read is recorded, as a download of it is.
        views = await events_on(streams, Stream.AUDIT, f"audit.intake.lead.{lead_id}.LeadViewed")
        zipped = [v for v in views if isinstance(v, LeadViewed) and "(ZIP)" in v.purpose]
        assert sorted(v.purpose.split()[2] for v in zipped) == sorted([photo_id, pdf_id, video_id])
        assert {v.actor.user for v in zipped} == {"office"}

        # The police station was not handed this lead: no such lead, nothing recorded.
        refused = await intake.get(f"/v1/leads/{lead_id}/files.zip", headers=token("police"))
        nothing = await intake.get("/v1/leads/no-such-lead/files.zip", headers=token("police"))
        assert refused.status_code == 404, refused.text
        assert refused.json() == nothing.json()
        after = await events_on(streams, Stream.AUDIT, f"audit.intake.lead.{lead_id}.LeadViewed")
        assert len(after) == len(views)

        destroyed = await intake.post(
            f"/v1/leads/{lead_id}/evidence/destroy-key",
            json={"reason": "依规销毁证据材料"},
            headers=token("custodian"),
        )
        assert destroyed.status_code == 200, destroyed.text
        gone = await intake.get(f"/v1/leads/{lead_id}/files.zip", headers=token("office"))
        assert gone.status_code == 410, gone.text
