"""What a person proves at sign-in: a password (argon2id) and, for the roles that hold the
most, a time-based code (TOTP) from an authenticator app.

The password hash and the sealed TOTP secret travel as account events and sit in every
service's projection: the hash is argon2id with the library's defaults (memory-hard, salted,
its parameters written into it so they can be raised later), and the TOTP secret is sealed
with the accounts key (AES-256-GCM, the user name bound in), which only the services hold."""

from __future__ import annotations

import base64
import io
import os
from typing import Final

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.events import Role

# Whoever can disclose a reporter, decide on the committee's cases or give roles must prove
# a second factor: a password alone is too little for them.
SECOND_FACTOR_ROLES: Final = frozenset({Role.CUSTODIAN, Role.DISCIPLINE, Role.ADMIN})
MIN_PASSWORD_LENGTH: Final = 10
MAX_PASSWORD_LENGTH: Final = 200
ISSUER: Final = "扫黑除恶线索办理"
_NONCE: Final = 12
_hasher: Final = PasswordHasher()


class WeakPassword(ValueError):
    """A password too short, too long, or the user name itself."""


def check_password(user: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    if user.lower() in password.lower():
        raise WeakPassword("a password must not contain the user name")


def hash_password(user: str, password: str) -> str:
    check_password(user, password)
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether the password is the one hashed. Without a hash, a hash is still computed, so
    an unknown user takes as long to refuse as a wrong password (no user enumeration by
    timing)."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    if password_hash is None:
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- the second factor --------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def seal_secret(key: bytes, user: str, secret: str) -> str:
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), user.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def open_secret(key: bytes, user: str, sealed: str) -> str | None:
    """The secret, or None when it was not sealed for this user with this key."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], user.encode()).decode()
    except (InvalidTag, ValueError):
        return None


def code_matches(secret: str, code: str, at: float | None = None) -> bool:
    """A six-digit code of the current 30-second step, or of the one before or after (a
    phone's clock drifts, a person types slowly)."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return False
    return pyotp.TOTP(secret).verify(code, for_time=at, valid_window=1)


def enrolment_uri(secret: str, user: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user, issuer_name=ISSUER)


def enrolment_qr(uri: str) -> str:
    """The enrolment URI as a QR code drawn in text, for the administrator's terminal."""
    drawn = io.StringIO()
    segno.make(uri, error="m").terminal(out=drawn, compact=True)
    return drawn.getvalue()
