"""A lead's evidence files as one ZIP, for the lead's case file: every file decrypted under
``证据材料/``, named by its place and id with the extension of the type judged from its
bytes, and ``manifest.json`` first, giving each entry's size, SHA-256, type, when it was sent
and its metadata flags, signed with intake's Ed25519 key (the receipts' key, published at
``GET /v1/receipts/public-key``): ``leadctl verify --dossier FILE.zip --public-key KEY``
checks it offline, as it checks the ledger's dossier.

The ZIP is written as it is sent: a file passes a decrypted chunk at a time from the bucket
to the answer, never whole in memory nor in clear on disk. The entries are stored, not
compressed (photos, videos and recordings are compressed already), with their sizes and
CRC after them (a stream cannot go back to write them first), as ZIP readers expect of a
streamed archive."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any, Final

from common import dossier as manifest_rules
from common.auth import Principal
from common.events.evidence import EvidenceAttached
from common.evidence_files import EXTENSIONS
from common.times import CHINA

FORMAT: Final = "lead-evidence/1"
FOLDER: Final = "证据材料"


class _Pipe(io.RawIOBase):
    """Where the ZIP writes: what it wrote is taken out and sent, piece by piece. It cannot
    seek, so the ZIP writes each entry's sizes and CRC after its data."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._offset = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self._parts.append(piece)
        self._offset += len(piece)
        return len(piece)

    def tell(self) -> int:
        return self._offset

    def take(self) -> bytes:
        taken = b"".join(self._parts)
        self._parts.clear()
        return taken


class Changed(Exception):
    """A file read back is not the one recorded (its SHA-256 differs): the answer is cut
    short rather than end as a ZIP that looks whole."""


def entry_name(place: int, attached: EvidenceAttached) -> str:
    extension = EXTENSIONS.get(attached.media_type, "")
    return f"{FOLDER}/{place:02d}-{attached.file_id}{extension}"


def manifest(
    lead_id: str,
    ledger_number: str | None,
    files: Sequence[EvidenceAttached],
    principal: Principal,
    at: datetime,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "lead_id": lead_id,
        "ledger_number": ledger_number,
        "generated": {
            "at": at.astimezone(CHINA).isoformat(),
            "zone": "Asia/Shanghai",
            "by": {"user": principal.user, "role": principal.role.value, "unit": principal.unit},
        },
        "files": "enclosed",
        "files_note": "举报人提交的证据材料，已解密。The reporter's evidence files, decrypted.",
        "entries": [
            {
                "path": entry_name(place, f),
                "size": f.size,
                "sha256": f.sha256,
                "media_type": f.media_type,
                "sent_at": f.occurred_at.astimezone(CHINA).isoformat(),
                "metadata_found": f.metadata_found,
                "metadata_stripped": f.metadata_stripped,
            }
            for place, f in enumerate(files, start=1)
        ],
    }


async def zipped(
    signed_manifest: dict[str, Any],
    files: Sequence[EvidenceAttached],
    read: Callable[[EvidenceAttached], AsyncIterator[bytes]],
    at: datetime,
) -> AsyncIterator[bytes]:
    """The ZIP's bytes as they are made: the manifest, then each file as ``read`` gives
    it, checked against its recorded SHA-256 as it passes."""
    stamp = at.astimezone(CHINA).timetuple()[:6]
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", allowZip64=True) as archive:
        written = json.dumps(signed_manifest, ensure_ascii=False, indent=2).encode()
        archive.writestr(
            zipfile.ZipInfo(manifest_rules.MANIFEST, date_time=stamp),
            written,
            zipfile.ZIP_DEFLATED,
        )
        yield pipe.take()
        for place, attached in enumerate(files, start=1):
            info = zipfile.ZipInfo(entry_name(place, attached), date_time=stamp)
            info.file_size = attached.size
            digest = hashlib.sha256()
            with archive.open(info, "w", force_zip64=attached.size >= zipfile.ZIP64_LIMIT) as out:
                async for chunk in read(attached):
                    digest.update(chunk)
                    out.write(chunk)
                    yield pipe.take()
            if digest.hexdigest() != attached.sha256:
                raise Changed(attached.file_id)
    yield pipe.take()
