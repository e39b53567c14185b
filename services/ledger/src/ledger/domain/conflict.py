"""Whether a lead may be handed to a person, given who they are tied to (利害关系), so that no
insider tips off the people a lead names (通风报信) or shields them (保护伞).

A hand-over is refused when the lead names the person (their name or a declared alias in
the summary, the details or what the reporter added), when the person declared a tie to
the lead's village or to a village, person or business the lead names, when they recused
themselves from the lead, or when the committee keeps them off it. The committee's
approval lets it through; it is then recorded as an override.

Names: Chinese names are two to four characters with no spaces around them, so a name is
matched as a whole string of at least two characters, never a part of one (a surname
alone, one character, would match half the ledger). Spaces and the dots between the parts
of a name (陈 建国, 阿卜杜·热合曼) are removed from both sides first, so spacing does not
hide a name. A name in Latin letters is matched as a whole word. A two-character name
that is also a common word (建国, 平安, 国庆) does match where the word is used: the
guard errs towards refusing, the reason says which text matched (never the text itself),
and the office may ask the committee to let it through.

The same rule guards a task or rectification item (工作任务清单, 整改台账) given a responsible
person, opened or reassigned (:func:`task_refusals`): the matter is the item's problem and
measures (where it came from, ``source_ref``, names a document, not the matter), its village
is the responsible unit when that unit is a village, and a village the texts name counts as
for a lead. The committee's guards stand on leads; on an item only the accountability and
umbrella ones count, whichever lead they were set on: they say the person is the subject of
an open case, which keeps them from being made responsible for any item, while an "other"
guard speaks of one lead only. No override exists for an item: the committee's approval is
given for one lead and one person, and an item, unlike a lead, can be given to any other
person of the unit without anyone learning what the refusal was about."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from common.events import Event
from common.events.conflict import (
    ConflictGuardLifted,
    ConflictGuardSet,
    ConflictOverrideApproved,
    ConflictOverrideRefused,
)

SHORTEST_NAME: Final = 2
# Removed before comparing: spacing and the separators inside a name.
_SEPARATORS: Final = re.compile(r"[\s\u00b7\u2022\u30fb\u2027.\-_]+")
_LATIN: Final = re.compile(r"^[a-z0-9]+$")


@dataclass(frozen=True, slots=True)
class LeadTexts:
    """What the ledger holds of a lead that may name someone."""

    summary: str
    details: str
    additions: tuple[str, ...]
    village: str | None
    #: each village's code and name, to read a village the texts name
    villages: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Target:
    """The person the lead would be handed to, and what they declared."""

    user: str
    display_name: str
    aliases: tuple[str, ...] = ()
    #: (kind, name): village (its code), person, business
    ties: tuple[tuple[str, str], ...] = ()
    recused_from: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Ground:
    """One reason a hand-over is refused: a stable code and the sentence in both languages."""

    code: str
    zh: str
    en: str


_FIELDS: Final = (("summary", "简要内容"), ("details", "详细情况"), ("additions", "举报人补充"))
_GUARDS: Final[Mapping[str, tuple[str, str]]] = {
    "accountability": ("纪委问责案件的当事人", "the subject of an accountability case"),
    "umbrella": ("纪委保护伞案件的当事人", "the subject of an umbrella case"),
    "other": ("纪委认定与本线索存在利害关系", "conflicted, as the committee found"),
}


def _plain(text: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).casefold())


def _named_in(name: str, texts: Mapping[str, str]) -> list[str]:
    """The fields whose text names ``name`` as a whole."""
    plain = _plain(name)
    if len(plain) < SHORTEST_NAME:
        return []
    if _LATIN.fullmatch(plain):
        # Latin names keep their word boundaries: compared on the texts as written.
        word = re.compile(
            r"(?<![a-z0-9])" + r"[\s.\-_]*".join(map(re.escape, plain)) + r"(?![a-z0-9])"
        )
        return [
            field
            for field, text in texts.items()
            if word.search(unicodedata.normalize("NFKC", text).casefold())
        ]
    return [field for field, text in texts.items() if plain in _plain(text)]


#: the committee's guards that keep a person off every item, not only the guarded lead
_CASE_GUARDS: Final = frozenset({"accountability", "umbrella"})


@dataclass(frozen=True, slots=True)
class TaskTexts:
    """What an item holds that may name someone."""

    problem: str
    measures: tuple[str, ...]
    #: the responsible unit's code when it is a village, else None
    village: str | None
    villages: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Matter:
    """What the rule reads of a lead or an item: its texts by field, their labels, its
    village and the words for it in a refusal."""

    texts: Mapping[str, str]
    labels: Mapping[str, str]
    village: str | None
    villages: Mapping[str, str]
    zh: str
    en: str
    person_zh: str
    person_en: str


def refusals(
    lead_id: str,
    lead: LeadTexts,
    target: Target,
    guards: Mapping[str, str],
) -> tuple[Ground, ...]:
    """Every reason handing ``lead_id`` to ``target`` is refused (none: it may be).

    ``guards`` are the committee's, for this lead: account -> reason category."""
    matter = _Matter(
        texts={
            "summary": lead.summary,
            "details": lead.details,
            "additions": "\n".join(lead.additions),
        },
        labels=dict(_FIELDS),
        village=lead.village,
        villages=lead.villages,
        zh="线索",
        en="lead",
        person_zh="被指派人",
        person_en="assignee",
    )
    return _grounds(lead_id, matter, target, guards.get(target.user))


