"""Passwords and the second factor, as the sign-in checks them."""

from __future__ import annotations

import base64
import os

import pyotp
import pytest

from common.credentials import (
    MAX_PASSWORD_LENGTH,
    WeakPassword,
    code_matches,
    enrolment_qr,
    enrolment_uri,
    hash_password,
    new_totp_secret,
    open_secret,
    password_matches,
    seal_secret,
)

KEY = os.urandom(32)


def test_a_password_is_kept_as_an_argon2id_hash_that_only_it_matches() -> None:
    stored = hash_password("li.clerk", "沙河店镇线索台账2026")
    assert stored.startswith("$argon2id$")
    assert "沙河店镇" not in stored
    assert password_matches(stored, "沙河店镇线索台账2026")
    assert not password_matches(stored, "沙河店镇线索台账2025")


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", "at least 10"),
        ("x" * (MAX_PASSWORD_LENGTH + 1), "at most"),
        ("my-li.clerk-password", "user name"),
    ],
)
def test_a_weak_password_is_refused_saying_why(password: str, why: str) -> None:
    with pytest.raises(WeakPassword, match=why):
        hash_password("li.clerk", password)


def test_no_account_and_an_overlong_password_never_match() -> None:
    assert not password_matches(None, "anything at all")
    stored = hash_password("li.clerk", "a long enough one")
    assert not password_matches(stored, "a long enough one" + "x" * MAX_PASSWORD_LENGTH)
    assert not password_matches("not a hash", "a long enough one")


def test_a_sealed_secret_opens_only_for_its_user_with_its_key() -> None:
    secret = new_totp_secret()
    sealed = seal_secret(KEY, "wang.custodian", secret)
    assert secret not in sealed
    assert open_secret(KEY, "wang.custodian", sealed) == secret
    # Copied onto another account, or read with another key: nothing.
    assert open_secret(KEY, "zhao.clerk", sealed) is None
    assert open_secret(os.urandom(32), "wang.custodian", sealed) is None
    tampered = base64.urlsafe_b64encode(b"x" * 40).decode()
    assert open_secret(KEY, "wang.custodian", tampered) is None


def test_the_code_of_now_and_of_the_steps_beside_it_match_and_no_other() -> None:
    secret = new_totp_secret()
    totp = pyotp.TOTP(secret)
    at = 1_800_000_000.0
    assert code_matches(secret, totp.at(at), at)
    assert code_matches(secret, totp.at(at - 30), at)  # the phone's clock a step behind
    assert code_matches(secret, " " + totp.at(at + 30)[:3] + " " + totp.at(at + 30)[3:], at)
    assert not code_matches(secret, totp.at(at - 120), at)
    assert not code_matches(secret, "12345", at)
    assert not code_matches(secret, "abcdef", at)


def test_enrolment_gives_an_authenticator_uri_and_a_qr_code_to_scan() -> None:
    secret = new_totp_secret()
    uri = enrolment_uri(secret, "wang.custodian")
    assert uri.startswith("otpauth://totp/")
    assert f"secret={secret}" in uri
    drawn = enrolment_qr(uri)
    assert len(drawn.splitlines()) > 10
