"""The ledger's read model (台账): one row per lead and the units it went to; what was
reported, the exchange with the reporter, the reports of the same matter and the text a
search looks through.

``SUBSCRIPTIONS`` is the table of what feeds it: the live service and ``leadctl replay``
both read it."""

from __future__ import annotations

from common.projection import Subscription
from common.subjects import Stream
from ledger.projection.campaigns import PROJECTION as CAMPAIGNS
from ledger.projection.notices import PROJECTION as NOTICES
from ledger.projection.projector import ledger_projection

PROJECTION = ledger_projection()

SUBSCRIPTIONS = (
    Subscription(PROJECTION, Stream.LEDGER),
    Subscription(PROJECTION, Stream.DIRECTIVES),
    Subscription(PROJECTION, Stream.INTAKE),
    Subscription(NOTICES, Stream.LEDGER),
    Subscription(CAMPAIGNS, Stream.LEDGER),
)
