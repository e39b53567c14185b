"""Which leads belong to the discipline committee: one predicate for every service.

The ledger routes by it (configured in its settings) and records the decision on the lead's
registration, so what hides a lead from its village screener is the decision taken, not a
second copy of the rule. Oversight watches reports by it too, with its own setting: the
committee opens cases on the reports it is configured to watch even in a township that
routes fewer leads to it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from pydantic import BaseModel, ConfigDict

from common.vocabulary import Category, Flag

COMMITTEE_FLAGS: Final = frozenset({Flag.INVOLVES_OFFICIAL, Flag.PROTECTIVE_UMBRELLA})
COMMITTEE_CATEGORIES: Final = frozenset({Category.PROTECTIVE_UMBRELLA, Category.DUTY_CRIME})


class CommitteeRule(BaseModel):
    """A lead with any of ``flags``, or of one of ``categories``, is the committee's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flags: frozenset[Flag] = COMMITTEE_FLAGS
    categories: frozenset[Category] = COMMITTEE_CATEGORIES

    def takes(self, flags: Iterable[Flag], category: Category) -> bool:
        return bool(self.flags.intersection(flags)) or category in self.categories


def is_umbrella(flags: Iterable[Flag], category: Category) -> bool:
    """A protective-umbrella lead (保护伞): handled first by the committee."""
    return Flag.PROTECTIVE_UMBRELLA in flags or category is Category.PROTECTIVE_UMBRELLA
