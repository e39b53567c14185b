"""What every service answers its operators: liveness, readiness with the reasons, metrics,
and retrying a parked event (admin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Final

from fastapi import APIRouter, Depends, Response
from fastapi import Path as FastApiPath
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from pydantic import BaseModel, Field

from common.auth import Principal, require_roles
from common.events import Role
from common.events.catalogue import MAX_SAFE_INT
from common.http_errors import errors

if TYPE_CHECKING:
    from common.service import ServiceRuntime

# /readyz as metrics, checked at each scrape: an alert needs no probe of its own.
READY: Final = Gauge("leads_ready", "1 when /readyz answers ready, 0 when it does not")
NOT_READY: Final = Gauge(
    "leads_not_ready", "1 for each component /readyz names as not ready", ["component"]
)


class Alive(BaseModel):
    status: str = Field(description="ok, or broken")
    problem: str | None = None


class Ready(BaseModel):
    status: str = Field(description="ready, or not ready")
    service: str | None = None
    problems: dict[str, str] | None = Field(
        default=None, description="what is not ready, by component, with the reason"
    )
    projections: dict[str, str] | None = Field(
        default=None,
        description=(
            "each projection consumer (by durable name): active when this replica holds its"
            " lease and applies it, standby when another replica does (a standby serves"
            " reads and takes over within seconds when the active one stops)"
        ),
    )


def operations_routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get(
        "/healthz",
        summary="The process is alive and can still reach NATS",
        response_model=Alive,
        responses={503: {"model": Alive, "description": "Broken: restart the process"}},
    )
    async def healthz() -> JSONResponse:
        if runtime.connection_lost():
            # nats-py gives a connection up for good after some server errors (a message
            # over max_payload, say): only a restart reconnects, so liveness says so.
            return JSONResponse(
                {"status": "broken", "problem": "the NATS connection closed for good"},
                status_code=503,
            )
        return JSONResponse({"status": "ok"})

    @router.get(
        "/readyz",
        summary="Connected to NATS and the database, consumers running and keeping up",
        response_model=Ready,
        responses={503: {"model": Ready, "description": "Not ready, with the reasons"}},
    )
    async def readyz() -> JSONResponse:
        problems = await runtime.readiness()
        roles = runtime.projection_roles()
        if problems:
            return JSONResponse(
                {"status": "not ready", "problems": problems, "projections": roles},
                status_code=503,
            )
        return JSONResponse(
            {"status": "ready", "service": runtime.service.value, "projections": roles}
        )

    @router.post(
        "/v1/admin/dead-letters/{sequence}/retry",
        summary="Apply a parked event again, after its cause was fixed (admin)",
        responses=errors(404, 422, 503),
    )
    async def retry(
        sequence: Annotated[int, FastApiPath(ge=1, le=MAX_SAFE_INT)],
        _: Annotated[Principal, Depends(require_roles(Role.ADMIN))],
    ) -> dict[str, str]:
        return await runtime.retry_parked(sequence)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        problems = await runtime.readiness()
        READY.set(0 if problems else 1)
        NOT_READY.clear()
        for component in problems:
            NOT_READY.labels(component).set(1)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
