"""The ledger's HTTP API (台账): the lead list and each lead in full, the commands that move
a lead through its life, the unanswered list, statistics and the export."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from common.auth import Principal, require_roles
from common.database import as_utc
from common.events import utc_now
from common.http_errors import errors
from common.paths import LeadId
from common.vocabulary import LeadStatus, label
from ledger.application import HANDLING_ROLES, Ledger, Recorded
from ledger.commands import (
    Accept,
    Archive,
    Assign,
    Conclude,
    Evidence,
    ExtendDeadline,
    GiveFeedback,
    RecordVerification,
    Reopen,
    Return,
    Transfer,
)
from ledger.export import to_csv, to_xlsx
from ledger.projection import queries
from ledger.projection.queries import READERS, Filters
from ledger.schemas import (
    AcceptIn,
    ArchiveIn,
    AssignIn,
    CommandDone,
    ConcludeIn,
    ExtendIn,
    FeedbackIn,
    HistoryEntry,
    LeadDetail,
    LeadOut,
    Page,
    ReopenIn,
    ReturnIn,
    TransferIn,
    VerificationIn,
)


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
Reader = Annotated[Principal, Depends(require_roles(*READERS))]
# A principal whose role handles leads (which lead, the rules decide).
Officer = Annotated[Principal, Depends(require_roles(*HANDLING_ROLES))]

router = APIRouter(prefix="/v1/ledger", tags=["ledger"], responses=errors(503))

# Far past any ledger a township keeps (500 a page), and small enough that the offset it
# makes stays a number every database takes: a page beyond it is the parameter's fault.
MAX_PAGE = 1_000_000


def lead_out(row: dict[str, Any]) -> LeadOut:
    status = LeadStatus(row["status"])
    return LeadOut(
        **{k: row[k] for k in LeadOut.model_fields if k in row},
        status_label=label(status),
        status_label_en=label(status, "en"),
    )


def filters(
    status: LeadStatus | None = None,
    unit: str | None = None,
    village: str | None = None,
    category: str | None = None,
    channel: str | None = None,
    assignee: str | None = None,
    overdue: bool | None = None,
    registered_from: Annotated[datetime | None, Query(alias="from")] = None,
    registered_to: Annotated[datetime | None, Query(alias="to")] = None,
) -> Filters:
    return Filters(
        status=status.value if status else None,
        unit=unit,
        village=village,
        category=category,
        channel=channel,
        assignee=assignee,
        overdue=overdue,
        registered_from=as_utc(registered_from),
        registered_to=as_utc(registered_to),
    )


FiltersDep = Annotated[Filters, Depends(filters)]


@router.get("/leads", summary="The ledger, filtered and paged, as far as you may see it")
async def list_leads(
    principal: Reader,
    ledger: LedgerDep,
    chosen: FiltersDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page:
    async with ledger.runtime.database.async_engine.connect() as conn:
        total, rows = await queries.page(conn, principal, chosen, utc_now(), page, page_size)
    return Page(total=total, page=page, page_size=page_size, items=[lead_out(r) for r in rows])


@router.get(
    "/leads/{lead_id}",
    summary="One lead in full, with its history (the read is recorded)",
    responses=errors(404),
)
async def get_lead(
    lead_id: LeadId,
    principal: Reader,
    ledger: LedgerDep,
    purpose: Annotated[str, Query(max_length=200)] = "",
) -> LeadDetail:
    row = await ledger.visible(lead_id, principal)
    await ledger.viewed(lead_id, principal, purpose)
    history_ledger, history_directives = await ledger.history(lead_id)
    entries = sorted(
        (
            HistoryEntry(
                sequence=stored.sequence,
                stream=stream,
                event_type=stored.event.event_type,
                occurred_at=stored.event.occurred_at,
                actor=stored.event.actor.model_dump(mode="json"),
                data=stored.event.model_dump(
                    mode="json",
                    exclude={"event_type", "schema_version", "lead_id", "actor", "occurred_at"},
                ),
            )
            for stream, history in (("LEDGER", history_ledger), ("DIRECTIVES", history_directives))
            for stored in history.events
        ),
        key=lambda e: e.occurred_at,
    )
    return LeadDetail(**lead_out(row).model_dump(), history=entries)


def _command(path: str, summary: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.post(
        f"/leads/{{lead_id}}/{path}",
        summary=summary,
        response_model=CommandDone,
        responses=errors(404, 409),
    )


def _done(recorded: Recorded) -> CommandDone:
    event, lead = recorded.event, recorded.lead
    return CommandDone(
        event_id=event.event_id,
        event_type=event.event_type,
        lead_id=lead.lead_id,
        ledger_number=lead.registered.ledger_number,
        status=lead.status.value,
        status_label=label(lead.status),
        status_label_en=label(lead.status, "en"),
    )


@_command("transfer", "Hand the lead to another unit (移交)")
async def transfer(
    lead_id: LeadId, body: TransferIn, principal: Officer, ledger: LedgerDep
) -> CommandDone:
    command = Transfer(lead_id=lead_id, to_unit=body.to_unit, reason=body.reason)
    return _done(await ledger.execute(command, principal))


@_command("accept", "Accept a lead handed to your unit")
async def accept(
    lead_id: LeadId, body: AcceptIn, principal: Officer, ledger: LedgerDep
) -> CommandDone:
    return _done(await ledger.execute(Accept(lead_id=lead_id), principal))


@_command("return", "Return a lead handed to your unit, with the reason")
async def return_lead(
    lead_id: LeadId, body: ReturnIn, principal: Officer, ledger: LedgerDep
) -> CommandDone:
    return _done(await ledger.execute(Return(lead_id=lead_id, reason=body.reason), principal))


@_command("assign", "Make a named person responsible, with a deadline (责任到人)")
async def assign(
    lead_id: LeadId, body: AssignIn, principal: Officer, ledger: LedgerDep
) -> CommandDone:
    command = Assign(
        lead_id=lead_id,
        assignee=body.assignee,
        assignee_name=body.assignee_name,
        deadline=body.deadline,
        reason=body.reason,
    )
    return _done(await ledger.execute(command, principal))


@_command("extend-deadline", "Extend the deadline, with the reason")
async def extend(
    lead_id: LeadId, body: ExtendIn, principal: Officer, ledger: LedgerDep
) -> CommandDone:
    command = ExtendDeadline(lead_id=lead_id, deadline=body.deadline, reason=body.reason)
    return _done(await ledger.execute(command, principal))


@_command("verification", "Record verification progress (核查), with evidence references")
async def verification(
    lead_id: LeadId, body: VerificationIn, principal: Officer, ledger: LedgerDep
) -> CommandDone:
    command = RecordVerification(
        lead_id=lead_id,
        note=body.note,
        evidence=tuple(Evidence(name=e.name, size=e.size, sha256=e.sha256) for e in body.evidence),
    )
    return _done(await ledger.execute(command, principal))


@_command("conclude", "Conclude the lead with its result (办结)")
async def conclude(
    lead_id: LeadId, body: ConcludeIn, principal: Officer, ledger: LedgerDep
) -> CommandDone:
    command = Conclude(lead_id=lead_id, result=body.result, summary=body.summary)
    return _done(await ledger.execute(command, principal))


@_command("feedback", "Answer the reporter (反馈); intake shows the text to the receipt holder")
async def feedback(
    lead_id: LeadId, body: FeedbackIn, principal: Officer, ledger: LedgerDep
) -> CommandDone:
    command = GiveFeedback(lead_id=lead_id, text=body.text, method=body.method)
    return _done(await ledger.execute(command, principal))


@_command("archive", "Archive the file (归档): after a result and an answer to the reporter")
async def archive(
    lead_id: LeadId, body: ArchiveIn, principal: Officer, ledger: LedgerDep
) -> CommandDone:
    return _done(await ledger.execute(Archive(lead_id=lead_id), principal))


@_command("reopen", "Reopen a concluded lead for a look-back review (回头看)")
async def reopen(
    lead_id: LeadId, body: ReopenIn, principal: Officer, ledger: LedgerDep
) -> CommandDone:
    return _done(await ledger.execute(Reopen(lead_id=lead_id, reason=body.reason), principal))


@router.get("/unanswered", summary="Leads with no answer or no result after N days")
async def unanswered(
    principal: Reader,
    ledger: LedgerDep,
    days: Annotated[int | None, Query(ge=1, le=3650)] = None,
) -> list[LeadOut]:
    older_than = ledger.settings.unanswered_after(days)
    async with ledger.runtime.database.async_engine.connect() as conn:
        rows = await queries.unanswered(conn, principal, older_than, utc_now())
    return [lead_out(r) for r in rows]


@router.get("/stats", summary="Counts by village, unit, category and month")
async def stats(principal: Reader, ledger: LedgerDep) -> dict[str, dict[str, int]]:
    async with ledger.runtime.database.async_engine.connect() as conn:
        return await queries.statistics(conn, principal)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


@router.get(
    "/export.{fmt}",
    summary="The ledger as XLSX or CSV (the export is recorded)",
    response_class=Response,
    responses={
        200: {
            "description": "The ledger as a file to save",
            "content": {
                XLSX: {"schema": {"type": "string", "format": "binary"}},
                CSV: {"schema": {"type": "string"}},
            },
        }
    },
)
async def export(
    fmt: Literal["xlsx", "csv"],
    principal: Reader,
    ledger: LedgerDep,
    chosen: FiltersDep,
    lang: Literal["zh", "en"] = "zh",
) -> Response:
    async with ledger.runtime.database.async_engine.connect() as conn:
        rows = await queries.all_rows(conn, principal, chosen, utc_now())
    await ledger.exported(principal, fmt, chosen, len(rows))
    town = ledger.runtime.org.town
    stamp = utc_now().strftime("%Y%m%d")
    if fmt == "csv":
        body, media = to_csv(rows, ledger.runtime.org, lang), CSV
    else:
        title = f"{town.name}扫黑除恶线索台账" if lang == "zh" else f"{town.name_en} lead ledger"
        body = to_xlsx(rows, ledger.runtime.org, lang, title)
        media = XLSX
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="ledger-{town.code}-{stamp}.{fmt}"'},
    )
