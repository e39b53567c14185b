"""Is this the same matter as an earlier report? Reports of one village and category whose
summaries share most of their character pairs are linked, never merged or dropped."""

from __future__ import annotations

import unicodedata
from hashlib import blake2b
from typing import Final

from datasketch import MinHash

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


# Locality-sensitive hashing of the shingle sets (MinHash, cut into bands): two reports whose
# Jaccard similarity is s share at least one band with probability 1 - (1 - s^ROWS)^BANDS,
# so only reports sharing a band are compared exactly. 40 bands of 4 rows: 99.6% at s = 0.6
# (the default threshold), 99.96% at 0.65, 99.999% at 0.7; of unrelated reports, 6% of
# pairs at s = 0.2 share a band, 0.4% at 0.1. Changing any of these values changes every stored band: it needs a revision that
# recomputes them.
BANDS: Final = 40
ROWS: Final = 4
_SEED: Final = 20261130
# Named, not left to datasketch's default, which changed once (2.0.0) and may again.
_SCHEME: Final = "affine32"
_PERMUTATIONS: Final = MinHash(num_perm=BANDS * ROWS, seed=_SEED, scheme=_SCHEME).permutations


def band_keys(category: str, marks: frozenset[str]) -> list[int]:
    """The keys under which a report of this category and shingle set is indexed: one per
    band, as signed 64-bit integers (a BIGINT on every database). None for an empty text,
    which is like no other."""
    if not marks:
        return []
    sketch = MinHash(num_perm=BANDS * ROWS, seed=_SEED, permutations=_PERMUTATIONS, scheme=_SCHEME)
    sketch.update_batch([mark.encode() for mark in marks])
    values = sketch.hashvalues
    prefix = category.encode() + b"\x00"
    return [
        int.from_bytes(
            blake2b(
                prefix
                + band.to_bytes(1, "big")
                + values[band * ROWS : (band + 1) * ROWS].tobytes(),
                digest_size=8,
            ).digest(),
            "big",
            signed=True,
        )
        for band in range(BANDS)
    ]
