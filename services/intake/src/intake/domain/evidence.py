"""A lead's evidence files as intake knows them, folded from its own events, and the
decisions on them: adding a file (within the limit, while the key lives), finding one,
destroying the key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from common.errors import Gone, NotFound, RuleViolation
from common.events import Actor, Event
from common.events.evidence import EvidenceAttached, EvidenceKeyDestroyed
from intake.domain.lead import IntakeLead

EVIDENCE_DESTROYED = "the evidence key of this lead was destroyed: its files cannot be read"


class EvidenceKeyGone(Gone):
    """The lead's evidence key was destroyed: its files are ciphertext for good."""

    def __init__(self) -> None:
        super().__init__(EVIDENCE_DESTROYED)


class FileNotFound(NotFound):
    """The lead has no file of this id."""

    def __init__(self) -> None:
        super().__init__("no such file")


class TooManyFiles(RuleViolation):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"a lead holds at most {limit} files; this one has them all",
            f"每条线索最多上传 {limit} 个文件，已达上限",
            field="file",
        )
        self.limit = limit


@dataclass(frozen=True)
class Stored:
    """A file as it went into the bucket: its object name, plaintext size and SHA-256."""

    file_id: str
    size: int
    sha256: str
    media_type: str


@dataclass(frozen=True)
class LeadEvidence:
    files: tuple[EvidenceAttached, ...] = ()
    key_destroyed: bool = False


def evidence_of(events: Iterable[Event]) -> LeadEvidence:
    files: list[EvidenceAttached] = []
    destroyed = False
    for event in events:
        if isinstance(event, EvidenceAttached):
            files.append(event)
        elif isinstance(event, EvidenceKeyDestroyed):
            destroyed = True
    return LeadEvidence(tuple(files), destroyed)


def held_already(evidence: LeadEvidence, sha256: str) -> EvidenceAttached | None:
    """The file of these very bytes the lead holds already (None when it holds none, or
    its key is destroyed: then nothing is held any more, and the refusal says so)."""
    if evidence.key_destroyed:
        return None
    return next((f for f in evidence.files if f.sha256 == sha256), None)


def check_room(evidence: LeadEvidence, max_files: int) -> None:
    """Whether one more file may come: asked before its bytes are read, and again when it
    is recorded."""
    if evidence.key_destroyed:
        raise EvidenceKeyGone
    if len(evidence.files) >= max_files:
        raise TooManyFiles(max_files)


def attach(
    lead: IntakeLead,
    evidence: LeadEvidence,
    stored: Stored,
    metadata: tuple[bool, bool],
    max_files: int,
    actor: Actor,
) -> EvidenceAttached:
    check_room(evidence, max_files)
    found, stripped = metadata
    return EvidenceAttached(
        lead_id=lead.reported.lead_id,
        file_id=stored.file_id,
        size=stored.size,
        sha256=stored.sha256,
        media_type=stored.media_type,
        metadata_found=found,
        metadata_stripped=stripped,
        actor=actor,
        **lead.reported.caused(),
    )


def file_of(evidence: LeadEvidence, file_id: str) -> EvidenceAttached:
    for attached in evidence.files:
        if attached.file_id == file_id:
            return attached
    raise FileNotFound


def destroy_key(
    lead: IntakeLead, evidence: LeadEvidence, reason: str, actor: Actor
) -> EvidenceKeyDestroyed:
    if evidence.key_destroyed:
        raise EvidenceKeyGone
    return EvidenceKeyDestroyed(
        lead_id=lead.reported.lead_id, reason=reason, actor=actor, **lead.reported.caused()
    )
