"""Subject, stream, durable and inbox names: the one place that spells them.

Every lead event lives on ``<prefix>.lead.<lead_id>.<EventType>`` so that one lead's
history is a subject-filtered read and a write can be checked against the lead's last
sequence. Events that belong to no single lead use ``<prefix>.global.<EventType>``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final


class Service(StrEnum):
    """The three services, and the operator CLI that also connects to NATS."""

    INTAKE = "intake"
    LEDGER = "ledger"
    OVERSIGHT = "oversight"
    LEADCTL = "leadctl"

    @property
    def default_port(self) -> int:
        """The HTTP port the service listens on unless told otherwise (the one place the
        ports are written; settings, the CLI and the embedded run read them here)."""
        return _DEFAULT_PORTS[self]

    @property
    def default_url(self) -> str:
        return f"http://127.0.0.1:{self.default_port}"


_DEFAULT_PORTS: dict[Service, int] = {
    Service.INTAKE: 8101,
    Service.LEDGER: 8102,
    Service.OVERSIGHT: 8103,
}


class Stream(StrEnum):
    """JetStream stream names."""

    INTAKE = "INTAKE"
    LEDGER = "LEDGER"
    OVERSIGHT = "OVERSIGHT"
    DIRECTIVES = "DIRECTIVES"
    AUDIT = "AUDIT"
    DLQ_INTAKE = "DLQ_INTAKE"
    DLQ_LEDGER = "DLQ_LEDGER"
    DLQ_OVERSIGHT = "DLQ_OVERSIGHT"
    ACCOUNTS = "ACCOUNTS"
    SESSIONS = "SESSIONS"


# The subject space each stream captures.
STREAM_SUBJECTS: Final[dict[Stream, str]] = {
    Stream.INTAKE: "intake.>",
    Stream.LEDGER: "ledger.>",
    Stream.OVERSIGHT: "oversight.>",
    Stream.DIRECTIVES: "directive.>",
    Stream.AUDIT: "audit.>",
    Stream.DLQ_INTAKE: "dlq.intake.>",
    Stream.DLQ_LEDGER: "dlq.ledger.>",
    Stream.DLQ_OVERSIGHT: "dlq.oversight.>",
    Stream.ACCOUNTS: "accounts.>",
    Stream.SESSIONS: "sessions.>",
}

# Streams a service writes to. AUDIT is shared: every service writes only below
# ``audit.<service>.``.
OWNED_STREAMS: Final[dict[Service, tuple[Stream, ...]]] = {
    Service.INTAKE: (Stream.INTAKE, Stream.AUDIT, Stream.DLQ_INTAKE, Stream.SESSIONS),
    Service.LEDGER: (Stream.LEDGER, Stream.AUDIT, Stream.DLQ_LEDGER, Stream.SESSIONS),
    Service.OVERSIGHT: (
        Stream.OVERSIGHT,
        Stream.DIRECTIVES,
        Stream.AUDIT,
        Stream.DLQ_OVERSIGHT,
        Stream.SESSIONS,
    ),
    # Accounts are written by the administrator (leadctl as the NATS admin), never by a
    # service or the operators' CLI user: a service may record a sign-in, not grant a role.
    Service.LEADCTL: (),
}

# Streams a user may read, and so the only ones it may learn anything about (stream info,
# subjects, consumers): deploy/nats/auth.conf grants exactly these. Intake and ledger write
# to AUDIT but may not read it: who looked at which lead is the committee's to know.
READ_STREAMS: Final[dict[Service, tuple[Stream, ...]]] = {
    Service.INTAKE: (
        Stream.INTAKE,
        Stream.LEDGER,
        Stream.DLQ_INTAKE,
        Stream.ACCOUNTS,
        Stream.SESSIONS,
    ),
    Service.LEDGER: (
        Stream.INTAKE,
        Stream.LEDGER,
        Stream.DIRECTIVES,
        Stream.DLQ_LEDGER,
        Stream.ACCOUNTS,
        Stream.SESSIONS,
    ),
    Service.OVERSIGHT: (
        Stream.INTAKE,
        Stream.LEDGER,
        Stream.OVERSIGHT,
        Stream.DIRECTIVES,
        Stream.AUDIT,
        Stream.DLQ_OVERSIGHT,
        Stream.ACCOUNTS,
        Stream.SESSIONS,
    ),
    Service.LEADCTL: tuple(Stream),
}


def declared_streams(service: Service) -> tuple[Stream, ...]:
    """The streams a service creates if missing: those it writes and may also read. Creating
    a stream answers with its state, so a writer that may not read one (intake and ledger on
    AUDIT) leaves it to the administrator, who provisions every stream up front."""
    declared = tuple(s for s in OWNED_STREAMS[service] if s in READ_STREAMS[service])
    # The accounts every service reads are written by the administrator alone; a service may
    # still create the stream when it is missing (an identical create changes nothing, and
    # creating lets nobody write to it), so it starts on a bare server as on a provisioned one.
    if declared and Stream.ACCOUNTS in READ_STREAMS[service]:
        declared += (Stream.ACCOUNTS,)
    return declared


DLQ_STREAM: Final[dict[Service, Stream]] = {
    Service.INTAKE: Stream.DLQ_INTAKE,
    Service.LEDGER: Stream.DLQ_LEDGER,
    Service.OVERSIGHT: Stream.DLQ_OVERSIGHT,
}

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
GLOBAL_TOKEN: Final = "global"  # noqa: S105 - a subject token, not a secret


def check_token(value: str, what: str = "subject token") -> str:
    """Refuse a value that would change the meaning of a subject (dots, wildcards, spaces)."""
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"{what} must be 1-64 letters, digits, '-' or '_': {value!r}")
    return value


def lead_subject(prefix: str, lead_id: str | None, event_type: str) -> str:
    """The subject an event is stored on, e.g. ``ledger.lead.<id>.LeadRegistered``."""
    if lead_id is None:
        return f"{prefix}.{GLOBAL_TOKEN}.{event_type}"
    return f"{prefix}.lead.{check_token(lead_id, 'lead id')}.{event_type}"


def item_subject(prefix: str, kind: str, item_id: str, event_type: str) -> str:
    """The subject of an event of something other than a lead, kept the same way:
    ``ledger.notice.<id>.NoticeIssued`` (its history a subject-filtered read too)."""
    return f"{item_filter(prefix, kind, item_id)[:-1]}{event_type}"


def item_filter(prefix: str, kind: str, item_id: str) -> str:
    """The filter matching every event of one such thing in one stream."""
    return f"{prefix}.{check_token(kind, 'subject kind')}.{check_token(item_id, kind + ' id')}.>"


def subject_matches(subject: str, pattern: str) -> bool:
    """Whether ``subject`` falls under the NATS ``pattern`` (``*`` one token, ``>`` the rest)."""
    parts = subject.split(".")
    wanted = pattern.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(parts) > index
        if index >= len(parts) or part not in ("*", parts[index]):
            return False
    return len(parts) == len(wanted)


def lead_filter(prefix: str, lead_id: str) -> str:
    """The filter matching every event of one lead in one stream."""
    return f"{prefix}.lead.{check_token(lead_id, 'lead id')}.>"


def sessions_prefix(service: Service) -> str:
    """Where a service records sign-ins and sign-outs: ``sessions.<service>``."""
    return f"sessions.{service.value}"


def audit_prefix(service: Service) -> str:
    return f"audit.{service.value}"


def dlq_subject(service: Service, consumer: str) -> str:
    return f"dlq.{service.value}.{check_token(consumer, 'consumer name')}"


def inbox_prefix(service: Service) -> str:
    """A per-service reply inbox: a shared ``_INBOX.>`` would let any user read the
    JetStream deliveries of every other user."""
    return f"_INBOX_{service.value}"


def durable_name(service: Service, projection: str) -> str:
    return f"{service.value}-{check_token(projection, 'projection name')}"
