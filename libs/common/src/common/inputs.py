"""API input shapes more than one service takes. Unlike events, they refuse what they do not
define: a client's typo is an error it should see."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from common.events.catalogue import SHA256_HEX, Attachment

# Far above any photo, recording or scanned ledger a township attaches, and far below what
# an event can record (MAX_SAFE_INT): a larger number is a client's error, named as such.
MAX_ATTACHMENT_BYTES = 1_000_000_000


class AttachmentIn(BaseModel):
    """A file reference sent with a report or as evidence: the file is kept elsewhere, its
    hash pins it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    size: int = Field(ge=0, le=MAX_ATTACHMENT_BYTES)
    sha256: str = Field(pattern=SHA256_HEX)

    def recorded(self) -> Attachment:
        """As an event records it."""
        return Attachment(name=self.name, size=self.size, sha256=self.sha256)
