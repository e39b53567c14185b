"""A query parameter a route does not declare is a 422 naming it, on a small app built the
way every service is (common.query_parameters installed before its routes)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.testclient import TestClient

from common.http_errors import describe_errors, install_error_handlers
from common.query_parameters import Accepted, forbid_unknown_query_parameters

LABELS = {"page": ("页码", "page"), "unit": ("承办单位", "handling unit")}


class Status(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def filters(
    status: Status | None = None,
    registered_from: Annotated[datetime | None, Query(alias="from")] = None,
) -> dict[str, Any]:
    return {"status": status, "from": registered_from}


router = APIRouter(prefix="/v1")


@router.get("/leads")
async def leads(
    chosen: Annotated[dict[str, Any], Depends(filters)],
    page: int = 1,
    tag: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    return {"page": page, "tag": tag, **chosen}


@router.get("/plain")
async def plain() -> dict[str, str]:
    return {}


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    forbid_unknown_query_parameters(app)
    install_error_handlers(app, LABELS)
    app.include_router(router)

    @app.get("/added-later")
    async def added_later() -> dict[str, str]:
        return {}

    return TestClient(app)


def fields(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    return [p["field"] for p in answer.json()["detail"]]


def test_declared_parameters_aliases_and_a_dependencys_own_are_accepted(client: TestClient) -> None:
    answer = client.get(
        "/v1/leads",
        params=[("status", "open"), ("from", "2026-01-01T00:00:00Z"), ("page", "2")],
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["page"] == 2
    assert answer.json()["status"] == "open"


def test_an_unknown_parameter_is_refused_naming_it_as_spelled(client: TestClient) -> None:
    answer = client.get("/v1/leads", params={"ledger_number": "SHD-2026-000066"})
    assert fields(answer) == ["ledger_number"]
    problem = answer.json()["detail"][0]
    assert problem["message"] == "ledger_number不是本请求可用的查询参数"
    assert problem["message_en"] == "ledger_number is not a query parameter of this request"


def test_the_python_name_of_an_aliased_parameter_is_not_a_parameter(client: TestClient) -> None:
    assert fields(client.get("/v1/leads", params={"registered_from": "2026-01-01"})) == [
        "registered_from"
    ]


def test_a_parameter_sharing_a_fields_name_is_still_named_as_sent(client: TestClient) -> None:
    answer = client.get("/v1/leads", params={"unit": "x"})
    assert fields(answer) == ["unit"]
    assert answer.json()["detail"][0]["label"] == "unit"


def test_every_unknown_parameter_is_named_once(client: TestClient) -> None:
    answer = client.get("/v1/leads", params=[("staus", "a"), ("staus", "b"), ("pgae", "1")])
    assert sorted(fields(answer)) == ["pgae", "staus"]


def test_a_scalar_given_twice_is_refused_a_list_is_not(client: TestClient) -> None:
    answer = client.get("/v1/leads", params=[("page", "1"), ("page", "2")])
    assert fields(answer) == ["page"]
    assert answer.json()["detail"][0]["message"] == "页码只能填写一次"
    assert answer.json()["detail"][0]["message_en"] == "page may be given only once"
    # A str enum is text, one value: not a list.
    twice = client.get("/v1/leads", params=[("status", "open"), ("status", "closed")])
    assert fields(twice) == ["status"]
    listed = client.get("/v1/leads", params=[("tag", "a"), ("tag", "b")])
    assert listed.status_code == 200, listed.text
    assert listed.json()["tag"] == ["a", "b"]


def test_a_parameter_without_a_name_is_refused(client: TestClient) -> None:
    answer = client.get("/v1/leads?=x")
    assert fields(answer) == [""]
    assert answer.json()["detail"][0]["message_en"].startswith("a parameter without a name")


def test_a_route_that_takes_nothing_takes_nothing_even_when_added_after(
    client: TestClient,
) -> None:
    assert fields(client.get("/v1/plain?x=1")) == ["x"]
    assert fields(client.get("/added-later?flag")) == ["flag"]
    assert client.get("/v1/plain").status_code == 200


def test_the_check_is_in_every_operations_document_as_a_422(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "422" in document["paths"]["/v1/plain"]["get"]["responses"]


def test_the_rule_itself() -> None:
    accepted = Accepted(single=frozenset({"page"}), many=frozenset({"tag"}))
    assert accepted.problems([("page", "1"), ("tag", "a"), ("tag", "b")]) == []
    kinds = {p["loc"][1]: p["type"] for p in accepted.problems([("page", "1"), ("page", "1")])}
    assert kinds == {"page": "query_parameter_repeated"}
    kinds = {p["loc"][1]: p["type"] for p in accepted.problems([("x", "")])}
    assert kinds == {"x": "query_parameter_unknown"}


def test_an_ordinary_query_error_keeps_its_label() -> None:
    [problem] = describe_errors(
        [{"type": "greater_than_equal", "loc": ("query", "page"), "msg": ""}], LABELS
    )
    assert problem["field"] == "page"
    assert problem["message"] == "页码数值太小"
