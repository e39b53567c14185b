"""One sample of every staff-file event (common.events.files), for the event tests."""

from __future__ import annotations

from typing import Final

from common.events import Actor, Event, Role
from common.events.files import LeadFileAttached, TaskFileAttached, TaskFileRead

LEAD: Final = "01JSAMPLE0000000000000LEAD"
TASK: Final = "0123456789abcdef0123456789abcdef"
POLICE = Actor(role=Role.POLICE, unit="shd-police", user="wang.police")

FILE_WIRE_NAMES: Final = frozenset({"LeadFileAttached", "TaskFileAttached", "TaskFileRead"})

FILE_SAMPLES: Final[dict[type[Event], Event]] = {
    LeadFileAttached: LeadFileAttached(
        lead_id=LEAD,
        file_id="1e" * 16,
        size=3 * 1024 * 1024,
        sha256="cd" * 32,
        media_type="image/jpeg",
        title="入户走访照片",
        metadata_found=True,
        metadata_stripped=True,
        actor=POLICE,
    ),
    TaskFileAttached: TaskFileAttached(
        task_id=TASK,
        file_id="2f" * 16,
        size=20 * 1024 * 1024,
        sha256="ef" * 32,
        media_type="application/pdf",
        title="整改会议记录",
        metadata_found=True,
        actor=POLICE,
    ),
    TaskFileRead: TaskFileRead(
        task_id=TASK,
        file_id="2f" * 16,
        service="ledger",
        purpose="download",
        actor=Actor(role=Role.AUDITOR, unit="county", user="auditor"),
    ),
}
