"""What the oversight API accepts, and what its lists answer."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.events import Role
from common.times import Deadline
from common.vocabulary import Conclusion
from oversight.commands import (
    Command,
    Escalate,
    LinkUmbrella,
    ListSupervision,
    RecordAccountability,
    RecordOutcome,
    Supervise,
)
from oversight.domain.cases import rule_label

FIELD_LABELS: Final[dict[str, tuple[str, str]]] = {
    "reason": ("理由", "reason"),
    "unit": ("承办单位", "handling unit"),
    "deadline": ("督办时限", "deadline"),
    "level": ("督办层级", "level"),
    "gang_lead_id": ("涉黑涉恶线索", "gang lead"),
    "person": ("责任人", "responsible person"),
    "kind": ("处理方式", "kind"),
    "form": ("四种形态", "four-forms level"),
    "result": ("处理结果", "result"),
    "rule": ("督办规则", "rule"),
    "since": ("起始时间", "since"),
    "page": ("页码", "page"),
    "page_size": ("每页条数", "page size"),
    "lead_id": ("线索编号", "lead id"),
    "outsiders_only": ("仅看无关人员", "outsiders only"),
    "hours": ("时间窗口（小时）", "window in hours"),
}

#: What the list of supervisions filters on: an automatic rule (oversight.domain.cases
#: SUPERVISION_RULES), or "manual" for those a member opened by hand (BY_HAND).
RuleFilter = Literal["overdue", "same_matter", "open_too_long", "manual"]


class DecisionIn(BaseModel):
    """A decision on a case as a body (the API's JSON, the desk's form): what the command
    takes besides the case. The API and the desk build the command the same way."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @abstractmethod
    def command(self, case_id: str) -> Command:
        """The command this body asks for on the case."""


class SuperviseIn(DecisionIn):
    reason: str = Field(min_length=2, max_length=1000)

    def command(self, case_id: str) -> Supervise:
        return Supervise(case_id, self.reason)


class ListSupervisionIn(DecisionIn):
    unit: str = Field(min_length=2, max_length=40)
    deadline: Deadline
    level: Literal["town", "county"] = "town"

    def command(self, case_id: str) -> ListSupervision:
        return ListSupervision(case_id, self.unit, self.deadline, self.level)


class EscalateIn(DecisionIn):
    reason: str = Field(min_length=2, max_length=1000)

    def command(self, case_id: str) -> Escalate:
        return Escalate(case_id, self.reason)


class LinkIn(DecisionIn):
    gang_lead_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")

    def command(self, case_id: str) -> LinkUmbrella:
        return LinkUmbrella(case_id, self.gang_lead_id)


class AccountabilityIn(DecisionIn):
    person: str = Field(min_length=1, max_length=100)
    unit: str = Field(min_length=2, max_length=40)
    kind: Literal["public_criticism", "accountability"]
    form: int = Field(ge=1, le=4)
    reason: str = Field(min_length=2, max_length=2000)

    def command(self, case_id: str) -> RecordAccountability:
        return RecordAccountability(
            case_id, self.person, self.unit, self.kind, self.form, self.reason
        )


class OutcomeIn(DecisionIn):
    result: Conclusion

    def command(self, case_id: str) -> RecordOutcome:
        return RecordOutcome(case_id, self.result)


# --- what the lists answer ------------------------------------------------------------------


