"""Evidence files over HTTP: a reporter uploads with the receipt, staff who see every lead
of the town download, the custodian destroys a lead's evidence key.

An upload's body is the file's bytes as they are (no multipart), read as they arrive:
``POST /v1/reports/{receipt}/files?strip_metadata=true`` with a solved challenge, as for
any look-up by receipt. Its name and Content-Type are not read: the type is judged from
the bytes (common.evidence_files).

Staff read a lead's files if they may read the lead, by the ledger's rule
(common.visibility): the office, clerks and auditors their town's leads (the county's,
every town's), the units a lead was handed to (police, judicial office, committee) that
lead, a village screener their village's; the custodian their town's. A lead one may not
read answers 404 exactly like a lead that does not exist, for the list, a download and
the destruction of its key alike.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import JSONResponse, StreamingResponse

from common.auth import Principal, require_roles
from common.events import Role, utc_now
from common.evidence import EvidenceSpoolFull, EvidenceTooLarge, bucket_config, evidence_bucket
from common.evidence_files import ACCEPTED_WORDS, FileRefused
from common.http_errors import errors
from common.paths import LeadId
from common.service import ServiceRuntime
from common.streams import declare_stream
from common.subjects import Service
from intake import evidence_zip
from intake.api import Custodian, ReceiptWork
from intake.application.evidence import Evidence, Upload
from intake.schemas import Reason

#: the roles that may read the files of the leads they may read (common.visibility); an
#: administrator runs the system and reads no reporter's files
READERS: Final = (
    Role.OFFICE,
    Role.CLERK,
    Role.CUSTODIAN,
    Role.AUDITOR,
    Role.DISCIPLINE,
    Role.POLICE,
    Role.JUDICIAL,
    Role.SCREENER,
)
#: how long a sender is asked to wait when the spool's disk is full
SPOOL_RETRY_SECONDS: Final = 30
_FILE_ID: Final = r"^[0-9a-f]{32}$"

Reader = Annotated[Principal, Depends(require_roles(*READERS))]

router = APIRouter(prefix="/v1", tags=["evidence"], responses=errors(503))


async def get_evidence(request: Request) -> Evidence:
    evidence: Evidence = request.app.state.evidence
    return evidence


EvidenceDep = Annotated[Evidence, Depends(get_evidence)]


@router.post(
    "/reports/{receipt}/files",
    status_code=status.HTTP_201_CREATED,
    summary="上传证据材料 / Add a photo, video, recording or document to a report (with the receipt)",
    responses={
        **errors(404, 410, 413, 428),
        415: {"description": "Not a type intake keeps (judged from the bytes)"},
    },
)
async def upload(
    receipt: str,
    request: Request,
    evidence: EvidenceDep,
    _work: ReceiptWork,
    strip_metadata: Annotated[
        bool,
        Query(description="去除照片中的位置和作者信息 / take location and author out of a photo"),
    ] = False,
) -> dict[str, Any]:
    """请求体为文件本身。The body is the file itself. Answers what was stored: its id,
    size, SHA-256, the type judged from its bytes, and whether location or author
    metadata was found and taken out (photos only; documents and recordings are flagged,
    not changed). The same file sent again (a retry after a lost answer) is not stored
    twice: the answer is the file held already, with its id; but once the lead holds
    its limit of files, any file is refused (422) before it is read, a file held among
    them too."""
    attached = await evidence.upload(Upload(receipt, request.stream(), strip_metadata))
    return {
        "file_id": attached.file_id,
        "size": attached.size,
        "sha256": attached.sha256,
        "media_type": attached.media_type,
        "metadata_found": attached.metadata_found,
        "metadata_stripped": attached.metadata_stripped,
    }


@router.get(
    "/leads/{lead_id}/files",
    summary="证据材料清单 / A lead's evidence files: ids, sizes, hashes, types, metadata flags",
    responses=errors(404, 410),
)
async def files(lead_id: LeadId, principal: Reader, evidence: EvidenceDep) -> dict[str, Any]:
    """The list says what is held, never what is in it: no read is recorded for it."""
    found = await evidence.files(lead_id, principal)
    return {
        "lead_id": lead_id,
        "key_destroyed": found.key_destroyed,
        "files": [
            {
                "file_id": a.file_id,
                "size": a.size,
                "sha256": a.sha256,
                "media_type": a.media_type,
                "metadata_found": a.metadata_found,
                "metadata_stripped": a.metadata_stripped,
                "attached_at": a.occurred_at.isoformat(),
            }
            for a in found.files
        ],
    }


@router.get(
    "/leads/{lead_id}/files/{file_id}",
    summary="下载证据材料 / Download a lead's evidence file, decrypted (recorded)",
    response_class=StreamingResponse,
    responses=errors(404, 410),
)
async def download(
    lead_id: LeadId,
    file_id: Annotated[str, Path(pattern=_FILE_ID)],
    principal: Reader,
    evidence: EvidenceDep,
) -> StreamingResponse:
    found = await evidence.download(lead_id, file_id, principal)
    return StreamingResponse(
        found.chunks,
        media_type=found.attached.media_type,
        headers={
            "Content-Length": str(found.attached.size),
            "Content-Disposition": f'attachment; filename="{found.attached.file_id}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/leads/{lead_id}/files.zip",
    summary="证据材料打包下载 / A lead's evidence files as one ZIP with a signed manifest"
    " (each file's read recorded)",
    response_class=StreamingResponse,
    responses=errors(404, 410),
)
async def files_zip(
    lead_id: LeadId, request: Request, principal: Reader, evidence: EvidenceDep
) -> StreamingResponse:
    """每个文件解密后放在“证据材料/”下，manifest.json 列出每个文件的大小和 SHA-256，并用受理系统的
    回执签名密钥签名（`leadctl verify --dossier` 可离线核验）。Each file decrypted under
    证据材料/, and manifest.json giving each one's size and SHA-256, signed with intake's
    receipt key (GET /v1/receipts/public-key): `leadctl verify --dossier FILE.zip
    --public-key KEY` checks it offline."""
    return await zip_response(request, evidence, lead_id, principal)


async def zip_response(
    request: Request, evidence: Evidence, lead_id: str, principal: Principal
) -> StreamingResponse:
    """The ZIP of the lead's files as the API and the desk answer it (the reads recorded
    and the manifest signed before the first byte)."""
    found = await evidence.export(lead_id, principal)
    at = utc_now()
    signed = request.app.state.intake.signer.sign_manifest(
        evidence_zip.manifest(lead_id, found.ledger_number, found.files, principal, at)
    )
    return StreamingResponse(
        evidence_zip.zipped(signed, found.files, found.read, at),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{lead_id}.zip"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/leads/{lead_id}/evidence/destroy-key",
    summary="销毁证据密钥 / Destroy a lead's evidence key: its files become unreadable for good",
    responses=errors(404, 410),
)
async def destroy_key(
    lead_id: LeadId, body: Reason, principal: Custodian, evidence: EvidenceDep
) -> dict[str, str]:
    await evidence.destroy_key(lead_id, body.reason, principal)
    return {"lead_id": lead_id, "evidence": "key destroyed"}


async def too_large(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EvidenceTooLarge)  # noqa: S101 - installed for this type only
    mib = exc.limit / (1024 * 1024)
    return JSONResponse(
        {
            "detail": [
                {
                    "field": "file",
                    "message": f"文件太大：上限为 {mib:.1f} MiB（{exc.limit} 字节）",
                    "message_en": f"the file is too large: the limit here is {mib:.1f} MiB"
                    f" ({exc.limit:,} bytes)",
                    "limit_bytes": exc.limit,
                }
            ]
        },
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
    )


async def spool_full(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {
            "detail": [
                {
                    "field": "file",
                    "message": "服务器暂时无法接收文件，请稍后重试",
                    "message_en": "the server cannot take a file just now; send it again later",
                }
            ]
        },
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(SPOOL_RETRY_SECONDS)},
    )


async def refused_type(_: Request, exc: Exception) -> JSONResponse:
    zh, en = ACCEPTED_WORDS
    return JSONResponse(
        {
            "detail": [
                {
                    "field": "file",
                    "message": f"不接受此类文件（按文件内容判断），只接受：{zh}",
                    "message_en": f"this kind of file is not accepted (judged from its"
                    f" content); accepted: {en}",
                }
            ]
        },
        status_code=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    )


def install_evidence(runtime: ServiceRuntime, evidence: Evidence) -> None:
    """The routes, their refusals and body limit, and the bucket declared at start."""
    settings = evidence.intake.settings
    runtime.app.state.evidence = evidence
    # The body is the file and nothing else: a declared length over the file's limit is
    # refused before a byte is read, naming that limit.
    runtime.allow_body("/v1/reports/*/files", settings.evidence_max_bytes)
    runtime.app.add_exception_handler(EvidenceTooLarge, too_large)
    runtime.app.add_exception_handler(FileRefused, refused_type)
    runtime.app.add_exception_handler(EvidenceSpoolFull, spool_full)
    runtime.app.include_router(router)

    async def declare_bucket() -> None:
        # Like the streams: created here when missing, never changed; provisioning makes it
        # first in a deployment (leadctl.provision), with the replicas of the streams.
        config = bucket_config(evidence_bucket(Service.INTAKE), settings.stream_replicas)
        await declare_stream(runtime.js, config)

    runtime.on_start(declare_bucket)
