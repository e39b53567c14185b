"""The ledger's HTTP API (台账): the lead list and each lead in full, the commands that move
a lead through its life, the unanswered list, statistics and the export."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, TypeAdapter

from common.auth import Principal, require_roles
from common.database import as_utc
from common.events import Role, utc_now
from common.eventstore import LeadHistory
from common.http_errors import errors
from common.paths import LeadId
from common.vocabulary import LeadStatus, label
from ledger.application import HANDLING_ROLES, LeadInFull, Ledger, Recorded, towns
from ledger.campaigns_api import router as campaigns
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
from ledger.county_api import router as county
from ledger.export import to_csv, to_xlsx
from ledger.notices_api import router as notices
from ledger.projection.queries import READERS, Filters
from ledger.projection.search import SHORTEST
from ledger.schemas import (
    AcceptIn,
    ArchiveIn,
    AssignIn,
    AttachmentOut,
    Author,
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
    SameMatter,
    ThreadEntry,
    TransferIn,
    VerificationIn,
)


# The dependencies are coroutines: FastAPI sends a plain function to a worker thread and
# back, for every request.
async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


def ledger_of(request: Request) -> Ledger:
    """The ledger, for the reads: a dependency fewer for FastAPI to solve on each."""
    ledger: Ledger = request.app.state.ledger
    return ledger


Reader = Annotated[Principal, Depends(require_roles(*READERS))]
# A principal whose role handles leads (which lead, the rules decide).
Officer = Annotated[Principal, Depends(require_roles(*HANDLING_ROLES))]

router = APIRouter(prefix="/v1/ledger", tags=["ledger"], responses=errors(503))

# Far past any ledger a township keeps (500 a page), and small enough that the offset it
# makes stays a number every database takes: a page beyond it is the parameter's fault.
MAX_PAGE = 1_000_000
# A search is a few words, not a document; control characters are no one's search.
LONGEST_SEARCH = 100
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
LEDGER_NUMBER = r"^[A-Za-z]{2,6}-\d{4}-\d{6,}$"
LEAD_KEY = r"[A-Za-z0-9_-]{1,64}"
DEFAULT_PAGE_SIZE = 50
LARGEST_PAGE_SIZE = 500
LONGEST_PURPOSE = 200

#: A lead by its id, or by its ledger number as printed on the file (SHD-2026-000066).
LeadKey = Annotated[
    str,
    Path(
        pattern=f"^{LEAD_KEY}$",
        description="线索编号或台账编号 (SHD-2026-000066) / A lead's id, or its ledger number",
    ),
]

THREAD_KINDS: dict[str, tuple[str, str]] = {
    "supplement": ("补充材料", "supplement"),
    "message": ("留言", "message"),
    "feedback": ("反馈", "answer"),
}


# Each status's labels, (zh, en), by its code.
_STATUS_LABELS: Final = {s.value: (label(s), label(s, "en")) for s in LeadStatus}


def _labelled(row: dict[str, Any]) -> dict[str, Any]:
    """A lead's row with its status's labels (a status the vocabulary lacks fails here)."""
    zh, en = _STATUS_LABELS[row["status"]]
    return {**row, "status_label": zh, "status_label_en": en}


def lead_out(row: dict[str, Any]) -> LeadOut:
    return LeadOut.model_validate(_labelled(row))


async def filters(
    status: LeadStatus | None = None,
    unit: str | None = None,
    village: str | None = None,
    category: str | None = None,
    channel: str | None = None,
    assignee: str | None = None,
    overdue: bool | None = None,
    registered_from: Annotated[datetime | None, Query(alias="from")] = None,
    registered_to: Annotated[datetime | None, Query(alias="to")] = None,
    ledger_number: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=LEDGER_NUMBER,
            description="台账编号 / The ledger number, e.g. SHD-2026-000066",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=SHORTEST,
            max_length=LONGEST_SEARCH,
            pattern=PRINTABLE,
            description=(
                "全文检索：简要内容、详细情况和举报人补充、留言中含有这段文字（至少3个字）的线索，"
                "仅限您可查看的线索 / Full-text search: leads whose summary, details or the "
                "reporter's additions contain this text (3 characters or more), among those "
                "you may see"
            ),
        ),
    ] = None,
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
        ledger_number=ledger_number.upper() if ledger_number else None,
        q=q,
    )


FiltersDep = Annotated[Filters, Depends(filters)]


class Answer(Response):
    """A model already built and checked, sent as JSON without FastAPI validating and
    serialising it a second time through the route's response model (which stays
    declared, for the documentation): that second pass cost as much as the query."""

    media_type = "application/json"

    def __init__(self, model: BaseModel) -> None:
        super().__init__(model.__pydantic_serializer__.to_json(model))


@router.get(
    "/leads",
    response_model=Page,
    summary="台账：筛选、检索、分页 / The ledger, filtered, searched and paged, as far as you may see it",
    description=(
        "按状态、单位、村、类别、渠道、责任人、时限、登记时间、台账编号筛选，"
        "q 全文检索（含举报人补充）；只列出您可查看的线索。"
        " / Filter by status, unit, village, category, channel, assignee, deadline, filing"
        " time or ledger number; q searches the full text (the reporter's additions"
        " included); only leads you may see are listed."
    ),
)
async def list_leads(
    request: Request,
    principal: Reader,
    chosen: FiltersDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=LARGEST_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> Answer:
    return await listed(request, principal, chosen, page, page_size)


# The hot reads' answers, given by their routes and by ledger.fastreads alike.


async def listed(
    request: Request, principal: Principal, chosen: Filters, page: int, page_size: int
) -> Answer:
    found = await ledger_of(request).page(principal, chosen, page, page_size)
    # Validated in one go from the rows (pydantic-core, not a model built a row at a time).
    shown = {
        "total": found.total,
        "total_exact": found.exact,
        "page": page,
        "page_size": page_size,
    }
    return Answer(Page.model_validate({**shown, "items": [_labelled(r) for r in found.rows]}))


async def in_full(request: Request, key: str, principal: Principal, purpose: str) -> Answer:
    read = await ledger_of(request).read_in_full(key, principal, purpose)
    return Answer(lead_detail(read))


_COUNTS: Final = TypeAdapter(dict[str, dict[str, int]])


async def counted(request: Request, principal: Principal) -> Response:
    counts = await ledger_of(request).statistics(principal)
    return Response(_COUNTS.dump_json(counts), media_type="application/json")


@router.get(
    "/leads/{lead_id}",
    response_model=LeadDetail,
    summary=(
        "一条线索的全部内容（查阅留痕） / One lead in full: what was reported, the exchange"
        " with the reporter, reports of the same matter, its history (the read is recorded)"
    ),
    description=(
        "按线索编号或台账编号查阅：举报内容、附件、与举报人的往来（补充材料、留言、反馈，按时间排序）、"
        "疑似重复线索（仅列出您可查看的）、督办情况和办理过程。无权查看与不存在的答复相同（404）。"
        "回复举报人请用 POST …/feedback，答复会显示在举报人的查询页。"
        " / By the lead's id or its ledger number: what was reported, the attachments, the"
        " exchange with the reporter (supplements, messages, answers, oldest first), the"
        " reports of the same matter you may see, supervision and the lead's history. A lead"
        " you may not see answers as one that does not exist (404). Answer the reporter with"
        " POST …/feedback: the answer shows on the receipt page."
    ),
    responses=errors(404),
)
async def get_lead(
    request: Request,
    lead_id: LeadKey,
    principal: Reader,
    purpose: Annotated[
        str, Query(max_length=LONGEST_PURPOSE, description="查阅事由 / Why you read the lead")
    ] = "",
) -> Answer:
    return await in_full(request, lead_id, principal, purpose)


def lead_detail(read: LeadInFull) -> LeadDetail:
    report = read.report or {}
    return LeadDetail(
        **lead_out(read.row).model_dump(),
        reported_at=read.row["reported_at"],
        details=report.get("details", ""),
        attachments=[AttachmentOut(**a) for a in report.get("attachments", [])],
        thread=[thread_entry(e) for e in read.thread],
        duplicates=[SameMatter(**d) for d in read.duplicates],
        history=history(read.ledger_history, read.directive_history),
    )


def thread_entry(entry: dict[str, Any]) -> ThreadEntry:
    label, label_en = THREAD_KINDS[entry["kind"]]
    return ThreadEntry(
        event_id=entry["event_id"],
        kind=entry["kind"],
        kind_label=label,
        kind_label_en=label_en,
        from_reporter=entry["author_role"] == Role.REPORTER.value,
        author=Author(
            role=entry["author_role"], unit=entry["author_unit"], user=entry["author_user"]
        ),
        occurred_at=entry["occurred_at"],
        text=entry["text"],
        attachments=[AttachmentOut(**a) for a in entry["attachments"]],
        method=entry["method"],
    )


def history(ledger_events: LeadHistory, directives: LeadHistory) -> list[HistoryEntry]:
    return sorted(
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
            for stream, events in (("LEDGER", ledger_events), ("DIRECTIVES", directives))
            for stored in events.events
        ),
        key=lambda e: e.occurred_at,
    )


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


@_command("accept", "接收移交 / Accept a lead handed to your unit")
async def accept(
    lead_id: LeadId, body: AcceptIn, principal: Officer, ledger: LedgerDep
) -> CommandDone:
    return _done(await ledger.execute(Accept(lead_id=lead_id), principal))


@_command("return", "退回移交 / Return a lead handed to your unit, with the reason")
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


@_command("extend-deadline", "延长时限 / Extend the deadline, with the reason")
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


@router.get(
    "/unanswered", summary="未反馈、未办结线索 / Leads with no answer or no result after N days"
)
async def unanswered(
    principal: Reader,
    ledger: LedgerDep,
    days: Annotated[int | None, Query(ge=1, le=3650)] = None,
) -> list[LeadOut]:
    return [lead_out(r) for r in await ledger.unanswered(principal, days)]


@router.get(
    "/stats",
    summary="统计 / Counts by village, unit, category and month",
    response_model=dict[str, dict[str, int]],
)
async def stats(request: Request, principal: Reader) -> Response:
    return await counted(request, principal)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


@router.get(
    "/export.{fmt}",
    summary="导出台账 / The ledger as XLSX or CSV (the export is recorded)",
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
    rows = await ledger.export_rows(principal, fmt, chosen)
    town = towns.whose_ledger(ledger.runtime.org, principal)
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


router.include_router(notices)
router.include_router(campaigns)
router.include_router(county)
