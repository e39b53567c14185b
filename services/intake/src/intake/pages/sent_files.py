"""The files a reporter sends from a page: each handed to Evidence.upload as it arrives,
and what became of each said in plain words, stored or refused and why.

Whatever happens to a file, the answer is given: on the report's page it carries the
receipt, shown this once, so no failure of a file may take the answer with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

import structlog

from common.events.evidence import EvidenceAttached
from common.eventstore import AppendOutcomeUnknown
from common.evidence import EvidenceTooLarge
from common.evidence_files import ACCEPTED, ACCEPTED_WORDS, FileRefused, Kind
from common.web import Language
from intake.application import Intake
from intake.application.evidence import Evidence, Upload
from intake.domain.evidence import EvidenceKeyGone, TooManyFiles
from intake.pages.uploads import FilePart
from intake.projection.queries import by_receipt

log = structlog.get_logger(__name__)

#: how long a new report's receipt may take to reach the read model before its files wait
RECEIPT_READY_SECONDS: Final = 10.0

KIND_WORDS: Final[dict[Kind, tuple[str, str]]] = {
    Kind.PHOTO: ("照片", "photo"),
    Kind.VIDEO: ("视频", "video"),
    Kind.AUDIO: ("录音", "recording"),
    Kind.DOCUMENT: ("文档", "document"),
}


def kind_words(media_type: str, lang: Language) -> str:
    """``照片（JPEG）`` / ``photo (JPEG)``: the kind, and the format people know it by."""
    kind = ACCEPTED.get(media_type)
    zh, en = KIND_WORDS[kind] if kind is not None else ("文件", "file")
    fmt = media_type.rsplit("/", 1)[-1].removeprefix("x-").upper()
    if "." in fmt or len(fmt) > 8:  # the long Office names
        fmt = {"msword": "Word"}.get(media_type.rsplit("/", 1)[-1], "Office")
    return f"{zh}（{fmt}）" if lang == "zh" else f"{en} ({fmt})"


def size_words(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _mib(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):.0f} MiB"
    return f"{limit / 1024:.0f} KiB"


@dataclass(frozen=True)
class Sent:
    """One file as the answer reports it: stored, or refused with the reason."""

    shown_name: str
    stored: EvidenceAttached | None = None
    refused: tuple[str, str] | None = None

    def reason(self, lang: Language) -> str:
        assert self.refused is not None  # noqa: S101 - asked of refused files only
        return self.refused[0] if lang == "zh" else self.refused[1]


def _refusal(exc: Exception) -> tuple[str, str]:
    """Why a file was not kept, in the reporter's words (zh, en)."""
    if isinstance(exc, EvidenceTooLarge):
        return (
            f"文件太大：这类文件上限为 {_mib(exc.limit)}。",
            f"too large: the limit for this kind of file is {_mib(exc.limit)}.",
        )
    if isinstance(exc, FileRefused):
        zh, en = ACCEPTED_WORDS
        return (
            f"不接受这类文件（按文件内容判断，不看文件名）。只接受：{zh}。",
            f"this kind of file is not accepted (judged from its content, not its name)."
            f" Accepted: {en}.",
        )
    if isinstance(exc, TooManyFiles):
        return (
            f"文件太多：每个举报最多 {exc.limit} 个文件。",
            f"too many files: a report holds at most {exc.limit}.",
        )
    if isinstance(exc, EvidenceKeyGone):
        return ("这个举报已不能再添加文件。", "this report can no longer take files.")
    if isinstance(exc, AppendOutcomeUnknown):
        return (
            "暂时无法确认是否已保存。请稍后凭查询码查看，没有列出就再添加一次。",
            "it could not be confirmed as saved. Look with your code shortly, and add it"
            " again if it is not listed.",
        )
    return (
        "暂时无法保存这个文件，请稍后凭查询码再添加。",
        "this file cannot be saved just now: add it later with your code.",
    )


async def _receipt_answers(intake: Intake, receipt: str) -> bool:
    """Whether the read model knows the receipt yet, waiting a bounded time for a report
    filed an instant ago. Asked of the read model directly: these are not guesses, and are
    not counted as misses."""
    receipt_hash = intake.receipts.hash(receipt)
    if receipt_hash is None:
        return False
    loop = asyncio.get_running_loop()
    give_up = loop.time() + RECEIPT_READY_SECONDS
    pause = 0.01
    while True:
        async with intake.engine.connect() as conn:
            if await by_receipt(conn, receipt_hash) is not None:
                return True
        if loop.time() >= give_up:
            return False
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.25)


async def send_files(
    evidence: Evidence,
    receipt: str,
    files: AsyncIterator[FilePart],
    *,
    strip_metadata: bool,
    lead_id: str = "",
) -> list[Sent]:
    """Each file of the form handed to the receipt's report; what became of each. A body
    that stops being readable midway ends the list with that said."""
    intake = evidence.intake
    limit = intake.settings.evidence_max_files
    sent: list[Sent] = []
    ready: bool | None = None
    try:
        async for part in files:
            if len(sent) >= limit:
                sent.append(Sent(part.shown_name, refused=_refusal(TooManyFiles(limit))))
                continue
            if ready is None:
                ready = await _receipt_answers(intake, receipt)
            if not ready:
                sent.append(Sent(part.shown_name, refused=_refusal(LookupError())))
                continue
            try:
                stored = await evidence.upload(Upload(receipt, part.chunks, strip_metadata))
            except (EvidenceTooLarge, FileRefused, TooManyFiles, EvidenceKeyGone) as exc:
                sent.append(Sent(part.shown_name, refused=_refusal(exc)))
            except Exception as exc:
                log.warning("page_file_not_stored", lead_id=lead_id, error=type(exc).__name__)
                sent.append(Sent(part.shown_name, refused=_refusal(exc)))
            else:
                sent.append(Sent(part.shown_name, stored=stored))
    except Exception as exc:
        log.warning("page_files_unreadable", lead_id=lead_id, error=type(exc).__name__)
        sent.append(
            Sent(
                "",
                refused=(
                    "其余的文件没有收到完整，请稍后凭查询码再添加。",
                    "the rest of the files did not arrive whole: add them later with your code.",
                ),
            )
        )
    return sent
