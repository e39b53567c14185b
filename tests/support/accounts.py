"""People's accounts as the administrator makes them: events on ACCOUNTS, appended the way
``leadctl accounts`` does."""

from __future__ import annotations

import base64
import os

from nats.js import JetStreamContext

from common.credentials import hash_password, new_totp_secret, seal_secret
from common.events import Role
from common.events.accounts import AccountOpened, PasswordSet, SecondFactorSet
from common.eventstore import EventStore
from common.subjects import Stream

ACCOUNTS_KEY = os.urandom(32)


def accounts_key_b64() -> str:
    return base64.b64encode(ACCOUNTS_KEY).decode()


def session_key_b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def account_log(js: JetStreamContext) -> EventStore:
    return EventStore(js, Stream.ACCOUNTS, "accounts")


async def open_account(
    js: JetStreamContext,
    user: str,
    role: Role,
    unit: str | None,
    password: str,
    *,
    second_factor: bool = False,
) -> str | None:
    """Opens the account with a password (and a second factor); returns the TOTP secret."""
    log = account_log(js)
    await log.append(AccountOpened(user=user, display_name=user, role=role, unit=unit))
    await log.append(PasswordSet(user=user, password_hash=hash_password(user, password)))
    if not second_factor:
        return None
    secret = new_totp_secret()
    await log.append(
        SecondFactorSet(user=user, sealed_secret=seal_secret(ACCOUNTS_KEY, user, secret))
    )
    return secret
