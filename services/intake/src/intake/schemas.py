"""What the intake API accepts and answers. Field labels (zh-CN, English) are what a refused
request names."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.inputs import AttachmentIn
from common.vocabulary import Category, Channel, Flag
from intake.commands import ReportContent
from intake.vault import Identity

FIELD_LABELS: Final[dict[str, tuple[str, str]]] = {
    "category": ("线索类别", "category"),
    "summary": ("简要内容", "summary"),
    "details": ("详细情况", "details"),
    "village": ("所属村", "village"),
    "flags": ("线索标记", "flags"),
    "identity": ("举报人信息", "reporter identity"),
    "name": ("举报人姓名", "reporter's name"),
    "phone": ("联系电话", "phone"),
    "id_number": ("身份证号", "ID number"),
    "address": ("住址", "address"),
    "attachments": ("附件", "attachments"),
    "sha256": ("附件校验值", "attachment SHA-256"),
    "size": ("附件大小", "attachment size"),
    "channel": ("来源渠道", "channel"),
    "text": ("内容", "text"),
    "kind": ("类型", "kind"),
    "reason": ("理由", "reason"),
    "file": ("文件", "file"),
    "lead_id": ("线索编号", "lead id"),
}

STAFF_CHANNELS: Final = frozenset(Channel) - {Channel.WEB}


class LeadContent(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: Category
    summary: str = Field(min_length=5, max_length=500)
    details: str = Field(default="", max_length=10_000)
    village: str | None = Field(default=None, max_length=40)
    flags: list[Flag] = Field(default_factory=list, max_length=len(Flag))
    identity: Identity | None = None
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)

    def content(self) -> ReportContent:
        """What the report says, as the commands carry it."""
        return ReportContent(
            category=self.category,
            summary=self.summary,
            details=self.details,
            village=self.village,
            flags=tuple(self.flags),
            identity=self.identity,
            attachments=tuple(a.recorded() for a in self.attachments),
        )


class PublicReport(LeadContent):
    """A report from a member of the public: by name or anonymously, no account."""


class StaffLead(LeadContent):
    """A lead typed in by staff from a phone call, a letter, a visit or their own work."""

    channel: Channel


class ReportAccepted(BaseModel):
    lead_id: str
    receipt: str
    receipt_note: str = (
        "请抄下并妥善保管此查询码，它只显示这一次，凭它可查询办理结果、补充材料。"
        " Write this code down and keep it safe: it is shown only this once; with it you can"
        " follow your report and add to it."
    )


class WorkChallenge(BaseModel):
    """A puzzle to solve before a public request: find a decimal nonce such that
    SHA-256 of "<challenge>:<nonce>" begins with ``bits`` zero bits, then send
    "X-Work: <challenge>:<nonce>" with the request. Each challenge is spent once."""

    challenge: str
    bits: int
    algorithm: Literal["sha256-leading-zero-bits"] = "sha256-leading-zero-bits"
    expires_at: str
    header: str = "X-Work"


class LeadAccepted(BaseModel):
    lead_id: str


class ReporterMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["supplement", "message"] = "supplement"
    text: str = Field(min_length=1, max_length=10_000)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=4, max_length=1000)


class FeedbackOut(BaseModel):
    text: str
    given_at: str


class ReceiptStatus(BaseModel):
    status: str
    status_label: str
    status_label_en: str
    reported_at: str
    feedback: list[FeedbackOut]


class ImportRowResult(BaseModel):
    row: int
    accepted: bool
    lead_id: str | None = None
    already_imported: bool = False
    errors: list[dict[str, str]] = Field(default_factory=list)


class ImportResult(BaseModel):
    accepted: int
    rejected: int
    already_imported: int
    rows: list[ImportRowResult]