class SupervisionOut(BaseModel):
    """One supervision (督办), by hand or by an automatic rule, with or without a case."""

    supervision_id: str = Field(description="督办记录编号 / The supervision's id")
    lead_id: str = Field(description="线索编号 / The lead's id")
    ledger_number: str | None = Field(
        description="台账编号，未登记时为空 / The ledger number, none while the lead is not filed"
    )
    case_id: str | None = Field(
        description="纪委案件编号，无案件时为空 / The committee's case, none if it has none"
    )
    rule: str | None = Field(
        description="触发的自动规则（overdue 逾期、same_matter 同一事项多次举报、open_too_long"
        " 久拖未结），人工督办为空 / The automatic rule that fired (overdue, same_matter,"
        " open_too_long); none when a member opened it"
    )
    rule_label: str = Field(description="规则名称（中文）/ The rule's name in Chinese")
    rule_label_en: str = Field(description="规则名称（英文）/ The rule's name in English")
    reason: str = Field(description="督办理由 / Why")
    at: datetime = Field(description="督办时间 / When")
    unit: str | None = Field(
        description="现承办该线索的单位，未登记时为空 / The unit holding the lead now, none"
        " while it is not filed"
    )
    noticed_unit: str | None = Field(
        description="已收到督办通知的单位，尚未通知时为空 / The unit told of the supervision,"
        " none while the notice is owed"
    )
    noticed_at: datetime | None = Field(description="通知时间 / When the unit was told")


class SupervisionPage(BaseModel):
    total: int = Field(description="符合条件的督办总数 / How many supervisions match")
    page: int
    page_size: int
    items: list[SupervisionOut]


class AccessOut(BaseModel):
    """One view of a lead (a person's reads of it within minutes of the first, counted
    once), or one export or disclosure of identity."""

    event_id: str = Field(description="第一次访问的记录编号 / The first read's record")
    lead_id: str | None = Field(description="线索编号，导出台账时为空 / None for an export")
    at: datetime = Field(description="开始查看的时间（同 first_at）/ When the view began")
    first_at: datetime = Field(description="第一次访问时间 / The first read")
    last_at: datetime = Field(description="最后一次访问时间 / The last read")
    count: int = Field(description="这次查看包含的访问次数 / How many reads the view took")
    kind: str = Field(
        description="viewed 查看、exported 导出、identity_disclosed 披露身份、identity_requested"
        " 申请查阅身份、identity_approved 批准、identity_refused 拒绝 / viewed, exported,"
        " identity_disclosed, or a step of an identity request"
    )
    service: str = Field(description="在哪个系统中访问 / The service read in")
    user: str | None = Field(description="访问人 / Who")
    role: str = Field(description="访问人角色 / Their role")
    unit: str | None = Field(description="访问人单位 / Their unit")
    purpose: str = Field(description="第一次访问时说明的用途 / The purpose first given")
    purposes: list[str] = Field(description="说明过的全部用途 / Every purpose given, once each")
    outsider: bool = Field(
        description="访问人既非责任人、所在单位也未经手该线索 / Neither responsible for the lead"
        " nor in a unit that held it"
    )


class LeakRiskOut(BaseModel):
    """An outsider's view with a read shortly before one of the lead's key moments."""

    lead_id: str
    viewer: str | None = Field(description="访问人 / Who")
    viewer_role: str
    viewer_unit: str | None
    viewed_at: datetime = Field(
        description="该次查看中关键节点前的最后一次访问 / The view's last read before the moment"
    )
    first_at: datetime = Field(description="该次查看的第一次访问 / The view's first read")
    last_at: datetime = Field(description="该次查看的最后一次访问 / The view's last read")
    count: int = Field(description="该次查看包含的访问次数 / How many reads the view took")
    moment: str = Field(description="关键节点（事件类型）/ The key moment (its event type)")
    moment_at: datetime
    hours_before: float = Field(description="访问距关键节点的小时数 / Hours before the moment")


# --- one case in full ---------------------------------------------------------------------


class CaseSupervision(BaseModel):
    """A supervision of the case's lead (督办), by a member or by an automatic rule."""

    event_id: str = Field(description="督办记录编号 / The supervision's record")
    lead_id: str = Field(description="线索编号 / The lead's id")
    case_id: str | None = Field(description="纪委案件编号 / The committee's case, if any")
    kind: str = Field(
        description="supervision 督办、listed 挂牌督办、escalated 提级办理"
        " / supervision, listed (with a deadline) or escalated"
    )
    rule: str | None = Field(
        description="触发的自动规则，人工督办为空 / The automatic rule that fired; none by hand"
    )
    unit: str | None = Field(description="督办所指的单位 / The unit it was addressed to")
    deadline: datetime | None = Field(description="督办时限 / The deadline set, if any")
    level: str | None = Field(description="督办层级（town 镇级、county 县级）/ town or county")
    reason: str = Field(description="督办理由 / Why")
    at: datetime = Field(description="督办时间 / When")