def task_refusals(
    task_id: str,
    task: TaskTexts,
    target: Target,
    guards: Mapping[str, str],
) -> tuple[Ground, ...]:
    """Every reason making ``target`` responsible for item ``task_id`` is refused.

    ``guards`` are the committee's standing ones on any lead for the person (account ->
    reason category); only the accountability and umbrella ones count here."""
    matter = _Matter(
        texts={"problem": task.problem, "measures": "\n".join(task.measures)},
        labels={"problem": "问题描述", "measures": "整改措施"},
        village=task.village,
        villages=task.villages,
        zh="事项",
        en="item",
        person_zh="责任人",
        person_en="responsible person",
    )
    guard = guards.get(target.user)
    return _grounds(task_id, matter, target, guard if guard in _CASE_GUARDS else None)


def _grounds(
    matter_id: str, matter: _Matter, target: Target, guard: str | None
) -> tuple[Ground, ...]:
    texts, who_zh, who_en = matter.texts, matter.person_zh, matter.person_en
    found: list[Ground] = []
    for name in (target.display_name, target.user, *target.aliases):
        fields = _named_in(name, texts)
        if fields:
            where = "、".join(matter.labels[f] for f in fields)
            found.append(
                Ground(
                    "named",
                    f"{matter.zh}的{where}中出现{who_zh}的姓名或别名",
                    f"the {matter.en}'s {', '.join(fields)} name the {who_en}"
                    " (their name or an alias)",
                )
            )
            break
    for kind, name in target.ties:
        if kind == "village":
            named = matter.village == name or bool(_named_in(matter.villages.get(name, ""), texts))
        else:
            named = bool(_named_in(name, texts))
        if named:
            kinds = {"village": "村", "person": "人员", "business": "企业"}
            found.append(
                Ground(
                    "tie",
                    f"{who_zh}申报过与本{matter.zh}涉及的{kinds.get(kind, kind)}存在利害关系",
                    f"the {who_en} declared a tie to a {kind} the {matter.en} concerns",
                )
            )
            break
    if matter_id in target.recused_from:
        found.append(
            Ground(
                "recused",
                f"{who_zh}已申请回避本{matter.zh}",
                f"the {who_en} recused themselves",
            )
        )
    if guard is not None:
        zh, en = _GUARDS.get(guard, _GUARDS["other"])
        found.append(Ground("guard", f"{who_zh}是{zh}", f"the {who_en} is {en}"))
    return tuple(found)


def guards_of(directives: Iterable[Event]) -> dict[str, str]:
    """The committee's guards standing on a lead, from its directives in order: account ->
    reason category."""
    standing: dict[str, str] = {}
    for event in directives:
        if isinstance(event, ConflictGuardSet):
            standing[event.account] = event.reason
        elif isinstance(event, ConflictGuardLifted):
            standing.pop(event.account, None)
    return standing


def guards_on_any_lead(directives: Iterable[Event]) -> dict[str, str]:
    """The committee's accountability and umbrella guards standing on any lead, from the
    guard directives of every lead in stream order: account -> reason category (umbrella
    before accountability when both stand)."""
    standing: dict[tuple[str, str], str] = {}
    for event in directives:
        if isinstance(event, ConflictGuardSet):
            standing[event.lead_id or "", event.account] = event.reason
        elif isinstance(event, ConflictGuardLifted):
            standing.pop((event.lead_id or "", event.account), None)
    found: dict[str, str] = {}
    for (_, account), reason in sorted(standing.items()):
        if reason in _CASE_GUARDS and found.get(account) != "umbrella":
            found[account] = reason
    return found


def approved_of(directives: Iterable[Event]) -> frozenset[str]:
    """The accounts the committee approved an override for on a lead, from its directives in
    order: a refusal after an approval takes it back."""
    approved: set[str] = set()
    for event in directives:
        if isinstance(event, ConflictOverrideApproved):
            approved.add(event.account)
        elif isinstance(event, ConflictOverrideRefused):
            approved.discard(event.account)
    return frozenset(approved)
