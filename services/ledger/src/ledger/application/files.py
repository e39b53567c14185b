"""Staff files (工作开展痕迹) on a lead or a task/rectification item: uploaded, listed, read.

Whether the principal may see the owner is decided before anything else, through the rule
its own reads use: a lead through ``reading.visible``, an item through the task rule
(``domain.task.may_see``). One they may not see is the very 404 of one that does not exist,
for a list, an upload and a download alike. Who may add a file: on a lead, the office and
its clerks (of the lead's town) and the unit holding it or that filed it; on an item, the
office and its clerks and the responsible unit.

An upload is judged before its bytes are stored: the title, the owner's room for another
file, then the type sniffed from the first bytes. A photo is held whole (bounded) to find
and, as asked, strip its metadata; anything else goes to the ledger's bucket as it
arrives, sealed a chunk at a time under the owner's data key (ledger.file_keys). The file
is recorded (LeadFileAttached, TaskFileAttached) only once stored.

Every download is recorded on AUDIT before a byte is sent: a lead's as a read of the lead
(LeadViewed, the file in its purpose), an item's as TaskFileRead."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Final

import structlog

from common.application import retry_on_conflict
from common.auth import Principal
from common.errors import Gone, NotFound, NotPermitted, RuleViolation
from common.events import Event, Role
from common.events.catalogue import LeadViewed
from common.events.files import LONGEST_TITLE, LeadFileAttached, TaskFileAttached, TaskFileRead
from common.events.tasks import TaskOpened
from common.eventstore import LeadHistory
from common.evidence import EvidenceStore, EvidenceUnreadable, evidence_bucket
from common.evidence_files import SNIFF_BYTES, Kind, MarkerScan, inspect_photo, sniff
from common.evidence_uploads import first_bytes, pieces, scanned, then, whole
from common.subjects import Service, Stream
from ledger.application import tasks
from ledger.application.reading import NO_SUCH_LEAD, visible
from ledger.domain import lead as lead_rules
from ledger.domain import task as task_rules
from ledger.domain.lead import LedgerLead
from ledger.domain.task import OFFICE_ROLES, Task
from ledger.file_keys import FileKeys, FileKeyUnreadable

if TYPE_CHECKING:
    from ledger.application.context import Ledger

log = structlog.get_logger(__name__)

LEAD: Final = "lead"
TASK: Final = "task"
NO_SUCH_FILE: Final = "no such file"
#: who may add a file to a lead, besides the office and its clerks: its holder's people
_LEAD_HANDLERS: Final = frozenset({Role.POLICE, Role.JUDICIAL, Role.DISCIPLINE})
#: the roles that may add files to some lead (which lead, the rules below decide)
LEAD_UPLOADERS: Final = OFFICE_ROLES | _LEAD_HANDLERS

StaffFile = LeadFileAttached | TaskFileAttached


@dataclass(frozen=True)
class Upload:
    title: str
    body: AsyncIterable[bytes]
    #: take location and author fields out of a photo before it is stored
    strip_metadata: bool


@dataclass(frozen=True)
class Download:
    attached: StaffFile
    chunks: AsyncIterator[bytes]


@dataclass(frozen=True)
class _Stored:
    file_id: str
    size: int
    sha256: str
    media_type: str
    metadata_found: bool
    metadata_stripped: bool


def files_of(history: LeadHistory, kind: str) -> list[StaffFile]:
    """The owner's files as its events record them, oldest first."""
    wanted = LeadFileAttached if kind == LEAD else TaskFileAttached
    return [e.event for e in history.events if isinstance(e.event, wanted)]


def checked_title(title: str) -> str:
    value = title.strip()
    if not value or len(value) > LONGEST_TITLE or any(ord(c) < 32 for c in value):
        raise RuleViolation(
            f"a title of 1 to {LONGEST_TITLE} characters on one line",
            f"标题为 1 至 {LONGEST_TITLE} 个字，且不能换行",
            field="title",
        )
    return value


