"""Intake's application layer: one function per command, loading, deciding (intake.domain)
and appending, in a module per concern; :class:`Intake` is the context they share and the
entry point routes, the importer and background jobs call."""

from intake.application.context import Intake
from intake.application.receipt_holder import Addition, FollowedReport, ReceiptUnknown
from intake.application.reporting import (
    CHANNELS_BY_ROLE,
    STAFF_ROLES,
    Accepted,
    ChannelNotAllowed,
    public_claim,
)

__all__ = [
    "CHANNELS_BY_ROLE",
    "STAFF_ROLES",
    "Accepted",
    "Addition",
    "ChannelNotAllowed",
    "FollowedReport",
    "Intake",
    "ReceiptUnknown",
    "public_claim",
]
