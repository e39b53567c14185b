"""The vocabulary the services answer: every code of every vocabulary of common.vocabulary,
labelled in both languages; the organisation's units by code, kind and name only."""

from __future__ import annotations

import inspect
from enum import Enum

import pytest

from common import vocabulary as vocabulary_module
from common.organisation import UnitKind, load_organisation
from common.vocabulary import LANGUAGES, UNIT_KINDS, VOCABULARIES, label
from common.vocabulary_api import SECTIONS, Vocabulary, _matches, vocabulary

DEFINED: list[type[Enum]] = [
    member
    for _, member in inspect.getmembers(vocabulary_module, inspect.isclass)
    if issubclass(member, Enum) and member.__module__ == vocabulary_module.__name__
]


def test_every_vocabulary_defined_is_listed_and_served() -> None:
    assert DEFINED, "common.vocabulary defines its vocabularies"
    assert set(DEFINED) == set(VOCABULARIES)
    assert set(SECTIONS.values()) == set(VOCABULARIES)
    assert set(SECTIONS) <= set(Vocabulary.model_fields)


@pytest.mark.parametrize(
    "code", [c for v in VOCABULARIES for c in v], ids=lambda c: f"{type(c).__name__}.{c.name}"
)
def test_every_code_has_its_own_chinese_and_english_label(code: Enum) -> None:
    assert label(code)
    assert label(code, "en")
    assert label(code) != label(code, "en")


def test_every_kind_of_unit_and_every_language_is_labelled() -> None:
    assert set(UNIT_KINDS) == {kind.value for kind in UnitKind}
    assert set(LANGUAGES) == {"zh", "en"}
    for zh, en in [*UNIT_KINDS.values(), *LANGUAGES.values()]:
        assert zh
        assert en
        assert zh != en


def test_it_lists_every_code_and_every_unit_by_code_kind_and_name_only() -> None:
    org = load_organisation()
    answered = vocabulary(org).model_dump()
    for section, codes in SECTIONS.items():
        assert [t["code"] for t in answered[section]] == [c.value for c in codes]
        assert [t["label_en"] for t in answered[section]] == [label(c, "en") for c in codes]
    assert [u["code"] for u in answered["units"]] == [u.code for u in org.units]
    assert {tuple(sorted(u)) for u in answered["units"]} == {("code", "kind", "label", "label_en")}
    assert [v["code"] for v in answered["villages"]] == [u.code for u in org.villages]
    assert answered["villages"], "the demo organisation has villages"


@pytest.mark.parametrize(
    ("sent", "matches"),
    [
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"abcd"', False),
        ("abc", False),
        ("", False),
    ],
)
def test_if_none_match_compares_weakly(sent: str, matches: bool) -> None:
    assert _matches(sent, '"abc"') is matches
