"""The campaign's fixed vocabulary, with the labels people read.

Codes are English and stable (they are stored in events); labels are for screens and
exports, zh-CN first with English available.
"""

from __future__ import annotations

from enum import Enum, IntEnum, StrEnum
from typing import Final, Literal

Language = Literal["zh", "en"]


class Channel(StrEnum):
    HOTLINE = "hotline"
    MAILBOX = "mailbox"
    WEB = "web"
    WALK_IN = "walk_in"
    VILLAGE_SCREENING = "village_screening"
    POLICE_INCIDENT = "police_incident"
    JUDICIAL_OFFICE = "judicial_office"
    DEPARTMENTAL_INSPECTION = "departmental_inspection"
    HIGHER_LEVEL = "higher_level"


class Category(StrEnum):
    PETITION = "petition"
    PUBLIC_ORDER = "public_order"
    DUTY_CRIME = "duty_crime"
    MINOR_CRIMINAL = "minor_criminal"
    MASS_ECONOMIC = "mass_economic"
    VILLAGE_TYRANT = "village_tyrant"
    PROTECTIVE_UMBRELLA = "protective_umbrella"
    CULT_VICE = "cult_vice"
    OTHER = "other"


class Flag(StrEnum):
    """Marks on a lead that change who must see it and how fast."""

    INVOLVES_OFFICIAL = "involves_official"
    PROTECTIVE_UMBRELLA = "protective_umbrella"
    VILLAGE_TYRANT = "village_tyrant"
    KEY_PERSON_OR_PLACE = "key_person_or_place"


class Conclusion(StrEnum):
    SUBSTANTIATED = "substantiated"
    PARTLY_SUBSTANTIATED = "partly_substantiated"
    UNSUBSTANTIATED = "unsubstantiated"
    NOT_IN_SCOPE = "not_in_scope"


class LeadStatus(StrEnum):
    REPORTED = "reported"
    REGISTERED = "registered"
    TRANSFERRED = "transferred"
    RETURNED = "returned"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    VERIFYING = "verifying"
    CONCLUDED = "concluded"
    ANSWERED = "answered"
    ARCHIVED = "archived"
    REOPENED = "reopened"


class AccountabilityKind(StrEnum):
    """What a sanction against a responsible person is."""

    PUBLIC_CRITICISM = "public_criticism"
    ACCOUNTABILITY = "accountability"


class AccountabilityForm(IntEnum):
    """The "four forms" (四种形态) of discipline enforcement, lightest first."""

    FIRST = 1
    SECOND = 2
    THIRD = 3
    FOURTH = 4


class SupervisionLevel(StrEnum):
    """Who lists a supervision (挂牌督办): the town or the county above it."""

    TOWN = "town"
    COUNTY = "county"


class SupervisionRule(StrEnum):
    """Why a lead came under the committee's supervision: an automatic rule, or a member's
    decision (manual, which the events say as no rule)."""

    OVERDUE = "overdue"
    SAME_MATTER = "same_matter"
    OPEN_TOO_LONG = "open_too_long"
    MANUAL = "manual"


class AdditionKind(StrEnum):
    """What a reporter adds to a lead with the receipt."""

    SUPPLEMENT = "supplement"
    MESSAGE = "message"


class ExportFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


#: The languages labels are given in, with their own labels.
LANGUAGES: Final[dict[Language, tuple[str, str]]] = {
    "zh": ("中文", "Chinese"),
    "en": ("英文", "English"),
}

#: Roles of common.events.Role, by code, as pages name the person acting (the events module
#: imports this one).
ROLES: Final[dict[str, tuple[str, str]]] = {
    "reporter": ("举报人", "reporter"),
    "screener": ("村级摸排员", "village screener"),
    "clerk": ("登记员", "clerk"),
    "office": ("扫黑办", "leading-group office"),
    "police": ("派出所", "police"),
    "judicial": ("司法所", "judicial office"),
    "discipline": ("纪委", "discipline committee"),
    "custodian": ("身份保管员", "custodian"),
    "auditor": ("审计", "auditor"),
    "admin": ("管理员", "administrator"),
    "system": ("系统", "system"),
}

#: The kinds of unit of common.organisation.UnitKind, by code (the organisation names them,
#: and imports this module).
UNIT_KINDS: Final[dict[str, tuple[str, str]]] = {
    "county": ("县级单位", "county level"),
    "office": ("镇扫黑办", "town leading-group office"),
    "police": ("派出所", "police station"),
    "judicial": ("司法所", "judicial office"),
    "discipline": ("纪委", "discipline committee"),
    "village": ("村", "village"),
}


