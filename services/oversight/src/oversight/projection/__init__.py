"""Oversight's read models. ``SUBSCRIPTIONS`` is what feeds them, live and in ``leadctl replay``:
the committee's own, and the notices the office issued (oversight.projection.notices)."""

from common.projection import Subscription
from common.subjects import Stream
from oversight.projection.notices import PROJECTION as NOTICES
from oversight.projection.projector import PROJECTION
from oversight.projection.projector import SUBSCRIPTIONS as _OWN

SUBSCRIPTIONS = (
    *_OWN,
    Subscription(NOTICES, Stream.LEDGER),
    Subscription(NOTICES, Stream.OVERSIGHT),
)

__all__ = ["PROJECTION", "SUBSCRIPTIONS"]
