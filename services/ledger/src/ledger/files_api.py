"""Staff files over HTTP (工作开展痕迹), on a lead or a task/rectification item:

- ``POST /v1/ledger/leads/{lead_id}/files?title=…&strip_metadata=…`` (body: the file's bytes
  as they are, no multipart), ``GET …/files`` (the list), ``GET …/files/{file_id}`` (the
  file, decrypted, recorded as read before the first byte);
- the same under ``/v1/ledger/tasks/{task_id}/files``.

A file's name and Content-Type are not read: the type is judged from the bytes. A declared
length over the file limit is refused before a byte is read; a body that turns out longer
is refused as soon as it passes the limit (413 naming it)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.responses import StreamingResponse

from common.auth import Principal, require_roles
from common.events import Role
from common.events.files import FILE_ID, LONGEST_TITLE
from common.events.tasks import TASK_ID
from common.evidence import EvidenceSpoolFull, EvidenceTooLarge, bucket_config, evidence_bucket
from common.evidence_files import FileRefused
from common.evidence_uploads import refused_type, spool_full, too_large
from common.http_errors import errors
from common.paths import LeadId
from common.service import ServiceRuntime
from common.streams import declare_stream
from common.subjects import Service
from ledger.application.files import LEAD_UPLOADERS, Download, StaffFile, StaffFiles, Upload
from ledger.pages.files import FORM_OVERHEAD
from ledger.projection.queries import READERS

# Who may add files to a lead (which lead, the rules decide: the holder's unit, the office).
LeadUploader = Annotated[Principal, Depends(require_roles(*LEAD_UPLOADERS))]
LeadReader = Annotated[Principal, Depends(require_roles(*READERS))]
# Every signed-in person: which items they see is the task rule's to say.
Staff = Annotated[
    Principal, Depends(require_roles(*(r for r in Role if r not in (Role.REPORTER, Role.SYSTEM))))
]
TaskId = Annotated[str, Path(pattern=TASK_ID, description="事项编号 / The item's id")]
FileId = Annotated[str, Path(pattern=FILE_ID, description="文件编号 / The file's id")]
Title = Annotated[
    str,
    Query(
        min_length=1,
        max_length=LONGEST_TITLE,
        description="文件标题，如“入户走访照片” / A short title, e.g. 入户走访照片",
    ),
]
Strip = Annotated[
    bool,
    Query(description="去除照片中的位置和作者信息 / take location and author out of a photo"),
]
_UPLOAD_ERRORS: Final = {
    **errors(403, 404, 413, 422),
    415: {"description": "Not a type the ledger keeps (judged from the bytes)"},
}

router = APIRouter(prefix="/v1/ledger", tags=["files"], responses=errors(503))


async def get_files(request: Request) -> StaffFiles:
    files: StaffFiles = request.app.state.staff_files
    return files


FilesDep = Annotated[StaffFiles, Depends(get_files)]


def file_out(attached: StaffFile) -> dict[str, Any]:
    return {
        "file_id": attached.file_id,
        "title": attached.title,
        "size": attached.size,
        "sha256": attached.sha256,
        "media_type": attached.media_type,
        "metadata_found": attached.metadata_found,
        "metadata_stripped": attached.metadata_stripped,
        "uploaded_by": attached.actor.user,
        "uploaded_unit": attached.actor.unit,
        "uploaded_at": attached.occurred_at.isoformat(),
    }


def _streamed(found: Download) -> StreamingResponse:
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


@router.post(
    "/leads/{lead_id}/files",
    status_code=status.HTTP_201_CREATED,
    summary="上传工作痕迹 / Add a staff file (photo, video, recording, document) to a lead",
    responses=_UPLOAD_ERRORS,
)
async def upload_to_lead(
    lead_id: LeadId,
    request: Request,
    title: Title,
    principal: LeadUploader,
    files: FilesDep,
    strip_metadata: Strip = False,
) -> dict[str, Any]:
    """请求体为文件本身。The body is the file itself. Answers what was stored."""
    upload = Upload(title, request.stream(), strip_metadata)
    return file_out(await files.upload_to_lead(lead_id, upload, principal))


@router.get(
    "/leads/{lead_id}/files",
    summary="线索的工作痕迹清单 / A lead's staff files: titles, sizes, hashes, types",
    responses=errors(404),
)
async def lead_files(lead_id: LeadId, principal: LeadReader, files: FilesDep) -> dict[str, Any]:
    found = await files.lead_files(lead_id, principal)
    return {"lead_id": lead_id, "files": [file_out(a) for a in found]}


@router.get(
    "/leads/{lead_id}/files/{file_id}",
    summary="下载工作痕迹 / Download a lead's staff file, decrypted (recorded)",
    response_class=StreamingResponse,
    responses=errors(404, 410),
)
async def download_from_lead(
    lead_id: LeadId, file_id: FileId, principal: LeadReader, files: FilesDep
) -> StreamingResponse:
    return _streamed(await files.download_from_lead(lead_id, file_id, principal))


@router.post(
    "/tasks/{task_id}/files",
    status_code=status.HTTP_201_CREATED,
    summary="上传整改材料 / Add a staff file to a task or rectification item",
    responses=_UPLOAD_ERRORS,
)
async def upload_to_task(
    task_id: TaskId,
    request: Request,
    title: Title,
    principal: Staff,
    files: FilesDep,
    strip_metadata: Strip = False,
) -> dict[str, Any]:
    """请求体为文件本身。The body is the file itself. Answers what was stored."""
    upload = Upload(title, request.stream(), strip_metadata)
    return file_out(await files.upload_to_task(task_id, upload, principal))


@router.get(
    "/tasks/{task_id}/files",
    summary="事项的整改材料清单 / An item's staff files: titles, sizes, hashes, types",
    responses=errors(404),
)
async def task_files(task_id: TaskId, principal: Staff, files: FilesDep) -> dict[str, Any]:
    found = await files.task_files(task_id, principal)
    return {"task_id": task_id, "files": [file_out(a) for a in found]}


@router.get(
    "/tasks/{task_id}/files/{file_id}",
    summary="下载整改材料 / Download an item's staff file, decrypted (recorded)",
    response_class=StreamingResponse,
    responses=errors(404, 410),
)
async def download_from_task(
    task_id: TaskId, file_id: FileId, principal: Staff, files: FilesDep
) -> StreamingResponse:
    return _streamed(await files.download_from_task(task_id, file_id, principal))


def install_files(runtime: ServiceRuntime, files: StaffFiles) -> None:
    """The routes, their refusals and body limit, and the bucket declared at start."""
    settings = files.ledger.settings
    runtime.app.state.staff_files = files
    # The body is the file and nothing else: a declared length over the file's limit is
    # refused before a byte is read, naming that limit.
    runtime.allow_body("/v1/ledger/leads/*/files", settings.files_max_bytes)
    runtime.allow_body("/v1/ledger/tasks/*/files", settings.files_max_bytes)
    # The desk's form: the file and a few short fields (ledger.pages.files).
    runtime.allow_body("/desk/leads/*/files", settings.files_max_bytes + FORM_OVERHEAD)
    runtime.allow_body("/desk/tasks/*/files", settings.files_max_bytes + FORM_OVERHEAD)
    runtime.app.add_exception_handler(EvidenceTooLarge, too_large)
    runtime.app.add_exception_handler(FileRefused, refused_type)
    runtime.app.add_exception_handler(EvidenceSpoolFull, spool_full)
    runtime.app.include_router(router)

    async def declare_bucket() -> None:
        # Created here when missing, never changed; provisioning makes it first in a
        # deployment (leadctl.provision), with the replicas of the streams.
        config = bucket_config(evidence_bucket(Service.LEDGER), settings.stream_replicas)
        await declare_stream(runtime.js, config)

    runtime.on_start(declare_bucket)
