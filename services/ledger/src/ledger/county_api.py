"""The county's part of the ledger's API: taking a town's lead over (提级办理) and each
town's statistics. Included in the ledger's router (``/v1/ledger``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from common.auth import Principal, require_roles
from common.events import Role
from common.http_errors import errors
from common.paths import LeadId
from common.vocabulary import label
from ledger.application import Ledger, reading, takeover
from ledger.projection.queries import READERS
from ledger.schemas import CommandDone, TakeOverIn

router = APIRouter()

Reader = Annotated[Principal, Depends(require_roles(*READERS))]
# Refused before the lead is looked at: only an office takes a lead over; which office
# may, the application decides (the county's), after the lead is known to be visible.
Office = Annotated[Principal, Depends(require_roles(Role.OFFICE))]


async def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(_ledger)]


@router.post(
    "/leads/{lead_id}/take-over",
    summary="提级办理 / The county office takes a town's lead over; the town reads it, no more",
    response_model=CommandDone,
    responses=errors(404, 409),
)
async def take_over(
    lead_id: LeadId, body: TakeOverIn, principal: Office, ledger: LedgerDep
) -> CommandDone:
    recorded = await takeover.take_over(ledger, lead_id, body.reason, principal)
    lead = recorded.lead
    return CommandDone(
        event_id=recorded.event.event_id,
        event_type=recorded.event.event_type,
        lead_id=lead.lead_id,
        ledger_number=lead.registered.ledger_number,
        status=lead.status.value,
        status_label=label(lead.status),
        status_label_en=label(lead.status, "en"),
    )


@router.get(
    "/stats/towns",
    summary="各乡镇统计 / Each town's counts by village, unit, category and month",
    response_model=dict[str, dict[str, dict[str, int]]],
)
async def town_stats(principal: Reader, ledger: LedgerDep) -> dict[str, dict[str, dict[str, int]]]:
    return await reading.statistics_by_town(ledger, principal)
