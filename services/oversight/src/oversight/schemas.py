"""What the oversight API accepts, and what its lists answer."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from common.times import Deadline
from common.vocabulary import Conclusion

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


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SuperviseIn(_In):
    reason: str = Field(min_length=2, max_length=1000)


class ListSupervisionIn(_In):
    unit: str = Field(min_length=2, max_length=40)
    deadline: Deadline
    level: Literal["town", "county"] = "town"


class EscalateIn(_In):
    reason: str = Field(min_length=2, max_length=1000)


class LinkIn(_In):
    gang_lead_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class AccountabilityIn(_In):
    person: str = Field(min_length=1, max_length=100)
    unit: str = Field(min_length=2, max_length=40)
    kind: Literal["public_criticism", "accountability"]
    form: int = Field(ge=1, le=4)
    reason: str = Field(min_length=2, max_length=2000)


class OutcomeIn(_In):
    result: Conclusion


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
        description="viewed 查看、exported 导出、identity_disclosed 披露身份"
        " / viewed, exported or identity_disclosed"
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
