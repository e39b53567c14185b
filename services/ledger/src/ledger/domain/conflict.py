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
and the office may ask the committee to let it through."""

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


def refusals(
    lead_id: str,
    lead: LeadTexts,
    target: Target,
    guards: Mapping[str, str],
) -> tuple[Ground, ...]:
    """Every reason handing ``lead_id`` to ``target`` is refused (none: it may be).

    ``guards`` are the committee's, for this lead: account -> reason category."""
    texts = {
        "summary": lead.summary,
        "details": lead.details,
        "additions": "\n".join(lead.additions),
    }
    label = dict(_FIELDS)
    found: list[Ground] = []
    for name in (target.display_name, target.user, *target.aliases):
        fields = _named_in(name, texts)
        if fields:
            where = "、".join(label[f] for f in fields)
            found.append(
                Ground(
                    "named",
                    f"线索的{where}中出现被指派人的姓名或别名",
                    f"the lead's {', '.join(fields)} name the assignee (their name or an alias)",
                )
            )
            break
    for kind, name in target.ties:
        if kind == "village":
            named = lead.village == name or bool(_named_in(lead.villages.get(name, ""), texts))
        else:
            named = bool(_named_in(name, texts))
        if named:
            kinds = {"village": "村", "person": "人员", "business": "企业"}
            found.append(
                Ground(
                    "tie",
                    f"被指派人申报过与本线索涉及的{kinds.get(kind, kind)}存在利害关系",
                    f"the assignee declared a tie to a {kind} the lead concerns",
                )
            )
            break
    if lead_id in target.recused_from:
        found.append(
            Ground("recused", "被指派人已申请回避本线索", "the assignee recused themselves")
        )
    guard = guards.get(target.user)
    if guard is not None:
        zh, en = _GUARDS.get(guard, _GUARDS["other"])
        found.append(Ground("guard", f"被指派人是{zh}", f"the assignee is {en}"))
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
