"""Intake's HTTP API: public reports with a receipt, staff entry, bulk import, and the
custodian's disclosure and shredding of reporters' identities.

Nothing about a public reporter's connection (address, user agent) is read or kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Final, TypeVar

from fastapi import (
    APIRouter,
    Depends,
    Header,
    HTTPException,
    Request,
    Response,
    UploadFile,
    status,
)

from common.auth import Principal, require_roles
from common.database import as_utc
from common.events import Role
from common.events.catalogue import ReporterKind
from common.http_errors import errors
from common.paths import LeadId
from common.work import HEADER, Purpose, WorkRefused
from intake.domain.lead import IdentityAlreadyShredded, LeadNotFound, NotNamed
from intake.handlers import (
    STAFF_ROLES,
    ChannelNotAllowed,
    Intake,
    ReceiptUnknown,
)
from intake.idempotency import StillInProgress
from intake.importer import ImportRefused, import_ledger
from intake.projection.projector import Progress
from intake.schemas import (
    FeedbackOut,
    ImportResult,
    LeadAccepted,
    PublicReport,
    Reason,
    ReceiptStatus,
    ReportAccepted,
    ReporterMessage,
    StaffLead,
    WorkChallenge,
)
from intake.vault import Identity, IdentityGone

T = TypeVar("T")

PROGRESS_LABELS: Final[dict[str, tuple[str, str]]] = {
    Progress.RECEIVED: ("已受理", "received"),
    Progress.REGISTERED: ("已登记", "registered"),
    Progress.IN_HAND: ("办理中", "being handled"),
    Progress.CONCLUDED: ("已办结", "concluded"),
    Progress.ANSWERED: ("已反馈", "answered"),
    Progress.CLOSED: ("已归档", "closed"),
}

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=16,
        max_length=200,
        description="Send the same key when retrying: the same lead comes back, never a second one.",
    ),
]


def get_intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


IntakeDep = Annotated[Intake, Depends(get_intake)]


WorkProof = Annotated[
    str | None,
    Header(
        alias=HEADER,
        max_length=200,
        description="<challenge>:<nonce>, a solved challenge from /v1/work/{purpose}",
    ),
]


def _proof_of_work(purpose: Purpose) -> Callable[..., Awaitable[None]]:
    async def spend(intake: IntakeDep, proof: WorkProof = None) -> None:
        try:
            await intake.work.spend(proof, purpose)
        except WorkRefused as exc:
            raise HTTPException(
                status.HTTP_428_PRECONDITION_REQUIRED,
                detail=[{"field": HEADER, "message": exc.reason_zh, "message_en": exc.reason}],
            ) from exc

    return spend


ReportWork = Annotated[None, Depends(_proof_of_work(Purpose.REPORT))]
ReceiptWork = Annotated[None, Depends(_proof_of_work(Purpose.RECEIPT))]
Staff = Annotated[Principal, Depends(require_roles(*STAFF_ROLES))]
Custodian = Annotated[Principal, Depends(require_roles(Role.CUSTODIAN))]
Shredder = Annotated[Principal, Depends(require_roles(Role.CUSTODIAN, Role.ADMIN))]

router = APIRouter(prefix="/v1", tags=["intake"], responses=errors(503))


@router.get(
    "/work/{purpose}",
    summary="A challenge to solve before a public report or a look-up by receipt",
)
async def work_challenge(purpose: Purpose, intake: IntakeDep, response: Response) -> WorkChallenge:
    challenge = intake.work.issue(purpose)
    response.headers["Cache-Control"] = "no-store"
    return WorkChallenge(
        challenge=challenge.token,
        bits=challenge.bits,
        expires_at=datetime.fromtimestamp(challenge.expires_at, UTC)
        .isoformat()
        .replace("+00:00", "Z"),
    )


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    summary="Report a lead (public, named or anonymous, no account; needs a solved challenge)",
    responses=errors(409, 428),
)
async def report(
    body: PublicReport,
    intake: IntakeDep,
    _work: ReportWork,
    idempotency_key: IdempotencyKey = None,
) -> ReportAccepted:
    accepted = await _once(intake.report_public(body, idempotency_key))
    assert accepted.receipt is not None  # noqa: S101 - public reports always get one
    return ReportAccepted(lead_id=accepted.lead_id, receipt=accepted.receipt)


@router.get(
    "/reports/{receipt}",
    summary="The status of a report and the answers given",
    responses=errors(404, 428),
)
async def report_status(receipt: str, intake: IntakeDep, _work: ReceiptWork) -> ReceiptStatus:
    view = await _receipt_call(intake.status(receipt))
    zh, en = PROGRESS_LABELS[view.progress]
    return ReceiptStatus(
        status=view.progress,
        status_label=zh,
        status_label_en=en,
        reported_at=_utc(view.reported_at),
        feedback=[FeedbackOut(text=text, given_at=_utc(at)) for text, at in view.feedback],
    )


@router.post(
    "/reports/{receipt}/messages",
    status_code=status.HTTP_201_CREATED,
    summary="Add information to a report, or write to the office",
    responses=errors(404, 428),
)
async def add_to_report(
    receipt: str, body: ReporterMessage, intake: IntakeDep, _work: ReceiptWork
) -> dict[str, str]:
    event_id = await _receipt_call(intake.add(receipt, body))
    return {"event_id": event_id}


@router.post(
    "/leads",
    status_code=status.HTTP_201_CREATED,
    summary="Enter a lead received by staff",
    responses=errors(409),
)
async def enter_lead(
    body: StaffLead, principal: Staff, intake: IntakeDep, idempotency_key: IdempotencyKey = None
) -> LeadAccepted:
    try:
        accepted = await _once(intake.enter_staff(body, body.channel, principal, idempotency_key))
    except ChannelNotAllowed as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc
    return LeadAccepted(lead_id=accepted.lead_id)


@router.post(
    "/leads/import",
    summary="Import a village's screening ledger (CSV or XLSX with Chinese headers)",
)
async def import_leads(file: UploadFile, principal: Staff, intake: IntakeDep) -> ImportResult:
    """413 when the file passes a limit (size, rows, unpacked size), 422 when it cannot be
    read; either way nothing of it is imported. A cell too long is an error of its row."""
    try:
        return await import_ledger(intake, principal, file.filename or "", file)
    except ImportRefused as exc:
        code = (
            status.HTTP_413_CONTENT_TOO_LARGE
            if exc.too_large
            else status.HTTP_422_UNPROCESSABLE_CONTENT
        )
        raise HTTPException(code, detail=exc.detail) from exc


@router.post(
    "/leads/{lead_id}/identity/disclose",
    summary="Disclose a named reporter's identity (custodian, with a reason; recorded)",
    responses=errors(404, 410),
)
async def disclose(
    lead_id: LeadId, body: Reason, principal: Custodian, intake: IntakeDep
) -> Identity:
    return await _identity_call(intake.disclose(lead_id, body.reason, principal))


@router.post(
    "/leads/{lead_id}/identity/shred",
    summary="Destroy a named reporter's identity for good (crypto-shredding)",
    responses=errors(404, 410),
)
async def shred(
    lead_id: LeadId, body: Reason, principal: Shredder, intake: IntakeDep
) -> dict[str, str]:
    await _identity_call(intake.shred(lead_id, body.reason, principal.actor))
    return {"lead_id": lead_id, "reporter": ReporterKind.NAMED.value, "identity": "shredded"}


async def _once(call: Awaitable[T]) -> T:
    try:
        return await call
    except StillInProgress as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=[
                {
                    "field": "Idempotency-Key",
                    "message": "使用该 Idempotency-Key 的第一次请求仍在处理中，请稍后重试",
                    "message_en": "the first request with this Idempotency-Key is still being"
                    " handled; retry shortly",
                }
            ],
            headers={"Retry-After": "2"},
        ) from exc


def _utc(moment: datetime) -> str:
    return as_utc(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _receipt_call(call: Awaitable[T]) -> T:
    try:
        return await call
    except ReceiptUnknown as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no report has this receipt") from exc


async def _identity_call(call: Awaitable[T]) -> T:
    try:
        return await call
    except LeadNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such lead") from exc
    except NotNamed as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {
                    "field": "lead_id",
                    "message": "该线索为匿名举报，没有举报人身份信息",
                    "message_en": "the report is anonymous: there is no identity",
                }
            ],
        ) from exc
    except (IdentityAlreadyShredded, IdentityGone) as exc:
        raise HTTPException(
            status.HTTP_410_GONE,
            detail="the reporter's identity was destroyed and cannot be recovered",
        ) from exc
