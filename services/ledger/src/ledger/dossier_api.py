"""The dossier's HTTP API (专题材料): ``GET /v1/ledger/dossier?from=&to=`` answers a ZIP of
the period's ledgers, campaign reports, notices, statistics and work traces (the staff
files enclosed) with a manifest of hashes, for the office, its clerks and auditors (a
town's get their town's, the county's own every town's). The export is recorded, and so is
each staff file read for it; a period whose dossier would pass the ledger's limit is
refused (413) naming the limit, before anything is read or written."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from typing import IO, Annotated, Any, Final, Literal

import anyio
from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse, Response, StreamingResponse

from common.auth import Principal, require_roles
from common.errors import Gone, NotPermitted
from common.events import Role, utc_now
from common.evidence import EvidenceUnreadable
from common.http_errors import errors
from ledger import dossier
from ledger.application import dossier as app
from ledger.application.dossier import DossierTooLarge, StoredTrace
from ledger.application.files import StaffFiles
from ledger.campaigns_api import report_of
from ledger.domain.campaign import Campaign
from ledger.files_api import FilesDep
from ledger.notices_api import LedgerDep, notice_out, printable

# Those who keep the ledger whole: the office, its clerks, the auditors.
Keeper = Annotated[Principal, Depends(require_roles(Role.OFFICE, Role.CLERK, Role.AUDITOR))]
ZIP: Final = "application/zip"
CHUNK: Final = 64 * 1024

router = APIRouter(prefix="/v1/ledger", tags=["dossier"], responses=errors(503))


@router.get(
    "/dossier",
    response_class=StreamingResponse,
    summary="专题材料 / The dossier of a period as one ZIP with a manifest of hashes (recorded)",
    description=(
        "期间内的线索台账、整改台账、各项专项工作情况表、已印发通报、统计图表（统计.html）和工作痕迹索引，"
        "附 manifest.json（每个文件的大小和 SHA-256；配置了签名密钥时签名）。"
        "可用 `leadctl verify --dossier` 离线核验。期间按北京时间计，最长 366 天。"
        " / The period's lead ledger, rectification ledger, campaign reports, issued"
        " notices, statistics with charts (统计.html) and the index of work traces, with"
        " manifest.json (each entry's size and SHA-256, signed when a key is configured);"
        " `leadctl verify --dossier` checks it offline. Days are China time; 366 at most."
    ),
    responses={
        200: {"content": {ZIP: {"schema": {"type": "string", "format": "binary"}}}},
        413: {"description": "The period's dossier would pass the ledger's limit (named)"},
    },
)
async def get_dossier(
    principal: Keeper,
    ledger: LedgerDep,
    files: FilesDep,
    first: Annotated[
        date, Query(alias="from", description="起始日期（北京时间） / First day, China time")
    ],
    last: Annotated[
        date, Query(alias="to", description="截止日期（北京时间） / Last day, China time")
    ],
    lang: Literal["zh", "en"] = "zh",
) -> Response:
    chosen = app.period(first, last)

    async def report(campaign_id: str) -> tuple[Campaign, Any] | None:
        try:
            return await report_of(ledger, principal, campaign_id, lang)
        except NotPermitted:
            return None  # asked of the reader's unit, another town's: not theirs to report

    contents = await app.gather(ledger, principal, chosen, report, files)
    limit = ledger.settings.dossier_max_bytes
    try:
        app.check_size(contents, limit)
    except DossierTooLarge as exc:
        return too_large(exc)
    await app.files_read(ledger, principal, contents.files)
    made = dossier.Made(
        principal=principal,
        at=utc_now(),
        lang=lang,
        org=ledger.runtime.org,
        notice_texts=[printable(notice_out(ledger, read)) for read in contents.notices],
        render=lambda name, **context: ledger.runtime.pages.env.get_template(name).render(
            **context
        ),
        open_file=_reader(files),
        max_bytes=limit,
    )
    key = ledger.settings.dossier_signing_key
    target = tempfile.TemporaryFile()  # noqa: SIM115 - closed once streamed
    try:
        manifest = await anyio.to_thread.run_sync(dossier.write, target, contents, made, key)
        await app.exported(ledger, principal, chosen, len(manifest["entries"]))
    except DossierTooLarge as exc:
        target.close()
        return too_large(exc)
    except BaseException:
        target.close()
        raise
    target.seek(0)
    town = "county" if len(contents.towns) != 1 else contents.towns[0].code
    name = f"dossier-{town}-{first:%Y%m%d}-{last:%Y%m%d}.zip"
    return StreamingResponse(
        _chunks(target),
        media_type=ZIP,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def too_large(exc: DossierTooLarge) -> JSONResponse:
    mib = exc.limit / (1024 * 1024)
    return JSONResponse(
        {
            "detail": [
                {
                    "field": "to",
                    "message": f"专题材料过大：上限为 {mib:.0f} MiB（{exc.limit} 字节），"
                    "请缩短期间分次导出",
                    "message_en": f"the dossier is too large: the limit is {mib:.0f} MiB"
                    f" ({exc.limit:,} bytes); export a shorter period at a time",
                    "limit_bytes": exc.limit,
                }
            ]
        },
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
    )


def _reader(files: StaffFiles) -> Callable[[StoredTrace], Iterator[bytes]]:
    """A staff file's plaintext for the writer's thread: each chunk opened on the event
    loop (the bucket is read through its connection) and handed over in turn."""

    def read(trace: StoredTrace) -> Iterator[bytes]:
        chunks = anyio.from_thread.run(files.chunks, trace.kind, trace.owner_id, trace.file_id)

        async def step() -> bytes | None:
            try:
                return await anext(chunks)
            except StopAsyncIteration:
                return None
            except EvidenceUnreadable:
                raise Gone(f"staff file {trace.file_id} cannot be opened") from None

        while (chunk := anyio.from_thread.run(step)) is not None:
            yield chunk

    return read


def _chunks(source: IO[bytes]) -> Iterator[bytes]:
    with source:
        while chunk := source.read(CHUNK):
            yield chunk
