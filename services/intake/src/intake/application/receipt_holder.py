"""What the holder of a receipt may do without an account: follow the report, add to it,
write to the office."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from prometheus_client import Counter

from common.errors import NotFound
from common.events import Event
from intake.application.reporting import PUBLIC
from intake.commands import AddToReport
from intake.domain import lead as decisions
from intake.projection.queries import ReceiptView, by_receipt

if TYPE_CHECKING:
    from intake.application.context import Intake

RECEIPT_MISSES: Final = Counter(
    "intake_receipt_misses_total", "Look-ups with a receipt that answers to no report"
)


class ReceiptUnknown(NotFound):
    """No report answers to this receipt."""

    def __init__(self) -> None:
        super().__init__("no report has this receipt")


async def status(intake: Intake, receipt: str) -> ReceiptView:
    return await _by_receipt(intake, receipt)


async def add_to_report(intake: Intake, command: AddToReport) -> str:
    view = await _by_receipt(intake, command.receipt)
    lead, _ = await intake.load(view.lead_id)
    if command.kind == "supplement":
        event: Event = decisions.supplement(lead, command.text, command.attachments, PUBLIC)
    else:
        event = decisions.post_message(lead, command.text, PUBLIC)
    await intake.store.append(event)
    return event.event_id


async def _by_receipt(intake: Intake, receipt: str) -> ReceiptView:
    receipt_hash = intake.receipts.hash(receipt)
    view = None
    if receipt_hash is not None:
        async with intake.engine.connect() as conn:
            view = await by_receipt(conn, receipt_hash)
    if view is None:
        RECEIPT_MISSES.inc()
        raise ReceiptUnknown
    return view
