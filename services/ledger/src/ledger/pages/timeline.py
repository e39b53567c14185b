"""A lead's history as people read it: each event named, who recorded it and when (China
time), and what it says, from the history the API answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ledger.pages.shared import Show
from ledger.schemas import HistoryEntry

EVENTS: Final[dict[str, tuple[str, str]]] = {
    "LeadRegistered": ("登记", "filed"),
    "LeadTransferred": ("移交", "transferred"),
    "TransferAccepted": ("接收移交", "transfer accepted"),
    "TransferReturned": ("退回移交", "transfer returned"),
    "ResponsibilityAssigned": ("责任到人", "responsibility assigned"),
    "DeadlineExtended": ("延长时限", "deadline extended"),
    "DeadlineMissed": ("超过办理时限", "deadline missed"),
    "VerificationRecorded": ("核查情况", "verification recorded"),
    "LeadConcluded": ("办结", "concluded"),
    "FeedbackGiven": ("答复举报人", "reporter answered"),
    "LeadArchived": ("归档", "archived"),
    "LeadReopened": ("重新启用（回头看）", "reopened for a look-back review"),
    "SupervisionListed": ("挂牌督办", "listed for supervision"),
    "SupervisionNoticed": ("督办通知", "supervision notice"),
    "DisciplineOutcome": ("纪委处理结果", "the discipline committee's outcome"),
    "LeadFileAttached": ("上传工作痕迹", "staff file added"),
}

SUPERVISION: Final = frozenset({"SupervisionListed", "SupervisionNoticed"})

Shown = Callable[[Show, Any], str]


def _text(_: Show, value: Any) -> str:
    return str(value)


def _files(_: Show, value: Any) -> str:
    return "、".join(f"{f['name']} ({f['size']} B, SHA-256 {f['sha256']})" for f in value)


# What an event's data says, in the order it is read: (field, Chinese, English, how shown).
FIELDS: Final[tuple[tuple[str, str, str, Shown], ...]] = (
    ("ledger_number", "台账编号", "ledger number", _text),
    ("category", "类别", "category", lambda s, v: s.category(v)),
    ("channel", "来源渠道", "channel", lambda s, v: s.channel(v)),
    ("village", "村", "village", lambda s, v: s.unit(v)),
    ("from_unit", "移出单位", "from", lambda s, v: s.unit(v)),
    ("to_unit", "移交至", "to", lambda s, v: s.unit(v)),
    ("unit", "单位", "unit", lambda s, v: s.unit(v)),
    ("assignee_name", "责任人", "responsible", _text),
    ("deadline", "办理时限", "deadline", lambda s, v: s.time(v)),
    ("level", "督办级别", "level", _text),
    ("rule", "督办规则", "rule", lambda s, v: s.rule(v)),
    ("result", "核查结果", "result", lambda s, v: s.result(v)),
    ("summary", "内容", "summary", _text),
    ("note", "核查情况", "note", _text),
    ("evidence", "证据材料", "evidence", _files),
    ("text", "答复内容", "answer", _text),
    ("reason", "理由", "reason", _text),
    ("title", "工作痕迹", "staff file", _text),
)


@dataclass(frozen=True)
class Step:
    event_type: str
    name: str
    stream: str
    at: str
    at_iso: str
    who: str
    said: list[tuple[str, str]]


def _who(show: Show, actor: dict[str, str | None]) -> str:
    parts = [show.unit(actor.get("unit")) or show.role(actor.get("role"))]
    if actor.get("user"):
        parts.append(str(actor["user"]))
    return " · ".join(p for p in parts if p)


def steps(history: list[HistoryEntry], show: Show) -> list[Step]:
    pick = 0 if show.lang == "zh" else 1
    return [
        Step(
            event_type=entry.event_type,
            name=EVENTS.get(entry.event_type, (entry.event_type, entry.event_type))[pick],
            stream=entry.stream,
            at=show.time(entry.occurred_at),
            at_iso=show.iso(entry.occurred_at),
            who=_who(show, entry.actor),
            said=[
                ((zh, en)[pick], shown(show, entry.data[name]))
                for name, zh, en, shown in FIELDS
                if entry.data.get(name) not in (None, "", [], ())
            ],
        )
        for entry in history
    ]
