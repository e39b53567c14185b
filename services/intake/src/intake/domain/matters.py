"""Is this the same matter as an earlier report? Reports of one village and category whose
summaries share most of their character pairs are linked, never merged or dropped."""

from __future__ import annotations

import unicodedata

# Punctuation and spacing differ between a phone call typed in and a letter copied out.
_IGNORED = frozenset("，。、；：？！“”‘’（）《》【】—…·,.;:?!\"'()[]{}<>-_/\\ \t\r\n")


def shingles(text: str) -> frozenset[str]:
    """The character pairs of a text, ignoring punctuation, spacing and width."""
    plain = "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c not in _IGNORED)
    if len(plain) < 2:
        return frozenset({plain}) if plain else frozenset()
    return frozenset(plain[i : i + 2] for i in range(len(plain) - 1))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two shingle sets (1.0: the same text)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
