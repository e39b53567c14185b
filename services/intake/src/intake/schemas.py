"""What the intake API accepts and answers. Field labels (zh-CN, English) are what a refused
request names."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.inputs import AttachmentIn
from common.vocabulary import Category, Channel, Flag
from intake.commands import ReportContent
from intake.signed_receipts import MAX_BYTES, NOTE, TYPE, VERSION, VerdictReason
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


SIGNED_RECEIPT: Final = (
    "签名回执：一份 JSON 文本，请原样保存为文件（例如 receipt.json），一个字节也不要改。"
    "它证明本系统在什么时间收到了什么内容：线索编号、提交时间（UTC）、举报内容的 SHA-256、"
    "每个附件的 SHA-256 和大小，由本系统的 Ed25519 密钥签名（公钥见 GET /v1/receipts/public-key；"
    "用 POST /v1/receipts/verify、/verify-receipt 页面或 `leadctl verify-receipt` 核验）。"
    "它不含举报人身份、查询码或附件文件名；只给这一次，本系统不保存。"
    " The signed receipt: a JSON text to be saved as a file exactly as it is (not one byte"
    " changed). It proves what this service received and when: the lead id, the time (UTC),"
    " the SHA-256 of the report's content and the SHA-256 and size of each attachment,"
    " signed with this service's Ed25519 key (public key at GET /v1/receipts/public-key;"
    " check it with POST /v1/receipts/verify, the /verify-receipt page or `leadctl"
    " verify-receipt`). It holds no identity, no receipt code and no file names; it is given"
    " this once and not kept here."
)


class ReportAccepted(BaseModel):
    lead_id: str
    receipt: str
    receipt_note: str = (
        "请抄下并妥善保管此查询码，它只显示这一次，凭它可查询办理结果、补充材料。"
        " Write this code down and keep it safe: it is shown only this once; with it you can"
        " follow your report and add to it."
    )
    signed_receipt: str = Field(description=SIGNED_RECEIPT)


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
    signed_receipt: str = Field(
        description="可交给举报人的签名回执（同公开举报的回执）。 The signed receipt, to hand"
        " to the reporter (as a public report's). " + SIGNED_RECEIPT
    )


class ReceiptKey(BaseModel):
    key_id: str = Field(
        description="密钥编号：公钥 SHA-256 的前 16 位十六进制 / the first 16"
        " hex digits of the SHA-256 of the public key's 32 bytes"
    )
    public_key: str = Field(
        description="Ed25519 公钥的 32 个字节，base64 / the Ed25519 public"
        " key's 32 raw bytes, base64"
    )
    current: bool = Field(
        description="是否为当前签发用的密钥（否则为已停用、仍可核验的旧密钥）"
        " / whether receipts are signed with it now (else an earlier key,"
        " whose receipts still verify)"
    )


class ReceiptKeys(BaseModel):
    """The public keys receipts are signed with: anyone may check a receipt with them."""

    algorithm: Literal["Ed25519"] = "Ed25519"
    keys: list[ReceiptKey]


class ReceiptFileHash(BaseModel):
    sha256: str
    size: int


class ReceiptVerdict(BaseModel):
    """Whether a receipt document was issued here and is unchanged; if not, why not."""

    valid: bool
    reason: VerdictReason = Field(
        description="valid 有效; malformed 不是完整的回执或文字被改动; unknown_key 签名密钥未公布;"
        " bad_signature 签名不符 / valid; malformed: not a whole receipt, or its text was"
        " changed; unknown_key: signed with a key not published here; bad_signature: the"
        " signature does not hold"
    )
    message: str
    message_en: str
    key_id: str | None = None
    lead_id: str | None = None
    reported_at: str | None = None
    content_sha256: str | None = None
    attachments: list[ReceiptFileHash] | None = None


def _sha256(zh: str, en: str) -> dict[str, Any]:
    return {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": f"{zh} / {en}"}


#: The receipt document, as the verification's body is documented (the body is read as
#: bytes: a document that is not exactly as issued is answered as malformed, not refused).
RECEIPT_DOCUMENT_SCHEMA: Final[dict[str, Any]] = {
    "title": "SignedReceipt",
    "description": "签名回执文件的原样内容（规范 JSON：键排序、无空白、UTF-8）。"
    " The receipt file's bytes as they are (canonical JSON: keys sorted, no whitespace, UTF-8;"
    f" at most {MAX_BYTES} bytes).",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "attachments",
        "content_sha256",
        "key_id",
        "lead_id",
        "note",
        "reported_at",
        "signature",
        "type",
        "version",
    ],
    "properties": {
        "version": {"type": "integer", "enum": [VERSION]},
        "type": {"type": "string", "enum": [TYPE]},
        "lead_id": {"type": "string", "description": "线索编号 / the lead id"},
        "reported_at": {
            "type": "string",
            "description": "本系统收到举报的时间（UTC） / when this service recorded it (UTC)",
        },
        "content_sha256": _sha256(
            "举报内容的 SHA-256：{attachments:[{sha256,size}],category,details,flags,summary,"
            "village} 的规范 JSON（不含身份）",
            "SHA-256 of the canonical JSON of {attachments:[{sha256,size}], category, details,"
            " flags, summary, village} as recorded (never the identity)",
        ),
        "attachments": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["sha256", "size"],
                "properties": {
                    "sha256": _sha256("附件的 SHA-256", "the file's SHA-256"),
                    "size": {"type": "integer", "minimum": 0},
                },
            },
        },
        "note": {"type": "string", "enum": [NOTE]},
        "key_id": {"type": "string", "description": "签名密钥编号 / the signing key's id"},
        "signature": {
            "type": "string",
            "description": "对其余栏目规范 JSON 的 Ed25519 签名，base64 / Ed25519 signature over"
            " the canonical JSON of every other field, base64",
        },
    },
}


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
