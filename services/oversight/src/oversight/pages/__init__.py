"""The committee desk (纪委监督台): pages for the discipline committee, who decide, and for
auditors and administrators, who read. Signing in is the shared sign-in page (a member gives
the code from their phone). Every page reads what the API reads, and every decision is a
form that builds the API's command and hands it to the application (oversight.application);
a broken rule is shown on the form, a concurrent change says so and shows the case anew."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from oversight.pages import audit, cases, conflict, notices, tasks
from oversight.pages.desk import Refused, refused_page

router = APIRouter(include_in_schema=False)
router.include_router(cases.router)
router.include_router(audit.router)
router.include_router(notices.router)
router.include_router(tasks.router)
router.include_router(conflict.router)


def install_pages(app: FastAPI) -> None:
    """The desk's routes, out of the API's document, and its answer to a role it is not for."""
    app.include_router(router, include_in_schema=False)
    app.add_exception_handler(Refused, refused_page)


__all__ = ["install_pages", "router"]