class CaseAccountability(BaseModel):
    """Criticism or accountability recorded on the case (四种形态)."""

    event_id: str = Field(description="记录编号 / The record")
    case_id: str = Field(description="纪委案件编号 / The committee's case")
    lead_id: str = Field(description="线索编号 / The lead's id")
    person: str = Field(description="责任人 / The person held to account")
    unit: str = Field(description="责任人所在单位 / Their unit")
    kind: str = Field(
        description="public_criticism 通报批评、accountability 问责"
        " / public criticism or accountability"
    )
    form: int = Field(description="四种形态（1–4）/ The four-forms level (1 to 4)")
    reason: str = Field(description="理由 / Why")
    at: datetime = Field(description="记录时间 / When")


class AttachmentOut(BaseModel):
    """A file reference; the file itself is kept elsewhere, the hash pins it."""

    name: str = Field(description="文件名 / The file's name")
    size: int = Field(description="文件大小（字节）/ Its size in bytes")
    sha256: str = Field(description="文件的 SHA-256 摘要 / Its SHA-256 digest, in hex")


class ReportOut(BaseModel):
    """What was reported, as intake recorded it; never who reported."""

    reported_at: datetime = Field(description="举报时间 / When it was reported")
    channel: str = Field(
        description="举报渠道代码（web 网络举报、hotline 举报电话、mailbox 信箱/来信、walk_in 来访等，"
        "名称见 GET /v1/vocabulary）/ The channel's code (web, hotline, mailbox, walk_in, ...;"
        " named in GET /v1/vocabulary)"
    )
    category: str = Field(description="线索类别 / The category")
    village: str | None = Field(description="涉及村（社区）代码 / The village concerned, if any")
    summary: str = Field(description="举报摘要 / The summary")
    details: str = Field(
        description="举报详情（至多 10,000 字）/ The details (10,000 characters at most)"
    )
    attachments: list[AttachmentOut] = Field(
        description="举报时附带的文件 / The files that came with the report"
    )


class Author(BaseModel):
    """Who wrote an entry: the reporter (role ``reporter``, nothing else known) or staff."""

    role: str = Field(description="角色，举报人为 reporter / The role; reporter for the reporter")
    unit: str | None = Field(description="所在单位，举报人为空 / The unit; none for the reporter")
    user: str | None = Field(description="用户名，举报人为空 / The user; none for the reporter")


#: The kinds of entry of the exchange with the reporter, with their labels.
THREAD_KINDS: Final[dict[str, tuple[str, str]]] = {
    "supplement": ("补充材料", "supplement"),
    "message": ("留言", "message"),
    "feedback": ("反馈", "answer"),
}


class ThreadEntry(BaseModel):
    """One entry of the exchange with the reporter."""

    event_id: str = Field(description="记录编号 / The entry's record")
    kind: Literal["supplement", "message", "feedback"] = Field(
        description="supplement 补充材料、message 留言（举报人凭查询码所写，或工作人员代为录入），"
        "feedback 反馈（承办单位的答复，举报人凭查询码可见）/ supplement and message: written with"
        " the receipt (or typed in by staff for the reporter); feedback: the answer, which the"
        " reporter reads with the receipt"
    )
    kind_label: str = Field(description="类型名称（中文）/ The kind's name in Chinese")
    kind_label_en: str = Field(description="类型名称（英文）/ The kind's name in English")
    written_by: Literal["reporter", "staff"] = Field(
        description="由谁写的：reporter 举报人本人（凭查询码），staff 工作人员"
        " / Who wrote it: the reporter (with the receipt) or staff"
    )
    author: Author = Field(description="作者 / Its author")
    occurred_at: datetime = Field(description="时间 / When")
    text: str = Field(description="内容 / The text")
    attachments: list[AttachmentOut] = Field(description="附带的文件 / The files that came with it")
    method: str | None = Field(
        description="反馈方式（仅 feedback）/ How the answer was given (feedback only)"
    )


