"""One sample of every evidence-file event (common.events.evidence), for the event tests."""

from __future__ import annotations

from typing import Final

from common.events import Actor, Event, Role
from common.events.evidence import EvidenceAttached, EvidenceKeyDestroyed

LEAD: Final = "01JSAMPLE0000000000000LEAD"
CUSTODIAN = Actor(role=Role.CUSTODIAN, unit="shd-discipline", user="custodian")

EVIDENCE_WIRE_NAMES: Final = frozenset({"EvidenceAttached", "EvidenceKeyDestroyed"})

EVIDENCE_SAMPLES: Final[dict[type[Event], Event]] = {
    EvidenceAttached: EvidenceAttached(
        lead_id=LEAD,
        file_id="0f" * 16,
        size=20 * 1024 * 1024,
        sha256="ab" * 32,
        media_type="image/jpeg",
        metadata_found=True,
        metadata_stripped=True,
        actor=Actor(role=Role.REPORTER),
    ),
    EvidenceKeyDestroyed: EvidenceKeyDestroyed(
        lead_id=LEAD, reason="举报人申请销毁证据材料", actor=CUSTODIAN
    ),
}
