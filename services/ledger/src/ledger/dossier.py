"""A dossier as one ZIP (专题材料): the lead ledger and the rectification ledger as the
exports make them, each campaign's report, the issued notices as printed, the statistics
with their charts as one self-contained page, the index of work traces, the staff files
themselves (工作痕迹/线索/<ledger number>/, 工作痕迹/整改/<item>/, each named by its id), and
a manifest naming every entry with its size and SHA-256 (signed when the ledger has a key).

The ZIP is written to a file, never assembled in memory beside a copy of itself; each
entry is made, hashed and written in turn, a staff file a decrypted chunk at a time. The
bytes written are counted against the ledger's limit as they go."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common import dossier as manifest_rules
from common.auth import Principal
from common.database import as_utc
from common.evidence_files import EXTENSIONS
from common.organisation import Organisation
from common.times import CHINA
from common.vocabulary import Category, Language, LeadStatus, label
from ledger import campaign_report, export, task_export
from ledger.application.dossier import Contents, DossierTooLarge, StoredTrace
from ledger.domain.campaign import KIND_LABELS
from ledger.domain.task import status_label
from ledger.export import china_time, inert_text, unit_label
from ledger.pages import charts

LEADS: Final = "线索台账.xlsx"
TASKS: Final = "整改台账.xlsx"
STATISTICS: Final = "统计.html"
TRACES: Final = "工作痕迹/index.csv"
CAMPAIGNS: Final = "专项工作"
NOTICES: Final = "通报"
STORED: Final = {"lead": "工作痕迹/线索", "task": "工作痕迹/整改"}
TRACE_HEADERS: Final = (
    ("来源", "Source"),
    ("编号", "Reference"),
    ("单位", "Unit"),
    ("时间（北京时间）", "Time (China)"),
    ("文件名", "File name"),
    ("大小（字节）", "Size (bytes)"),
    ("SHA-256", "SHA-256"),
    ("标题", "Title"),
    ("上传人", "Uploaded by"),
)
TRACE_SOURCES: Final = {
    "task": ("整改进展", "progress report"),
    "campaign": ("自查填报", "answer"),
    "lead_file": ("线索工作痕迹（随附）", "staff file on a lead (enclosed)"),
    "task_file": ("整改材料（随附）", "staff file on an item (enclosed)"),
}
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Made:
    """Who asked for the dossier, when, and in which language its contents are."""

    principal: Principal
    at: datetime
    lang: Language
    org: Organisation
    #: the printable text of each issued notice, in order (ledger.notices_api.printable)
    notice_texts: Sequence[str]
    render: Callable[..., str]
    #: a staff file's plaintext, a chunk at a time (called from the writer's thread)
    open_file: Callable[[StoredTrace], Iterator[bytes]] | None = None
    #: the most bytes the entries may hold in all (ledger settings: dossier_max_bytes)
    max_bytes: int | None = None


def _pick(lang: Language, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def write(
    target: IO[bytes], contents: Contents, made: Made, key: Ed25519PrivateKey | None
) -> dict[str, Any]:
    """Write the dossier to ``target``; the manifest as written."""
    entries: list[dict[str, Any]] = []
    stamp = made.at.astimezone(CHINA).timetuple()[:6]
    total = 0

    def count(size: int) -> None:
        nonlocal total
        total += size
        if made.max_bytes is not None and total > made.max_bytes:
            raise DossierTooLarge(made.max_bytes, total)

    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:

        def add(path: str, data: bytes) -> None:
            count(len(data))
            bundle.writestr(zipfile.ZipInfo(path, date_time=stamp), data, zipfile.ZIP_DEFLATED)
            entries.append(
                {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            )

        for path, data in _parts(contents, made):
            add(path, data)
        for trace in contents.files:
            if made.open_file is None:
                raise ValueError("staff files to enclose, and no way given to read them")
            path = stored_path(trace)
            # Photos, recordings and videos are compressed already: stored as they are.
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            digest, size = hashlib.sha256(), 0
            with bundle.open(info, "w", force_zip64=True) as out:
                for chunk in made.open_file(trace):
                    count(len(chunk))
                    size += len(chunk)
                    digest.update(chunk)
                    out.write(chunk)
            # What came out of the bucket is what the event recorded, or the dossier fails.
            if (size, digest.hexdigest()) != (trace.size, trace.sha256):
                raise ValueError(f"staff file {trace.file_id} does not match its record")
            entries.append({"path": path, "size": size, "sha256": trace.sha256})
        manifest = manifest_rules.sign(_manifest(contents, made, entries), key)
        written = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
        bundle.writestr(
            zipfile.ZipInfo(manifest_rules.MANIFEST, date_time=stamp), written, zipfile.ZIP_DEFLATED
        )
    return manifest


def _parts(contents: Contents, made: Made) -> Iterator[tuple[str, bytes]]:
    """Each entry in turn: made, then written and let go before the next is made."""
    org, lang, now = made.org, made.lang, made.at
    place = (
        "、".join(t.name for t in contents.towns)
        if lang == "zh"
        else ", ".join(t.name_en for t in contents.towns)
    )
    leads_title = _pick(lang, f"{place}线索台账", f"{place} lead ledger")
    yield LEADS, export.to_xlsx(contents.leads, org, lang, leads_title)
    tasks_title = _pick(lang, f"{place}整改台账", f"{place} rectification ledger")
    yield TASKS, task_export.to_xlsx(contents.tasks, org, lang, tasks_title, now)
    for campaign, report in contents.campaigns:
        kind = _pick(lang, *KIND_LABELS[campaign.kind])
        title = campaign.opened.title + _pick(lang, "情况表", ": report")
        yield (
            f"{CAMPAIGNS}/{kind}-{campaign.campaign_id}.xlsx",
            campaign_report.to_xlsx(report, lang, title, campaign.kind == "look_back"),
        )
    for read, text in zip(contents.notices, made.notice_texts, strict=True):
        yield f"{NOTICES}/{read.notice.notice_id}.txt", text.encode()
    yield STATISTICS, _statistics(contents, made, place).encode()
    yield TRACES, _traces(contents, made)


def _manifest(contents: Contents, made: Made, entries: list[dict[str, Any]]) -> dict[str, Any]:
    who = made.principal
    return {
        "format": manifest_rules.FORMAT,
        "period": {**contents.period.as_dict(), "zone": "Asia/Shanghai"},
        "generated": {
            "at": made.at.astimezone(CHINA).isoformat(),
            "zone": "Asia/Shanghai",
            "by": {"user": who.user, "role": who.role.value, "unit": who.unit},
        },
        "towns": [{"code": t.code, "name": t.name, "name_en": t.name_en} for t in contents.towns],
        "files": "enclosed" if contents.files else manifest_rules.REFERENCES_ONLY,
        "files_note": (
            "工作人员上传至线索和整改事项的工作痕迹随附于“工作痕迹/”下；整改进展和自查填报中"
            "列明的材料只列出文件名、大小和 SHA-256。"
            " The staff files uploaded to leads and items are enclosed under 工作痕迹/; the"
            " evidence named on progress reports and answers is listed by name, size and"
            " SHA-256 only."
        ),
        "counts": {
            "leads": len(contents.leads),
            "rectification_items": len(contents.tasks),
            "campaigns": len(contents.campaigns),
            "notices": len(contents.notices),
            "work_traces": len(contents.traces),
            "work_trace_files": len(contents.files),
        },
        "entries": entries,
    }


def _traces(contents: Contents, made: Made) -> bytes:
    lang = made.lang
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_pick(lang, zh, en) for zh, en in TRACE_HEADERS])
    for trace in contents.traces:
        writer.writerow(
            [
                _pick(lang, *TRACE_SOURCES[trace.source]),
                trace.ref,
                unit_label(trace.unit, made.org, lang),
                china_time(trace.at),
                inert_text(trace.name),
                str(trace.size),
                trace.sha256,
                "",
                "",
            ]
        )
    for stored in contents.files:
        writer.writerow(
            [
                _pick(lang, *TRACE_SOURCES[f"{stored.kind}_file"]),
                stored.owner_ref,
                unit_label(stored.unit, made.org, lang),
                china_time(stored.at),
                stored_path(stored),
                str(stored.size),
                stored.sha256,
                inert_text(stored.title),
                inert_text(stored.uploaded_by),
            ]
        )
    # The BOM makes Excel read the file as UTF-8, as the ledger's CSV export does.
    return buffer.getvalue().encode("utf-8-sig")


def stored_path(trace: StoredTrace) -> str:
    """Where a staff file is in the ZIP: by its owner and its random id, never its title
    (whatever the uploader typed stays out of the names the archive tools see)."""
    owner = _UNSAFE.sub("_", trace.owner_ref)
    return f"{STORED[trace.kind]}/{owner}/{trace.file_id}{EXTENSIONS.get(trace.media_type, '')}"


def _statistics(contents: Contents, made: Made, place: str) -> str:
    lang, org = made.lang, made.org

    def t(zh: str, en: str) -> str:
        return _pick(lang, zh, en)

    leads = contents.leads
    villages = Counter(
        unit_label(r["village"], org, lang) or t("未注明村", "no village") for r in leads
    )
    months = Counter(as_utc(r["registered_at"]).astimezone(CHINA).strftime("%Y-%m") for r in leads)
    categories = Counter(label(Category(r["category"]), lang) for r in leads)
    statuses = Counter(label(LeadStatus(r["status"]), lang) for r in leads)
    items = Counter(status_label(r["status"], lang) for r in contents.tasks)
    return made.render(
        "dossier_stats.html",
        lang=lang,
        t=t,
        title=t(f"{place}专题材料：统计", f"{place} dossier: statistics"),
        period_from=contents.period.first.isoformat(),
        period_to=contents.period.last.isoformat(),
        generated_at=made.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M (UTC+8)"),
        figures=[
            (t("本期登记线索", "Leads filed"), len(leads)),
            (t("整改事项", "Rectification items"), len(contents.tasks)),
            (t("专项工作", "Campaigns"), len(contents.campaigns)),
            (t("印发通报", "Notices issued"), len(contents.notices)),
            (t("工作痕迹", "Work traces"), len(contents.traces)),
        ],
        charts=[
            charts.rows(t("各村线索数", "Leads per village"), villages.most_common()),
            charts.columns(t("每月登记线索数", "Leads filed per month"), sorted(months.items())),
            charts.rows(t("各类别线索数", "Leads per category"), categories.most_common()),
            charts.rows(t("办理状态", "Where the leads stand"), statuses.most_common()),
            charts.rows(t("整改事项状态", "Rectification items"), items.most_common()),
        ],
    )
