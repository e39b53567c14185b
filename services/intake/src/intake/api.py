"""Intake's HTTP API: public reports with a receipt and a signed receipt document, their
verification by anyone, staff entry, bulk import, and the custodian's disclosure and
shredding of reporters' identities.

Nothing about a public reporter's connection (address, user agent) is read or kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Final

import orjson
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
from fastapi.responses import JSONResponse

from common.auth import Principal, require_roles
from common.database import as_utc
from common.events import Role
from common.events.catalogue import ReporterKind
from common.http_errors import errors
from common.paths import LeadId
from common.work import HEADER, Purpose, WorkRefused
from intake.application import STAFF_ROLES, Intake
from intake.commands import (
    AddToReport,
    DiscloseIdentity,
    EnterLead,
    ReportPublicly,
    ShredIdentity,
)
from intake.idempotency import StillInProgress
from intake.importer import ImportRefused, import_ledger
from intake.projection.projector import Progress
from intake.schemas import (
    RECEIPT_DOCUMENT_SCHEMA,
    FeedbackOut,
    ImportResult,
    LeadAccepted,
    PublicReport,
    Reason,
    ReceiptKey,
    ReceiptKeys,
    ReceiptStatus,
    ReceiptVerdict,
    ReportAccepted,
    ReporterMessage,
    StaffLead,
    WorkChallenge,
)
from intake.signed_receipts import public_key_text
from intake.vault import Identity

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


async def get_intake(request: Request) -> Intake:
    # async: FastAPI runs a plain function dependency in its thread pool, a hop per
    # request for one attribute read.
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
    summary="获取验证题 / A challenge to solve before a public report or a look-up by receipt",
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
    summary="举报线索 / Report a lead (public, named or anonymous, no account; needs a solved challenge)",
    responses=errors(409, 428),
)
async def report(
    body: PublicReport,
    intake: IntakeDep,
    _work: ReportWork,
    idempotency_key: IdempotencyKey = None,
) -> ReportAccepted:
    accepted = await intake.report_public(ReportPublicly(body.content(), idempotency_key))
    assert accepted.receipt is not None  # noqa: S101 - public reports always get one
    return ReportAccepted(
        lead_id=accepted.lead_id,
        receipt=accepted.receipt,
        signed_receipt=accepted.signed_receipt,
    )


@router.get(
    "/reports/{receipt}",
    summary="查询办理进度 / The status of a report and the answers given",
    responses=errors(404, 428),
)
async def report_status(receipt: str, intake: IntakeDep, _work: ReceiptWork) -> ReceiptStatus:
    view = await intake.status(receipt)
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
    summary="补充材料或留言 / Add information to a report, or write to the office",
    responses=errors(404, 428),
)
async def add_to_report(
    receipt: str, body: ReporterMessage, intake: IntakeDep, _work: ReceiptWork
) -> dict[str, str]:
    addition = AddToReport(
        receipt, body.text, body.kind, tuple(a.recorded() for a in body.attachments)
    )
    event_id = await intake.add(addition)
    return {"event_id": event_id}


@router.post(
    "/leads",
    status_code=status.HTTP_201_CREATED,
    summary="录入线索 / Enter a lead received by staff",
    response_model=LeadAccepted,
    responses=errors(409),
)
async def enter_lead(
    body: StaffLead, principal: Staff, intake: IntakeDep, idempotency_key: IdempotencyKey = None
) -> Response:
    command = EnterLead(body.content(), body.channel, idempotency_key)
    accepted = await intake.enter_staff(command, principal)
    # Two strings made here: sent as they are, not built into the model, validated again
    # and serialised by FastAPI (the model still documents the answer).
    return Response(
        orjson.dumps({"lead_id": accepted.lead_id, "signed_receipt": accepted.signed_receipt}),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
    )


@router.get(
    "/receipts/public-key",
    summary="回执签名公钥 / The public keys signed receipts are checked with (public)",
)
async def receipt_public_keys(intake: IntakeDep) -> ReceiptKeys:
    """任何人都可以用这些公钥核验签名回执，不联网也可以核验。
    Anyone may check a signed receipt with these keys, offline too: Ed25519 over the
    canonical JSON (keys sorted, no whitespace, UTF-8) of every field but ``signature``,
    with the key whose ``key_id`` the receipt names."""
    signer = intake.signer
    return ReceiptKeys(
        keys=[
            ReceiptKey(key_id=kid, public_key=public_key_text(key), current=kid == signer.key_id)
            for kid, key in signer.keys.items()
        ]
    )


@router.post(
    "/receipts/verify",
    summary="核验签名回执 / Check a signed receipt (public; no other effect)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": RECEIPT_DOCUMENT_SCHEMA}},
        }
    },
)
async def verify_receipt(request: Request, intake: IntakeDep) -> ReceiptVerdict:
    """请求体是回执文件的原样内容。回答有效或无效及原因；不记录、不改变任何东西。
    The body is the receipt file's bytes as they are. The answer says whether it is valid,
    and if not why (malformed, unknown_key, bad_signature); nothing is recorded or changed.
    A document not exactly as issued (one byte changed, re-indented) is malformed."""
    verdict = intake.verify_receipt(await request.body())
    return ReceiptVerdict.model_validate(verdict.as_dict())


@router.post(
    "/leads/import",
    summary="导入村摸排台账 / Import a village's screening ledger (CSV or XLSX with Chinese headers)",
)
async def import_leads(file: UploadFile, principal: Staff, intake: IntakeDep) -> ImportResult:
    """413 when the file passes a limit (size, rows, unpacked size), 422 when it cannot be
    read; either way nothing of it is imported (:func:`import_refused`). A cell too long is
    an error of its row."""
    return await import_ledger(intake, principal, file.filename or "", file)


@router.post(
    "/leads/{lead_id}/identity/disclose",
    summary="查阅实名举报人身份（已停用）/ A custodian's read alone: refused, ask through"
    " /identity/requests (another custodian approves)",
    responses=errors(403, 404, 410),
)
async def disclose(lead_id: LeadId, body: Reason, _: Custodian, intake: IntakeDep) -> Identity:
    await intake.disclose(DiscloseIdentity(lead_id, body.reason))


@router.post(
    "/leads/{lead_id}/identity/shred",
    summary="销毁举报人身份 / Destroy a named reporter's identity for good (crypto-shredding)",
    responses=errors(404, 410),
)
async def shred(
    lead_id: LeadId, body: Reason, principal: Shredder, intake: IntakeDep
) -> dict[str, str]:
    await intake.shred(ShredIdentity(lead_id, body.reason), principal)
    return {"lead_id": lead_id, "reporter": ReporterKind.NAMED.value, "identity": "shredded"}


async def still_in_progress(_: Request, exc: Exception) -> JSONResponse:
    """A keyed retry that came while the first request with its key is still running
    (:class:`intake.idempotency.StillInProgress`): the client retries shortly."""
    return JSONResponse(
        {
            "detail": [
                {
                    "field": "Idempotency-Key",
                    "message": "使用该 Idempotency-Key 的第一次请求仍在处理中，请稍后重试",
                    "message_en": "the first request with this Idempotency-Key is still being"
                    " handled; retry shortly",
                }
            ]
        },
        status_code=status.HTTP_409_CONFLICT,
        headers={"Retry-After": "2"},
    )


async def import_refused(_: Request, exc: Exception) -> JSONResponse:
    """A file refused as a whole (:class:`intake.importer.ImportRefused`)."""
    assert isinstance(exc, ImportRefused)  # noqa: S101 - installed for this type only
    code = (
        status.HTTP_413_CONTENT_TOO_LARGE
        if exc.too_large
        else status.HTTP_422_UNPROCESSABLE_CONTENT
    )
    return JSONResponse({"detail": exc.detail}, status_code=code)


#: intake's own refusals, beside the shared ones (common.http_errors.install_error_handlers)
EXCEPTION_HANDLERS: Final = {StillInProgress: still_in_progress, ImportRefused: import_refused}


def _utc(moment: datetime) -> str:
    return as_utc(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")
