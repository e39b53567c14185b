"""Is this the same matter as an earlier report? Reports of one village and category whose
summaries share most of their character pairs are linked, never merged or dropped."""

from __future__ import annotations

import unicodedata
from functools import cache
from hashlib import blake2b
from typing import Any, Final

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
# so only reports sharing a band are compared exactly, and the more bands two reports share
# the more alike they are likely to be (intake.duplicates confirms those sharing most first).
# 64 bands of 4 rows: 99.99% at s = 0.6 (the default threshold; 99.85% share two bands or
# more); of unrelated reports, 9.7% of pairs at s = 0.2 share a band and 0.5% two or more,
# 41% and 9.5% at 0.3. Changing any of these values changes every stored band: it needs a
# revision that recomputes them (0003_matter_bands_64 did, from 40 bands).
BANDS: Final = 64
ROWS: Final = 4
_SEED: Final = 20261130
# Named, not left to datasketch's default, which changed once (2.0.0) and may again.
_SCHEME: Final = "affine32"


@cache
def _permutations(bands: int) -> Any:
    return MinHash(num_perm=bands * ROWS, seed=_SEED, scheme=_SCHEME).permutations


def band_keys(category: str, marks: frozenset[str], bands: int = BANDS) -> list[int]:
    """The keys under which a report of this category and shingle set is indexed: one per
    band, as signed 64-bit integers (a BIGINT on every database). None for an empty text,
    which is like no other. Another number of bands only for revisions rebuilding the index."""
    if not marks:
        return []
    sketch = MinHash(
        num_perm=bands * ROWS, seed=_SEED, permutations=_permutations(bands), scheme=_SCHEME
    )
    sketch.update_batch([mark.encode() for mark in marks])
    # The bands' bytes cut from one copy of the signature: slicing and copying the array per
    # band cost more than the hashing (~260 of ~400 us a report).
    values = sketch.hashvalues.tobytes()
    width = len(values) // (bands * ROWS) * ROWS
    return [
        int.from_bytes(
            blake2b(prefix + values[band * width : (band + 1) * width], digest_size=8).digest(),
            "big",
            signed=True,
        )
        for band, prefix in enumerate(_prefixes(category, bands))
    ]


@cache
def _prefixes(category: str, bands: int) -> tuple[bytes, ...]:
    """What each band's key hashes before its values: the category, and the band's number."""
    head = category.encode() + b"\x00"
    return tuple(head + band.to_bytes(1, "big") for band in range(bands))
