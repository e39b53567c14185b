"""Every service's own copy of the accounts: projected from the ACCOUNTS and SESSIONS
streams into the service's database, and read at each request.

A change made with ``leadctl accounts`` reaches a service as soon as its projection applies
the event (milliseconds; ``/readyz`` says when a projection falls behind): a disabled account,
a revoked token, a new password or role ends what was granted before, in every service,
without a restart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Boolean, Column, Engine, Index, MetaData, String, Table, func, select

from common.batchwriter import BatchWriter
from common.database import UtcDateTime, as_utc
from common.events import Event, Role
from common.events.accounts import (
    AccountChanged,
    AccountDisabled,
    AccountEnabled,
    AccountOpened,
    AliasDeclared,
    PasswordSet,
    Recused,
    RelationshipDeclared,
    RelationshipWithdrawn,
    SecondFactorRemoved,
    SecondFactorSet,
    SessionEnded,
    SignedIn,
    SignInFailed,
    TokenIssued,
    TokenRevoked,
)
from common.projection import Projection, Subscription, projection_positions
from common.subjects import Stream

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("user", String(64), primary_key=True),
    Column("display_name", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("unit", String(40)),
    Column("kind", String(10), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("password_hash", String(400)),
    Column("sealed_secret", String(400)),
    # Sessions begun before this moment were granted what the account no longer is.
    Column("granted_since", UtcDateTime, nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
)

account_tokens = Table(
    "account_tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user", String(64), nullable=False),
    Column("label", String(100), nullable=False, default=""),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)

ended_sessions = Table(
    "account_ended_sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("user", String(64), nullable=False),
    Column("ended_at", UtcDateTime, nullable=False),
)

# Every session begun, so a person can see where they are signed in and end any of them.
account_sessions = Table(
    "account_sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("user", String(64), nullable=False),
    Column("service", String(20), nullable=False),
    Column("began", UtcDateTime, nullable=False),
    Index("ix_account_sessions_user", "user"),
)

sign_in_failures = Table(
    "account_sign_in_failures",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("user", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_account_sign_in_failures_user_at", "user", "at"),
)

# What each person declared about themselves: ties (kind village/person/business, the
# village's code or the name), aliases (kind alias) and recusals (kind recusal, the lead id).
# A withdrawn one keeps its row, withdrawn_at set: what was declared when stays answerable.
account_declarations = Table(
    "account_declarations",
    metadata,
    Column("user", String(64), primary_key=True),
    Column("kind", String(10), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("note", String(500), nullable=False, default=""),
    Column("declared_at", UtcDateTime, nullable=False),
    Column("withdrawn_at", UtcDateTime),
)


def _opened(db: BatchWriter, event: AccountOpened) -> None:
    if db.get(accounts, event.user) is not None:
        return  # opened once; a second opening under the same name changes nothing
    db.put(
        accounts,
        {
            "user": event.user,
            "display_name": event.display_name,
            "role": event.role.value,
            "unit": event.unit,
            "kind": event.kind,
            "disabled": False,
            "password_hash": None,
            "sealed_secret": None,
            "granted_since": event.occurred_at,
            "opened_at": event.occurred_at,
        },
    )


def _on_account(**values_of: Any) -> Any:
    """A handler changing an opened account; an event for an account never opened is kept
    until it is (the two account streams are read side by side)."""

    def handle(db: BatchWriter, event: Event) -> None:
        def change(row: dict[str, Any]) -> None:
            for column, value in values_of.items():
                row[column] = value(event) if callable(value) else value
            row["granted_since"] = max(as_utc(row["granted_since"]), event.occurred_at)

        db.change_or_defer(accounts, event.user, event, change, wait_for=f"user:{event.user}")  # type: ignore[attr-defined]

    return handle


def _changed(db: BatchWriter, event: AccountChanged) -> None:
    _on_account(
        display_name=lambda e: e.display_name, role=lambda e: e.role.value, unit=lambda e: e.unit
    )(db, event)


def _token_issued(db: BatchWriter, event: TokenIssued) -> None:
    db.put(
        account_tokens,
        {
            "token_sha256": event.token_sha256,
            "user": event.user,
            "label": event.label,
            "issued_at": event.occurred_at,
            "revoked_at": None,
        },
    )


def _token_revoked(db: BatchWriter, event: TokenRevoked) -> None:
    row = db.get(account_tokens, event.token_sha256)
    if row is None:
        # Revoked before it was issued (read side by side): remembered revoked.
        row = {
            "token_sha256": event.token_sha256,
            "user": event.user,
            "label": "",
            "issued_at": event.occurred_at,
        }
    row["revoked_at"] = event.occurred_at
    db.put(account_tokens, row)


def _session_ended(db: BatchWriter, event: SessionEnded) -> None:
    db.put(
        ended_sessions,
        {"session_id": event.session_id, "user": event.user, "ended_at": event.occurred_at},
    )


def _signed_in(db: BatchWriter, event: SignedIn) -> None:
    db.put(
        account_sessions,
        {
            "session_id": event.session_id,
            "user": event.user,
            "service": event.service,
            "began": event.occurred_at,
        },
    )


def _sign_in_failed(db: BatchWriter, event: SignInFailed) -> None:
    db.put(
        sign_in_failures, {"event_id": event.event_id, "user": event.user, "at": event.occurred_at}
    )


def _declared(kind: str, name: str, note: str, event: Event, db: BatchWriter) -> None:
    db.put(
        account_declarations,
        {
            "user": event.user,  # type: ignore[attr-defined]
            "kind": kind,
            "name": name,
            "note": note,
            "declared_at": event.occurred_at,
            "withdrawn_at": None,
        },
    )


def _relationship_declared(db: BatchWriter, event: RelationshipDeclared) -> None:
    _declared(event.kind, event.name, event.note, event, db)


def _alias_declared(db: BatchWriter, event: AliasDeclared) -> None:
    _declared("alias", event.name, "", event, db)


def _recused(db: BatchWriter, event: Recused) -> None:
    _declared("recusal", event.lead_id, event.reason, event, db)


def _relationship_withdrawn(db: BatchWriter, event: RelationshipWithdrawn) -> None:
    row = db.get(account_declarations, event.user, event.kind, event.name)
    if row is not None:
        row["withdrawn_at"] = event.occurred_at
        db.put(account_declarations, row)


def _opened_and_released(db: BatchWriter, event: AccountOpened) -> None:
    _opened(db, event)
    db.release_deferred(f"user:{event.user}", lambda waiting: PROJECTION.apply(db, waiting))


_HANDLERS: Final[dict[type[Event], Any]] = {
    AccountOpened: _opened_and_released,
    AccountChanged: _changed,
    AccountDisabled: _on_account(disabled=True),
    AccountEnabled: _on_account(disabled=False),
    PasswordSet: _on_account(password_hash=lambda e: e.password_hash),
    SecondFactorSet: _on_account(sealed_secret=lambda e: e.sealed_secret),
    SecondFactorRemoved: _on_account(sealed_secret=None),
    TokenIssued: _token_issued,
    TokenRevoked: _token_revoked,
    SessionEnded: _session_ended,
    SignedIn: _signed_in,
    SignInFailed: _sign_in_failed,
    RelationshipDeclared: _relationship_declared,
    RelationshipWithdrawn: _relationship_withdrawn,
    AliasDeclared: _alias_declared,
    Recused: _recused,
}

PROJECTION: Final = Projection(
    name="accounts",
    metadata=metadata,
    handlers={cls.type_name(): handler for cls, handler in _HANDLERS.items()},
)

SUBSCRIPTIONS: Final = (
    Subscription(PROJECTION, Stream.ACCOUNTS),
    Subscription(PROJECTION, Stream.SESSIONS),
)


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Account:
    user: str
    display_name: str
    role: Role
    unit: str | None
    kind: str
    disabled: bool
    password_hash: str | None
    sealed_secret: str | None
    granted_since: datetime


# Sign-in attempts: after this many failures in the window, each further attempt waits,
# the wait doubling up to the longest. The account is never locked: its owner waits minutes,
# an attacker guessing gets a handful of tries an hour.
# A person's standing declarations read at most: a hand-over checks them all.
MAX_DECLARATIONS: Final = 500
FREE_FAILURES: Final = 5
FAILURE_WINDOW: Final = timedelta(minutes=15)
FIRST_WAIT: Final = timedelta(seconds=30)
LONGEST_WAIT: Final = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Declaration:
    """One thing a person declared and has not withdrawn: a tie, an alias or a recusal."""

    kind: str
    name: str
    note: str
    declared_at: datetime


@dataclass(frozen=True, slots=True)
class SessionSeen:
    session_id: str
    service: str
    began: datetime
    ended: datetime | None


class AccountBook:
    """The accounts as this service's projection has them (read at each request)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def account(self, user: str) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.user == user)).first()
        if row is None:
            return None
        return Account(
            user=row.user,
            display_name=row.display_name,
            role=Role(row.role),
            unit=row.unit,
            kind=row.kind,
            disabled=row.disabled,
            password_hash=row.password_hash,
            sealed_secret=row.sealed_secret,
            granted_since=as_utc(row.granted_since),
        )

    def by_token(self, token_sha256: str) -> Account | None:
        """The account a machine token belongs to, if the token is not revoked."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(account_tokens.c.user).where(
                    (account_tokens.c.token_sha256 == token_sha256)
                    & account_tokens.c.revoked_at.is_(None)
                )
            ).first()
        return self.account(row.user) if row is not None else None

    def session_ended(self, session_id: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(ended_sessions.c.session_id).where(
                        ended_sessions.c.session_id == session_id
                    )
                ).first()
                is not None
            )

    def applied(self, stream: Stream) -> int:
        """The last sequence of ``stream`` this service's accounts projection applied."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(projection_positions.c.sequence).where(
                    (projection_positions.c.projection == PROJECTION.key)
                    & (projection_positions.c.stream == stream.value)
                )
            ).scalar()
        return int(found or 0)

    def sessions_of(self, user: str, since: datetime) -> list[SessionSeen]:
        """The person's sessions begun since ``since`` (none lasts longer), newest first,
        each with when it ended, if it did."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    account_sessions.c.session_id,
                    account_sessions.c.service,
                    account_sessions.c.began,
                    ended_sessions.c.ended_at,
                )
                .select_from(
                    account_sessions.outerjoin(
                        ended_sessions,
                        ended_sessions.c.session_id == account_sessions.c.session_id,
                    )
                )
                .where((account_sessions.c.user == user) & (account_sessions.c.began >= since))
                .order_by(account_sessions.c.began.desc())
                .limit(100)
            ).all()
        return [
            SessionSeen(
                r.session_id,
                r.service,
                as_utc(r.began),
                as_utc(r.ended_at) if r.ended_at is not None else None,
            )
            for r in rows
        ]

    def declarations_of(self, user: str) -> list[Declaration]:
        """What the person declared and still stands by, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(account_declarations)
                .where(
                    (account_declarations.c.user == user)
                    & account_declarations.c.withdrawn_at.is_(None)
                )
                .order_by(account_declarations.c.declared_at)
                .limit(MAX_DECLARATIONS)
            ).all()
        return [Declaration(r.kind, r.name, r.note, as_utc(r.declared_at)) for r in rows]

    def wait_before_next_attempt(self, user: str, now: datetime) -> timedelta:
        """How long the next sign-in attempt for ``user`` must wait (zero: it may go on)."""
        with self.engine.connect() as conn:
            count, last = conn.execute(
                select(func.count(), func.max(sign_in_failures.c.at)).where(
                    (sign_in_failures.c.user == user)
                    & (sign_in_failures.c.at > now - FAILURE_WINDOW)
                )
            ).one()
        if count < FREE_FAILURES or last is None:
            return timedelta(0)
        wait: timedelta = min(FIRST_WAIT * 2 ** (int(count) - FREE_FAILURES), LONGEST_WAIT)
        left: timedelta = as_utc(last) + wait - now
        return max(left, timedelta(0))
