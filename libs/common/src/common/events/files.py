"""Staff files (工作开展痕迹): what staff upload on a lead or a rectification item, as events.

The file lives in the ledger's object store bucket (common.evidence), encrypted with the
owner's data key (one per lead, one per item); an event names it by its random object name,
size, SHA-256, the type judged from its bytes and the short title the uploader gave, never
its content or the name it had on the uploader's disk. A lead's file is recorded under the
lead (``ledger.lead.<id>.LeadFileAttached``), an item's under the item
(``ledger.task.<id>.TaskFileAttached``), so the owner's history holds its files.

Reads of an item's file are recorded on AUDIT (:class:`TaskFileRead`); reads of a lead's
file are recorded as any read of the lead is (LeadViewed, with the file in its purpose)."""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from pydantic import Field

from common.events.catalogue import MAX_SAFE_INT, SHA256_HEX
from common.events.envelope import Event
from common.events.tasks import TASK_ID

#: an object name: uuid4 hex, random, saying nothing of the owner or the file
FILE_ID: Final = r"^[0-9a-f]{32}$"
#: the staff's words for a file (入户走访照片): short, shown in lists and the dossier's index
LONGEST_TITLE: Final = 100


class _StaffFileEvent(Event):
    prefix: ClassVar[str] = "ledger"
    file_id: str = Field(pattern=FILE_ID)
    #: size and hash of what is stored (after metadata was taken out, when it was)
    size: int = Field(ge=0, le=MAX_SAFE_INT)
    sha256: str = Field(pattern=SHA256_HEX)
    #: judged from the bytes (common.evidence_files), never from a name or header
    media_type: str = Field(max_length=100)
    title: str = Field(min_length=1, max_length=LONGEST_TITLE)
    metadata_found: bool = False
    metadata_stripped: bool = False


class LeadFileAttached(_StaffFileEvent):
    """Staff added a file to a lead (a photo of a visit, a record of a talk), stored
    encrypted under ``file_id``. ``metadata_found``: it carried location or author fields;
    ``metadata_stripped``: they were taken out of a photo before it was stored, as asked."""

    event_type: Literal["LeadFileAttached"] = "LeadFileAttached"
    lead_id: str


class TaskFileAttached(_StaffFileEvent):
    """Staff added a file to a task or rectification item (the traces of the work done),
    stored encrypted under ``file_id``; the flags as on LeadFileAttached."""

    subject_kind: ClassVar[str] = "task"
    event_type: Literal["TaskFileAttached"] = "TaskFileAttached"
    task_id: str = Field(pattern=TASK_ID)

    @property
    def subject_id(self) -> str | None:
        return self.task_id


class TaskFileRead(Event):
    """Someone read a file of a task or rectification item: downloaded it, or had it put
    in a dossier (``purpose``)."""

    prefix: ClassVar[str] = "audit"
    subject_kind: ClassVar[str] = "task"
    event_type: Literal["TaskFileRead"] = "TaskFileRead"
    task_id: str = Field(pattern=TASK_ID)
    file_id: str = Field(pattern=FILE_ID)
    service: str = Field(max_length=20)
    purpose: str = Field(default="", max_length=200)

    @property
    def subject_id(self) -> str | None:
        return self.task_id
