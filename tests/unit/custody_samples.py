"""One sample of every identity-request event (common.events.custody), for the event tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from common.events import Actor, Event, Role
from common.events.custody import (
    IdentityAccessApproved,
    IdentityAccessRefused,
    IdentityAccessRequested,
    ReasonCategory,
)

LEAD: Final = "01JSAMPLE0000000000000LEAD"
REQUEST: Final = "01JSAMPLE00000000000REQUEST"
POLICE = Actor(role=Role.POLICE, unit="shd-police", user="police")
CUSTODIAN = Actor(role=Role.CUSTODIAN, unit="shd-discipline", user="custodian")

CUSTODY_WIRE_NAMES: Final = frozenset(
    {"IdentityAccessRequested", "IdentityAccessApproved", "IdentityAccessRefused"}
)

CUSTODY_SAMPLES: Final[dict[type[Event], Event]] = {
    IdentityAccessRequested: IdentityAccessRequested(
        lead_id=LEAD,
        request_id=REQUEST,
        reason_category=ReasonCategory.STATEMENT,
        reason="需制作询问笔录",
        actor=POLICE,
    ),
    IdentityAccessApproved: IdentityAccessApproved(
        lead_id=LEAD,
        request_id=REQUEST,
        valid_until=datetime(2026, 5, 1, 8, 0, tzinfo=UTC),
        actor=CUSTODIAN,
    ),
    IdentityAccessRefused: IdentityAccessRefused(
        lead_id=LEAD, request_id=REQUEST, reason="理由不足", actor=CUSTODIAN
    ),
}
