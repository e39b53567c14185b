"""A query parameter an operation does not take is a 422 naming it, on every operation of
every running service: a parameter the ledger's list did not take (``?ledger_number=``,
before it did) answered the whole ledger, and a clerk read its first row as the lead
searched for."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from nats.js import JetStreamContext

from common.query_parameters import UNCHECKED
from tests.conftest import NatsTarget
from tests.support.apps import token, write_staff
from tests.support.intake import running
from tests.support.suite import SERVICES, create_service

pytestmark = pytest.mark.integration

LEADS = "/v1/ledger/leads"


@pytest.fixture
async def ledger(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    users = write_staff(tmp_path / "users.toml")
    async with running(create_service("ledger", nats_target, tmp_path, users)) as client:
        yield client


def refused(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 422, answer.text
    detail: list[dict[str, Any]] = answer.json()["detail"]
    return detail


async def test_a_parameter_the_list_does_not_take_is_refused_not_ignored(
    ledger: httpx.AsyncClient,
) -> None:
    answer = await ledger.get(
        LEADS, params={"ledger_no": "SHD-2026-000066"}, headers=token("office")
    )
    [problem] = refused(answer)
    assert problem["field"] == "ledger_no"
    assert problem["message"] == "ledger_no不是本请求可用的查询参数"
    assert problem["message_en"] == "ledger_no is not a query parameter of this request"


async def test_a_misspelt_filter_is_refused_beside_the_right_ones(
    ledger: httpx.AsyncClient,
) -> None:
    answer = await ledger.get(
        LEADS, params={"staus": "registered", "unit": "shd-police"}, headers=token("office")
    )
    assert [p["field"] for p in refused(answer)] == ["staus"]


async def test_every_declared_filter_and_alias_is_still_taken(ledger: httpx.AsyncClient) -> None:
    params = {
        "status": "registered",
        "unit": "shd-police",
        "village": "shd-v01",
        "category": "public_order",
        "channel": "hotline",
        "assignee": "王警官",
        "overdue": "false",
        "from": "2026-01-01T00:00:00+08:00",
        "to": "2026-12-31T00:00:00+08:00",
        "page": "1",
        "page_size": "10",
    }
    answer = await ledger.get(LEADS, params=params, headers=token("office"))
    assert answer.status_code == 200, answer.text
    export = await ledger.get(
        "/v1/ledger/export.csv",
        params={"lang": "en", "from": params["from"]},
        headers=token("office"),
    )
    assert export.status_code == 200, export.text


async def test_a_scalar_given_twice_is_refused(ledger: httpx.AsyncClient) -> None:
    answer = await ledger.get(LEADS, params=[("page", "1"), ("page", "2")], headers=token("office"))
    [problem] = refused(answer)
    assert problem["field"] == "page"
    assert problem["message_en"] == "page may be given only once"
    twice = await ledger.get(
        LEADS, params=[("status", "registered"), ("status", "accepted")], headers=token("office")
    )
    assert [p["field"] for p in refused(twice)] == ["status"]


@pytest.mark.parametrize("service", SERVICES)
async def test_every_operation_of_every_service_refuses_an_unknown_parameter(
    service: str, streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    users = write_staff(tmp_path / "users.toml")
    app = create_service(service, nats_target, tmp_path, users)
    operations = list(_operations(app))
    assert len(operations) > 5, operations
    async with running(app) as client:
        for method, path in operations:
            # Anonymous and without a body: which parameters an operation takes is public
            # (its document), so this is refused before anything else is looked at.
            answer = await client.request(method, path, params={"no_such_parameter": "1"})
            where = f"{method} {path}"
            assert answer.status_code == 422, (where, answer.text)
            assert [p["field"] for p in answer.json()["detail"]] == ["no_such_parameter"], where


@pytest.mark.parametrize("service", SERVICES)
def test_no_route_escapes_the_check_but_the_documentation_pages_and_static_files(
    service: str, nats_target: NatsTarget, tmp_path: Path
) -> None:
    app = create_service(service, nats_target, tmp_path, write_staff(tmp_path / "users.toml"))
    others = {
        str(context.path)
        for context in iter_route_contexts(app.routes)
        if not isinstance(context.original_route, APIRoute)
        # Files of the pages (stylesheet, scripts): served as they are, whatever is asked.
        and not str(context.path).startswith("/static/")
    }
    assert others <= UNCHECKED, others - UNCHECKED


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            # Any value fits a path parameter here: the check comes before they are read.
            path = re.sub(r"\{[^}]+\}", "x1", str(context.path))
            methods = context.original_route.methods or set()
            found += [(m, path) for m in sorted(methods) if m != "HEAD"]
    return found
