"""Accounts of the people and machines that use the suite, as events.

An account's life is on the ACCOUNTS stream, written only by the administrator's tool
(``leadctl accounts``); each service projects it, so a disabled account or a revoked token
stops working everywhere within seconds, and who had which role when is replayable like
everything else. What happens at sign-in (a failed attempt, a session started or ended) is
on the SESSIONS stream, each service writing below ``sessions.<service>.``: a service can
record that someone signed in or out, never give anyone a role.

No secret is here in clear: passwords as argon2id hashes, second-factor secrets sealed with
the accounts key, machine tokens as SHA-256 hashes (they are random 256-bit values)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from common.events.envelope import Event, Role

USER_NAME = r"^[a-z0-9._-]{2,64}$"
FailureReason = Literal["password", "second_factor", "disabled", "no_second_factor"]


class _AccountEvent(Event):
    prefix: ClassVar[str] = "accounts"
    user: str = Field(pattern=USER_NAME)


class AccountOpened(_AccountEvent):
    """A person's or a machine's account, with its role and unit."""

    event_type: Literal["AccountOpened"] = "AccountOpened"
    display_name: str = Field(min_length=1, max_length=100)
    role: Role
    unit: str | None = None
    kind: Literal["person", "machine"] = "person"


class AccountChanged(_AccountEvent):
    """A new role, unit or name. Sessions begun before it end: they were granted the old."""

    event_type: Literal["AccountChanged"] = "AccountChanged"
    display_name: str = Field(min_length=1, max_length=100)
    role: Role
    unit: str | None = None


class AccountDisabled(_AccountEvent):
    """Nothing of this account works any more: sessions, tokens, sign-in."""

    event_type: Literal["AccountDisabled"] = "AccountDisabled"
    reason: str = Field(min_length=1, max_length=500)


class AccountEnabled(_AccountEvent):
    """A disabled account works again (with the credentials it had)."""

    event_type: Literal["AccountEnabled"] = "AccountEnabled"


class PasswordSet(_AccountEvent):
    """A new password (an argon2id hash), set by the administrator and handed over in
    person. Sessions begun before it end."""

    event_type: Literal["PasswordSet"] = "PasswordSet"
    password_hash: str = Field(min_length=20, max_length=400)


class SecondFactorSet(_AccountEvent):
    """A TOTP secret, sealed with the accounts key (AES-GCM, the user name bound in)."""

    event_type: Literal["SecondFactorSet"] = "SecondFactorSet"
    sealed_secret: str = Field(min_length=20, max_length=400)


class SecondFactorRemoved(_AccountEvent):
    """The second factor is gone (a lost phone): a role that needs one cannot sign in until
    a new one is set."""

    event_type: Literal["SecondFactorRemoved"] = "SecondFactorRemoved"


class TokenIssued(_AccountEvent):
    """A bearer token for scripts and machines (its SHA-256 hash)."""

    event_type: Literal["TokenIssued"] = "TokenIssued"
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    label: str = Field(default="", max_length=100)


class TokenRevoked(_AccountEvent):
    """The token is refused by every service from now on."""

    event_type: Literal["TokenRevoked"] = "TokenRevoked"
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


# --- sessions -----------------------------------------------------------------------------


class _SessionEvent(Event):
    prefix: ClassVar[str] = "sessions"
    user: str = Field(pattern=USER_NAME)


class SignInFailed(_SessionEvent):
    """A sign-in refused: wrong password or code. Attempts are throttled per account on
    these, across every service."""

    event_type: Literal["SignInFailed"] = "SignInFailed"
    why: FailureReason


class SignedIn(_SessionEvent):
    """A person signed in to a service; the session id is the one its cookie carries."""

    event_type: Literal["SignedIn"] = "SignedIn"
    session_id: str = Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")
    #: the service signed in to (its subject says so too); empty in the first events written
    service: str = Field(default="", max_length=20)


class SessionEnded(_SessionEvent):
    """Signed out: the session's cookie is refused by every service from now on."""

    event_type: Literal["SessionEnded"] = "SessionEnded"
    session_id: str = Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")


# --- what a person declares about themselves ----------------------------------------------
# Recorded on SESSIONS by the service the person used, as sign-ins are: a person states their
# own ties; nobody is given a role by it. Every service projects them beside the accounts, so
# the ledger refuses to hand a lead to someone tied to it (common.accounts).

RelationshipKind = Literal["village", "person", "business"]
# A name as people write it: letters of any script, digits, spaces, a few marks; no markup.
DECLARED_NAME = r"^[^\x00-\x1f<>\"'`]{1,100}$"


class RelationshipDeclared(_SessionEvent):
    """The person is tied to a village (its code), a person or a business (their name):
    family, property, work, friendship. A lead that names it is not handed to them."""

    event_type: Literal["RelationshipDeclared"] = "RelationshipDeclared"
    kind: RelationshipKind
    name: str = Field(pattern=DECLARED_NAME)
    note: str = Field(default="", max_length=500)


class RelationshipWithdrawn(_SessionEvent):
    """A tie declared earlier no longer holds (or an alias is no longer used)."""

    event_type: Literal["RelationshipWithdrawn"] = "RelationshipWithdrawn"
    kind: Literal["village", "person", "business", "alias"]
    name: str = Field(pattern=DECLARED_NAME)


class AliasDeclared(_SessionEvent):
    """Another name the person is known by (a former name, a nickname): a lead naming it
    names them."""

    event_type: Literal["AliasDeclared"] = "AliasDeclared"
    name: str = Field(pattern=DECLARED_NAME)


class Recused(_SessionEvent):
    """The person withdraws from one lead (回避), with the reason: it is not handed to them."""

    event_type: Literal["Recused"] = "Recused"
    lead_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    reason: str = Field(min_length=1, max_length=500)
