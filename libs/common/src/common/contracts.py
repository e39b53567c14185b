"""A service's published contract: every event it writes is declared as a FastStream
publisher, so its AsyncAPI document (served read-only here) is the contract. The events
themselves are appended through the event store, which adds the concurrency checks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, JSONResponse
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html

from common.events import EVENT_CLASSES
from common.subjects import GLOBAL_TOKEN, OWNED_STREAMS, STREAM_SUBJECTS, Service, audit_prefix


def declare_published_events(broker: NatsBroker, service: Service) -> None:
    """One publisher per event type the service writes, on the subject it is stored on."""
    families = {s.split(".", 1)[0] for s in map(STREAM_SUBJECTS.get, OWNED_STREAMS[service]) if s}
    for cls in EVENT_CLASSES:
        if cls.prefix not in families:
            continue
        prefix = audit_prefix(service) if cls.prefix == "audit" else cls.prefix
        # A lead's events carry its id; another kind's (a task, a notice) always their own.
        keyed = cls.subject_kind != "lead" or cls.model_fields["lead_id"].is_required()
        token = f"{cls.subject_kind}.*" if keyed else GLOBAL_TOKEN
        broker.publisher(
            f"{prefix}.{token}.{cls.type_name()}",
            title=cls.type_name(),
            description=(cls.__doc__ or "").strip(),
            schema=cls,
        )


def contract_routes(contract: AsyncAPI) -> APIRouter:
    """The AsyncAPI document, to read only: FastStream's own page offers an unauthenticated
    "try it out" that would publish any message through the service's connection."""
    router = APIRouter(tags=["contracts"])

    def specification() -> Any:
        return contract.to_specification()

    @router.get("/asyncapi.json", summary="The AsyncAPI document of the events published")
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(specification().to_jsonable())

    @router.get(
        "/asyncapi.yaml",
        summary="The same, as YAML",
        response_class=Response,
        responses={200: {"content": {"application/yaml": {}}}},
    )
    async def asyncapi_yaml() -> Response:
        return Response(specification().to_yaml(), media_type="application/yaml")

    @router.get("/asyncapi", summary="The same, as a page", include_in_schema=False)
    async def asyncapi_page() -> HTMLResponse:
        return HTMLResponse(get_asyncapi_html(specification(), try_it_out_path=None))

    return router
