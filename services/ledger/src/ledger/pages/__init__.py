"""The ledger desk: people's pages on the ledger (the list, one lead and its forms, the
statistics), rendered on the server and calling the same application the API calls.
Included by the composition root with ``include_in_schema=False``."""

from fastapi import APIRouter

from common.web.declarations import declaration_pages
from ledger.pages import campaign, campaigns_desk, desk, lead, notices, tasks

router = APIRouter(include_in_schema=False)
router.include_router(desk.router)
router.include_router(campaign.router)
router.include_router(campaigns_desk.router)
router.include_router(lead.router)
router.include_router(tasks.router)
router.include_router(notices.router)
# A person's own declarations: common's page, served by the main desk.
router.include_router(declaration_pages())

__all__ = ["router"]
