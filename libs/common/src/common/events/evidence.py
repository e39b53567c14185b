"""Evidence files a reporter adds to a lead, as events: what was stored and the end of it.

The file itself lives in intake's object store bucket (common.evidence), encrypted with
the lead's evidence key; an event carries its random object name, size, hash and sniffed
type, never its content or its original file name (which may name the sender). They live
on the INTAKE stream under the lead (``intake.lead.<id>.<Type>``)."""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from pydantic import Field

from common.events.catalogue import MAX_SAFE_INT, SHA256_HEX
from common.events.envelope import Event

#: an object name: uuid4 hex, random, saying nothing of the lead or the file
FILE_ID: Final = r"^[0-9a-f]{32}$"


class _EvidenceEvent(Event):
    prefix: ClassVar[str] = "intake"


class EvidenceAttached(_EvidenceEvent):
    """A file was added to the lead, stored encrypted under ``file_id``. ``metadata_found``:
    it carried location or author fields; ``metadata_stripped``: they were taken out of a
    photo before it was stored, as the reporter asked (size and hash are of what is
    stored)."""

    event_type: Literal["EvidenceAttached"] = "EvidenceAttached"
    lead_id: str
    file_id: str = Field(pattern=FILE_ID)
    size: int = Field(ge=0, le=MAX_SAFE_INT)
    sha256: str = Field(pattern=SHA256_HEX)
    media_type: str = Field(max_length=100)
    metadata_found: bool = False
    metadata_stripped: bool = False


class EvidenceKeyDestroyed(_EvidenceEvent):
    """The lead's evidence key was destroyed: its files, still in the bucket as ciphertext,
    can never be read again. The reporter's identity is another key, untouched."""

    event_type: Literal["EvidenceKeyDestroyed"] = "EvidenceKeyDestroyed"
    lead_id: str
    reason: str