# Keyed by code, compared by identity of its enum class too: Category.VILLAGE_TYRANT and
# Flag.VILLAGE_TYRANT are equal strings with different labels.
_LABEL_LIST: Final[tuple[tuple[Enum, tuple[str, str]], ...]] = (
    (Channel.HOTLINE, ("举报电话", "hotline")),
    (Channel.MAILBOX, ("举报信箱/来信", "mailbox or letter")),
    (Channel.WEB, ("网络举报", "web")),
    (Channel.WALK_IN, ("来访", "walk-in")),
    (Channel.VILLAGE_SCREENING, ("村级摸排", "village screening")),
    (Channel.POLICE_INCIDENT, ("公安警情", "police incident system")),
    (Channel.JUDICIAL_OFFICE, ("司法所(社区矫正)", "judicial office (community corrections)")),
    (Channel.DEPARTMENTAL_INSPECTION, ("部门排查", "departmental inspection")),
    (Channel.HIGHER_LEVEL, ("上级交办", "higher-level assignment")),
    (Category.PETITION, ("信访", "petition-related")),
    (Category.PUBLIC_ORDER, ("治安", "public order")),
    (Category.DUTY_CRIME, ("职务犯罪", "duty crime by officials")),
    (Category.MINOR_CRIMINAL, ("轻微刑事", "minor criminal")),
    (Category.MASS_ECONOMIC, ("涉众型经济", "mass-involvement economic")),
    (Category.VILLAGE_TYRANT, ("村霸", "village tyrant")),
    (Category.PROTECTIVE_UMBRELLA, ("保护伞", "protective umbrella")),
    (Category.CULT_VICE, ("邪教/黄赌毒", "cult, vice, gambling, drugs")),
    (Category.OTHER, ("其他", "other")),
    (Flag.INVOLVES_OFFICIAL, ("涉及党员或公职人员", "involves a party member or public official")),
    (Flag.PROTECTIVE_UMBRELLA, ("涉嫌保护伞", "protective umbrella")),
    (Flag.VILLAGE_TYRANT, ("涉嫌村霸", "village tyrant")),
    (Flag.KEY_PERSON_OR_PLACE, ("重点人员/场所", "key person or place")),
    (Conclusion.SUBSTANTIATED, ("属实", "substantiated")),
    (Conclusion.PARTLY_SUBSTANTIATED, ("部分属实", "partly substantiated")),
    (Conclusion.UNSUBSTANTIATED, ("不属实", "unsubstantiated")),
    (Conclusion.NOT_IN_SCOPE, ("不属于涉黑涉恶", "not in scope")),
    (LeadStatus.REPORTED, ("已受理", "reported")),
    (LeadStatus.REGISTERED, ("已登记", "registered")),
    (LeadStatus.TRANSFERRED, ("已移交", "transferred")),
    (LeadStatus.RETURNED, ("已退回", "returned by the receiving unit")),
    (LeadStatus.ACCEPTED, ("已接收", "accepted")),
    (LeadStatus.ASSIGNED, ("已责任到人", "responsibility assigned")),
    (LeadStatus.VERIFYING, ("核查中", "under verification")),
    (LeadStatus.CONCLUDED, ("已办结", "concluded")),
    (LeadStatus.ANSWERED, ("已反馈", "reporter answered")),
    (LeadStatus.ARCHIVED, ("已归档", "archived")),
    (LeadStatus.REOPENED, ("回头看", "reopened for look-back review")),
    (AccountabilityKind.PUBLIC_CRITICISM, ("通报批评", "public criticism")),
    (AccountabilityKind.ACCOUNTABILITY, ("问责", "accountability")),
    (
        AccountabilityForm.FIRST,
        ("第一种形态：批评教育、谈话函询", "first form: criticism, talks and written inquiries"),
    ),
    (
        AccountabilityForm.SECOND,
        ("第二种形态：党纪轻处分、组织调整", "second form: light party sanction, change of post"),
    ),
    (
        AccountabilityForm.THIRD,
        (
            "第三种形态：党纪重处分、重大职务调整",
            "third form: heavy party sanction, major change of post",
        ),
    ),
    (
        AccountabilityForm.FOURTH,
        (
            "第四种形态：严重违纪涉嫌违法立案审查",
            "fourth form: serious violation, investigated for a suspected crime",
        ),
    ),
    (SupervisionLevel.TOWN, ("镇级挂牌督办", "listed by the town")),
    (SupervisionLevel.COUNTY, ("县级挂牌督办", "listed by the county")),
    (SupervisionRule.OVERDUE, ("超期未办结", "past its deadline")),
    (
        SupervisionRule.SAME_MATTER,
        ("同一事项多次举报", "reported repeatedly about the same matter"),
    ),
    (SupervisionRule.OPEN_TOO_LONG, ("长期未办结", "open too long")),
    (SupervisionRule.MANUAL, ("人工督办", "opened by hand")),
    (AdditionKind.SUPPLEMENT, ("补充举报内容", "supplement to the report")),
    (AdditionKind.MESSAGE, ("留言", "message")),
    (ExportFormat.XLSX, ("Excel 表格", "Excel workbook")),
    (ExportFormat.CSV, ("CSV 文件", "CSV file")),
)


