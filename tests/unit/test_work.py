"""The proof-of-work puzzle as a rule: a solved challenge passes once checked, and every
way of cheating it is refused with a reason."""

from __future__ import annotations

import pytest

from common.work import (
    Purpose,
    WorkIssuer,
    WorkRefused,
    digest,
    leading_zero_bits,
    solve,
)

KEY = b"k" * 32


def test_leading_zero_bits_counts_from_the_first_byte() -> None:
    assert leading_zero_bits(b"\x00\x00\xff") == 16
    assert leading_zero_bits(b"\x01") == 7
    assert leading_zero_bits(b"\x80") == 0


@pytest.mark.parametrize("bits", [0, 1, 8, 12])
def test_a_solved_challenge_has_at_least_its_bits_of_zeros(bits: int) -> None:
    issuer = WorkIssuer(KEY)
    challenge = issuer.issue(Purpose.REPORT, bits)
    proof = solve(challenge.token, bits)
    token, _, nonce = proof.partition(":")
    assert leading_zero_bits(digest(token, nonce)) >= bits
    assert issuer.check(proof, Purpose.REPORT, min_bits=bits) == challenge


def test_a_challenge_of_another_key_is_not_ours() -> None:
    theirs = WorkIssuer(b"x" * 32).issue(Purpose.REPORT, 4)
    with pytest.raises(WorkRefused, match="not issued here"):
        WorkIssuer(KEY).check(solve(theirs.token, 4), Purpose.REPORT, min_bits=4)


@pytest.mark.parametrize("proof", ["", "no-colon", "abc:12x", "abc:" + "9" * 21, "!!!:1"])
def test_malformed_proofs_are_refused(proof: str) -> None:
    with pytest.raises(WorkRefused):
        WorkIssuer(KEY).check(proof, Purpose.REPORT, min_bits=0)


def test_a_challenge_easier_than_now_required_is_refused() -> None:
    issuer = WorkIssuer(KEY)
    easy = issuer.issue(Purpose.REPORT, 2)
    with pytest.raises(WorkRefused, match="easier"):
        issuer.check(solve(easy.token, 2), Purpose.REPORT, min_bits=3)


def test_a_challenge_lives_only_as_long_as_its_lifetime() -> None:
    issuer = WorkIssuer(KEY, lifetime_seconds=60)
    challenge = issuer.issue(Purpose.RECEIPT, 1, now=1_000_000)
    proof = solve(challenge.token, 1)
    assert issuer.check(proof, Purpose.RECEIPT, min_bits=1, now=1_000_059)
    with pytest.raises(WorkRefused, match="expired"):
        issuer.check(proof, Purpose.RECEIPT, min_bits=1, now=1_000_061)
