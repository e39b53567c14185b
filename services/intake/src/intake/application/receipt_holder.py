"""What the holder of a receipt may do without an account: follow the report, add to it,
write to the office."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from prometheus_client import Counter

from common.errors import NotFound
from common.events import Event, Role
from common.events.catalogue import IdentityDisclosed, LeadSupplemented, ReporterMessagePosted
from common.events.evidence import EvidenceAttached, EvidenceKeyDestroyed
from intake.application.reporting import PUBLIC
from intake.commands import AdditionKind, AddToReport
from intake.domain import lead as decisions
from intake.domain.custody import reason_label
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


@dataclass(frozen=True)
class Addition:
    """What the receipt holder added to their report or wrote to the office."""

    kind: AdditionKind
    text: str
    at: datetime
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Disclosure:
    """That the reporter's identity was read, when and why (a reason category), never by
    whom: a request pending or refused is not one."""

    at: datetime
    reason: tuple[str, str]


@dataclass(frozen=True)
class HeldFile:
    """A file the receipt holder sent, as they may see it: what kind, how large, when, and
    whether location or author data was found and taken out. Not its id nor its hash: the
    receipt is all it takes to read this, and nothing here needs to be more."""

    media_type: str
    size: int
    at: datetime
    metadata_found: bool
    metadata_stripped: bool


@dataclass(frozen=True)
class FollowedReport:
    """What the holder of a receipt sees: the report's progress, the answers given, what
    they themselves added since (never what staff added), each read of their identity, and
    the files they sent (``files_destroyed``: their key is gone, nobody can open them)."""

    view: ReceiptView
    additions: tuple[Addition, ...]
    disclosures: tuple[Disclosure, ...] = ()
    files: tuple[HeldFile, ...] = ()
    files_destroyed: bool = False


async def status(intake: Intake, receipt: str) -> ReceiptView:
    return await _by_receipt(intake, receipt)


async def follow(intake: Intake, receipt: str) -> FollowedReport:
    """The status with the holder's own additions, read from the log (the read model
    counts them only), so what was just added is there at once."""
    view = await _by_receipt(intake, receipt)
    history = await intake.store.read_lead(view.lead_id)
    additions = []
    disclosures = []
    files = []
    destroyed = False
    for stored in history.events:
        event = stored.event
        if isinstance(event, IdentityDisclosed):
            disclosures.append(Disclosure(event.occurred_at, reason_label(event.reason_category)))
        if isinstance(event, EvidenceKeyDestroyed):
            destroyed = True
        if event.actor.role is not Role.REPORTER:
            continue
        if isinstance(event, LeadSupplemented):
            names = tuple(a.name for a in event.attachments)
            additions.append(Addition("supplement", event.text, event.occurred_at, names))
        elif isinstance(event, ReporterMessagePosted):
            additions.append(Addition("message", event.text, event.occurred_at))
        elif isinstance(event, EvidenceAttached):
            files.append(
                HeldFile(
                    event.media_type,
                    event.size,
                    event.occurred_at,
                    event.metadata_found,
                    event.metadata_stripped,
                )
            )
    return FollowedReport(
        view, tuple(additions), tuple(disclosures), tuple(files), destroyed and bool(files)
    )


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