_LABELS: Final[dict[tuple[type[Enum], object], tuple[str, str]]] = {
    (type(code), code.value): text for code, text in _LABEL_LIST
}

#: Every vocabulary of codes people choose or read, in the order screens list them.
VOCABULARIES: Final[tuple[type[Enum], ...]] = (
    Channel,
    Category,
    Flag,
    LeadStatus,
    Conclusion,
    AccountabilityKind,
    AccountabilityForm,
    SupervisionLevel,
    SupervisionRule,
    AdditionKind,
    ExportFormat,
)


# --- the office's work beyond leads, and the people's declarations -----------------------
# Codes of the events' own types (common.events.tasks, .campaigns, .notices, .custody,
# .conflict, .accounts), labelled here once: /v1/vocabulary lists them, and the pages and
# exports of every service take their words from here.
Labels = dict[str, tuple[str, str]]

TASK_SOURCES: Final[Labels] = {
    "plan": ("工作任务清单", "work plan"),
    "inspection": ("督导反馈问题", "inspection finding"),
    "self_check": ("自查自纠", "self-inspection"),
    "look_back": ("回头看", "look-back review"),
}
TASK_STATUSES: Final[Labels] = {
    "open": ("整改中", "in progress"),
    "closure_requested": ("申请销号", "closure requested"),
    "returned": ("退回整改", "returned"),
    "closed": ("已销号", "closed"),
}
CAMPAIGN_KINDS: Final[Labels] = {
    "self_check": ("自查自纠", "self-inspection"),
    "look_back": ("回头看", "look-back review"),
}
CAMPAIGN_ANSWERS: Final[Labels] = {
    "done": ("已完成", "done"),
    "partly": ("部分完成", "partly done"),
    "not": ("未完成", "not done"),
}
NOTICE_KINDS: Final[Labels] = {
    "praise": ("通报表扬", "praise"),
    "criticism": ("通报批评", "criticism"),
}
NOTICE_STATUSES: Final[Labels] = {
    "draft": ("草稿", "draft"),
    "issued": ("已印发", "issued"),
    "withdrawn": ("已撤回", "withdrawn"),
}
DECLARATION_KINDS: Final[Labels] = {
    "village": ("与某村有利害关系", "a tie to a village"),
    "person": ("与某人有利害关系", "a tie to a person"),
    "business": ("与某企业有利害关系", "a tie to a business"),
    "alias": ("曾用名、别名", "another name one goes by"),
}
IDENTITY_REASONS: Final[Labels] = {
    "protect": ("保护举报人或证人安全", "to protect the reporter or a witness"),
    "statement": ("调查取证、制作询问笔录", "to take a statement"),
    "verify": ("核实举报内容", "to verify what was reported"),
    "reward": ("兑现举报奖励", "to pay a reward for the report"),
    "answer": ("向举报人反馈办理结果", "to tell the reporter the outcome"),
}
GUARD_REASONS: Final[Labels] = {
    "accountability": ("涉及问责案件", "subject of an accountability case"),
    "umbrella": ("涉及保护伞案件", "subject of an umbrella case"),
    "other": ("其他利害关系", "another conflict of interest"),
}
OVERRIDE_DECISIONS: Final[Labels] = {
    "approve": ("同意", "approve"),
    "refuse": ("不同意", "refuse"),
}


def label(code: Enum, lang: Language = "zh") -> str:
    """The label of a vocabulary code in the given language (zh-CN by default)."""
    zh, en = _LABELS[(type(code), code.value)]
    return zh if lang == "zh" else en
