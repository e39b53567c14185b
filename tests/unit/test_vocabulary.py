"""Every code people see has a label in Chinese and in English, each its own."""

from __future__ import annotations

from enum import StrEnum

import pytest

from common.vocabulary import Category, Channel, Conclusion, Flag, LeadStatus, label

VOCABULARIES: tuple[type[StrEnum], ...] = (Channel, Category, Flag, Conclusion, LeadStatus)


@pytest.mark.parametrize(
    "code", [c for v in VOCABULARIES for c in v], ids=lambda c: f"{type(c).__name__}.{c.name}"
)
def test_every_code_has_a_chinese_and_an_english_label(code: StrEnum) -> None:
    assert label(code)
    assert label(code, "en")
    assert label(code) != label(code, "en")


def test_a_category_and_a_flag_with_the_same_code_keep_their_own_labels() -> None:
    assert Category.VILLAGE_TYRANT == Flag.VILLAGE_TYRANT  # the same string on the wire
    assert label(Category.VILLAGE_TYRANT) == "村霸"
    assert label(Flag.VILLAGE_TYRANT) == "涉嫌村霸"
    assert label(Category.PROTECTIVE_UMBRELLA) == "保护伞"
    assert label(Flag.PROTECTIVE_UMBRELLA) == "涉嫌保护伞"
