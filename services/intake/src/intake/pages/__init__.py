"""Intake's pages for people: the public's (report, follow a report with its receipt, check
a signed receipt) and staff's lead entry. They call the same application the API calls; see
public.py, verification.py and desk.py."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi.staticfiles import StaticFiles

from common.service import ServiceRuntime
from intake.importer import MULTIPART_ENVELOPE
from intake.pages import desk, evidence_desk, identity_desk, public, verification
from intake.pages.rendering import STATIC_PATH


def install_pages(runtime: ServiceRuntime, import_max_bytes: int) -> None:
    """The pages' routes (outside the API's document), intake's own scripts, and the
    ledger upload's body limit on the page that takes it."""
    runtime.allow_body(desk.IMPORT, import_max_bytes + MULTIPART_ENVELOPE)
    public.allow_files(runtime)
    static = Path(str(resources.files("intake").joinpath("static")))
    runtime.app.mount(STATIC_PATH, StaticFiles(directory=static), name="intake-static")
    runtime.app.include_router(public.router, include_in_schema=False)
    runtime.app.include_router(verification.router, include_in_schema=False)
    runtime.app.include_router(desk.router, include_in_schema=False)
    runtime.app.include_router(identity_desk.router, include_in_schema=False)
    runtime.app.include_router(evidence_desk.router, include_in_schema=False)
