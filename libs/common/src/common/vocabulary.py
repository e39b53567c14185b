"""The campaign's fixed vocabulary, with the labels people read.

Codes are English and stable (they are stored in events); labels are for screens and
exports, zh-CN first with English available.
"""

from __future__ import annotations

from enum import StrEnum
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


# Keyed by code, compared by identity of its enum class too: Category.VILLAGE_TYRANT and
# Flag.VILLAGE_TYRANT are equal strings with different labels.
_LABEL_LIST: Final[tuple[tuple[StrEnum, tuple[str, str]], ...]] = (
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
)


_LABELS: Final[dict[tuple[type[StrEnum], str], tuple[str, str]]] = {
    (type(code), code.value): text for code, text in _LABEL_LIST
}


def label(code: StrEnum, lang: Language = "zh") -> str:
    """The label of a vocabulary code in the given language (zh-CN by default)."""
    zh, en = _LABELS[(type(code), code.value)]
    return zh if lang == "zh" else en