class StaffFiles:
    """The ledger's bucket, the owners' keys, and the rules of who may do what."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.keys = FileKeys(ledger.runtime.database.async_engine, ledger.settings.files_key_bytes)

    @property
    def store(self) -> EvidenceStore:
        return EvidenceStore(self.ledger.runtime.js, evidence_bucket(Service.LEDGER))

    # --- who may see, who may add ---------------------------------------------------

    async def lead(self, lead_id: str, principal: Principal) -> LeadHistory:
        """The lead's LEDGER history, once it is known the principal may see the lead."""
        await visible(self.ledger, lead_id, principal)
        history = await self.ledger.runtime.store(Stream.LEDGER).read_lead(lead_id)
        if not history.events:
            raise NotFound(NO_SUCH_LEAD)
        return history

    async def task(self, task_id: str, principal: Principal) -> tuple[Task, LeadHistory]:
        """The item and its history, if the principal may see it (the rule of the task
        reads, ledger.application.tasks, whose own helper is private)."""
        history = await self.ledger.runtime.store(Stream.LEDGER).read_item(tasks.KIND, task_id)
        if not any(isinstance(e.event, TaskOpened) for e in history.events):
            raise NotFound(tasks.NO_SUCH_TASK)
        item = task_rules.fold(e.event for e in history.events)
        mine = tasks.reader(self.ledger, principal)
        if not task_rules.may_see(
            item.unit, item.town, mine.role, mine.unit, mine.town, county=mine.county
        ):
            raise NotFound(tasks.NO_SUCH_TASK)
        return item, history

    @staticmethod
    def _may_add_to_lead(lead: LedgerLead, principal: Principal) -> None:
        if principal.role in OFFICE_ROLES:
            return  # the office of the lead's town: visible() said it is theirs
        if principal.role in _LEAD_HANDLERS and principal.unit in (
            lead.holder,
            lead.registered.unit,
        ):
            return
        raise NotPermitted(
            f"files are added to a lead by the office or the unit holding it ({lead.holder})"
        )

    @staticmethod
    def _may_add_to_task(item: Task, principal: Principal) -> None:
        if principal.role not in OFFICE_ROLES and principal.unit != item.unit:
            raise NotPermitted(
                f"files are added to an item by the office or its responsible unit ({item.unit})"
            )
        if item.closed:
            raise RuleViolation(
                "the item is closed (销号): no file can be added to it",
                "该事项已销号，不能再上传材料",
            )

    def _check_room(self, files: list[StaffFile]) -> None:
        most = self.ledger.settings.files_max_per_owner
        if len(files) >= most:
            raise RuleViolation(
                f"at most {most} files on one lead or item",
                f"每条线索或每个事项最多 {most} 个文件",
                field="file",
            )

    # --- commands -------------------------------------------------------------------

    async def upload_to_lead(
        self, lead_id: str, command: Upload, principal: Principal
    ) -> LeadFileAttached:
        title = checked_title(command.title)
        history = await self.lead(lead_id, principal)
        self._may_add_to_lead(lead_rules.fold(e.event for e in history.events), principal)
        self._check_room(files_of(history, LEAD))
        stored = await self._stored(LEAD, lead_id, command)
        store = self.ledger.runtime.store(Stream.LEDGER)

        async def record() -> LeadFileAttached:
            now = await store.read_lead(lead_id)
            self._check_room(files_of(now, LEAD))
            event = LeadFileAttached(
                lead_id=lead_id, title=title, actor=principal.actor, **asdict(stored)
            )
            await store.append(event, expected_sequence=now.last_sequence)
            return event

        # Refused now (the last slot taken meanwhile), the object stays in the append-only
        # bucket, named by no event: nothing ever serves it.
        attached = await retry_on_conflict(record)
        log.info("staff_file_attached", kind=LEAD, owner_id=lead_id, file_id=stored.file_id)
        return attached

    async def upload_to_task(
        self, task_id: str, command: Upload, principal: Principal
    ) -> TaskFileAttached:
        title = checked_title(command.title)
        item, history = await self.task(task_id, principal)
        self._may_add_to_task(item, principal)
        self._check_room(files_of(history, TASK))
        stored = await self._stored(TASK, task_id, command)
        store = self.ledger.runtime.store(Stream.LEDGER)

        async def record() -> TaskFileAttached:
            now = await store.read_item(tasks.KIND, task_id)
            self._may_add_to_task(task_rules.fold(e.event for e in now.events), principal)
            self._check_room(files_of(now, TASK))
            event = TaskFileAttached(
                task_id=task_id, title=title, actor=principal.actor, **asdict(stored)
            )
            await store.append(event, expected_sequence=now.last_sequence)
            return event

        attached = await retry_on_conflict(record)
        log.info("staff_file_attached", kind=TASK, owner_id=task_id, file_id=stored.file_id)
        return attached

    async def _stored(self, kind: str, owner_id: str, command: Upload) -> _Stored:
        settings = self.ledger.settings
        body = aiter(command.body)
        head = await first_bytes(body, SNIFF_BYTES)
        media_type, file_kind = sniff(head)
        key = await self.keys.for_new_file(kind, owner_id)
        if file_kind is Kind.PHOTO:
            limit = min(settings.files_photo_max_bytes, settings.files_max_bytes)
            data = await whole(head, body, limit)
            photo = await asyncio.to_thread(inspect_photo, data, media_type, command.strip_metadata)
            stored = await self.store.put(key, pieces(photo.data), settings.files_max_bytes)
            found, stripped = photo.metadata_found, photo.stripped
        else:
            scan = MarkerScan(file_kind)
            stored = await self.store.put(key, scanned(head, body, scan), settings.files_max_bytes)
            found, stripped = scan.found, False
        return _Stored(stored.name, stored.size, stored.sha256, media_type, found, stripped)

    # --- reads ----------------------------------------------------------------------

    async def lead_files(self, lead_id: str, principal: Principal) -> list[StaffFile]:
        """The list says what is held, never what is in it: no read is recorded for it."""
        return files_of(await self.lead(lead_id, principal), LEAD)

    async def task_files(self, task_id: str, principal: Principal) -> list[StaffFile]:
        _, history = await self.task(task_id, principal)
        return files_of(history, TASK)

    async def download_from_lead(
        self, lead_id: str, file_id: str, principal: Principal
    ) -> Download:
        attached = _file(files_of(await self.lead(lead_id, principal), LEAD), file_id)
        read = LeadViewed(
            lead_id=lead_id,
            service=Service.LEDGER.value,
            purpose=f"staff file {file_id}",
            actor=principal.actor,
        )
        return await self._opened(LEAD, lead_id, attached, read)

    async def download_from_task(
        self, task_id: str, file_id: str, principal: Principal
    ) -> Download:
        _, history = await self.task(task_id, principal)
        attached = _file(files_of(history, TASK), file_id)
        read = TaskFileRead(
            task_id=task_id,
            file_id=file_id,
            service=Service.LEDGER.value,
            purpose="download",
            actor=principal.actor,
        )
        return await self._opened(TASK, task_id, attached, read)

    async def _opened(self, kind: str, owner_id: str, attached: StaffFile, read: Event) -> Download:
        """The file's plaintext, a chunk at a time, the read recorded before it is given;
        the first chunk opened before answering, so a file that does not open is an
        answer now, not a broken download later."""
        chunks = await self.chunks(kind, owner_id, attached.file_id)
        await self.ledger.runtime.record_access(read)
        try:
            first = await anext(chunks)
        except (EvidenceUnreadable, StopAsyncIteration):
            raise _unreadable(kind, owner_id, attached.file_id) from None
        return Download(attached, then(first, chunks))

    async def chunks(self, kind: str, owner_id: str, file_id: str) -> AsyncIterator[bytes]:
        """The stored file's plaintext as it is opened (no visibility asked: the caller
        decided it, and records the read)."""
        try:
            key = await self.keys.key(kind, owner_id)
        except FileKeyUnreadable:
            raise _unreadable(kind, owner_id, file_id) from None
        assert key is not None  # noqa: S101 - key() raises rather than answer None here
        return self.store.get(key, file_id)


def _file(files: list[StaffFile], file_id: str) -> StaffFile:
    for attached in files:
        if attached.file_id == file_id:
            return attached
    raise NotFound(NO_SUCH_FILE)


def _unreadable(kind: str, owner_id: str, file_id: str) -> Gone:
    log.error("staff_file_unreadable", kind=kind, owner_id=owner_id, file_id=file_id)
    return Gone("the file cannot be opened: its key or its chunks do not open with the files key")