class CaseDetail(BaseModel):
    """One of the committee's cases in full: the case, what was reported, the exchange with
    the reporter, supervision and accountability."""

    case_id: str = Field(description="纪委案件编号 / The case's id")
    lead_id: str = Field(description="线索编号 / The lead's id")
    umbrella: bool = Field(description="是否保护伞案件 / Whether it is a protective-umbrella case")
    basis: str = Field(description="立案依据 / Why the case was opened")
    status: str = Field(
        description="open 已立案、supervised 督办中、listed 挂牌督办、escalated 已提级、closed 已结案"
        " / open, supervised, listed, escalated or closed"
    )
    opened_at: datetime = Field(description="立案时间 / When the case was opened")
    linked_gang_lead: str | None = Field(
        description="同步侦办的涉黑涉恶线索 / The gang lead it is investigated with, if linked"
    )
    outcome: str | None = Field(description="处理结果 / The discipline outcome, once recorded")
    listed_deadline: datetime | None = Field(description="挂牌督办时限 / The listed deadline")
    escalated: bool = Field(description="是否已提级办理 / Whether it was escalated")
    updated_at: datetime = Field(description="最后变动时间 / When the case last changed")
    ledger_number: str | None = Field(
        description="台账编号，未登记时为空 / The ledger number, none while not filed"
    )
    category: str | None = Field(description="线索类别 / The lead's category")
    village: str | None = Field(description="涉及村（社区）/ The village concerned")
    summary: str | None = Field(description="举报摘要 / The summary")
    report: ReportOut | None = Field(
        description="举报内容（详情、附件、渠道等），尚未读到举报时为空；不含举报人身份"
        " / What was reported (details, attachments, channel, ...), none until the report is"
        " read; never who reported"
    )
    thread: list[ThreadEntry] = Field(
        description="与举报人的往来：举报人的补充材料、留言和承办单位的反馈，按时间先后"
        " / The exchange with the reporter: their supplements and messages and the answers"
        " given, oldest first"
    )
    supervision: list[CaseSupervision] = Field(
        description="该线索的全部督办，按时间先后 / Every supervision of the lead, oldest first"
    )
    accountability: list[CaseAccountability] = Field(
        description="本案记录的批评问责 / The criticism and accountability recorded on the case"
    )


# --- shaping what the application reads -------------------------------------------------------


def supervision_out(row: dict[str, Any]) -> SupervisionOut:
    zh, en = rule_label(row["rule"])
    return SupervisionOut(**row, rule_label=zh, rule_label_en=en)


# The parts of a case answered as lists or objects of their own.
_NESTED: Final = frozenset({"report", "thread", "supervision", "accountability"})


def case_detail(found: dict[str, Any]) -> CaseDetail:
    report = found["report"]
    return CaseDetail(
        **{k: found[k] for k in CaseDetail.model_fields if k not in _NESTED},
        report=None if report is None else ReportOut(**report),
        thread=[thread_entry(e) for e in found["thread"]],
        supervision=[CaseSupervision(**s) for s in found["supervision"]],
        accountability=[CaseAccountability(**a) for a in found["accountability"]],
    )


def thread_entry(entry: dict[str, Any]) -> ThreadEntry:
    label, label_en = THREAD_KINDS[entry["kind"]]
    return ThreadEntry(
        event_id=entry["event_id"],
        kind=entry["kind"],
        kind_label=label,
        kind_label_en=label_en,
        written_by="reporter" if entry["author_role"] == Role.REPORTER.value else "staff",
        author=Author(
            role=entry["author_role"], unit=entry["author_unit"], user=entry["author_user"]
        ),
        occurred_at=entry["occurred_at"],
        text=entry["text"],
        attachments=entry["attachments"],
        method=entry["method"],
    )
