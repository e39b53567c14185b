"""What the fuzz run found, each kept fixed on its own: a lead or case id no subject could
carry, a page past any ledger and a body no parser can read are refused naming the part at
fault (never a 500, never an undocumented 400); every refusal an operation can give is in
its OpenAPI document with the body it really has; the AsyncAPI document is served as YAML."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
from nats.js import JetStreamContext

from common.streams import declare_streams
from common.subjects import Stream
from ledger.api import MAX_PAGE
from tests.conftest import NatsTarget
from tests.support.apps import token, write_staff
from tests.support.intake import running
from tests.support.suite import SERVICES, create_service

pytestmark = pytest.mark.integration

# Ids that would change a subject's meaning (a token separator, wildcards) or are too long.
NO_SUBJECT_TOKEN = ["a.b", "*", ">", "x" * 65]
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def suite(
    js: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The three services, running, each with a client."""
    await declare_streams(js, list(Stream))
    users = write_staff(tmp_path / "users.toml")
    apps = {name: create_service(name, nats_target, tmp_path, users) for name in SERVICES}
    async with (
        running(apps["intake"]) as intake,
        running(apps["ledger"]) as ledger,
        running(apps["oversight"]) as oversight,
    ):
        yield {"intake": intake, "ledger": ledger, "oversight": oversight}


def problems(answer: httpx.Response) -> list[dict[str, Any]]:
    detail: list[dict[str, Any]] = answer.json()["detail"]
    assert all(p["message"] and p["message_en"] for p in detail), detail
    return detail


@pytest.mark.parametrize("lead_id", NO_SUBJECT_TOKEN)
@pytest.mark.parametrize(
    ("service", "method", "path", "user", "body"),
    [
        ("ledger", "GET", "/v1/ledger/leads/{}", "office", None),
        ("ledger", "POST", "/v1/ledger/leads/{}/accept", "police", {}),
        (
            "ledger",
            "POST",
            "/v1/ledger/leads/{}/transfer",
            "office",
            {"to_unit": "shd-police", "reason": "涉嫌刑事犯罪"},
        ),
        ("oversight", "GET", "/v1/oversight/leads/{}/responsibility-trace", "discipline", None),
        ("intake", "POST", "/v1/leads/{}/identity/disclose", "custodian", {"reason": "核实举报人"}),
    ],
)
async def test_a_lead_id_no_subject_could_carry_is_refused_naming_the_path(
    suite: dict[str, httpx.AsyncClient],
    service: str,
    method: str,
    path: str,
    user: str,
    body: dict[str, str] | None,
    lead_id: str,
) -> None:
    answer = await suite[service].request(
        method, path.format(quote(lead_id, safe="")), json=body, headers=token(user)
    )
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in problems(answer)] == ["lead_id"]


@pytest.mark.parametrize("case_id", ["a.b", "0123456789abcdef", "G" * 32, "0" * 33])
async def test_a_case_id_that_no_case_could_have_is_refused_naming_the_path(
    suite: dict[str, httpx.AsyncClient], case_id: str
) -> None:
    answer = await suite["oversight"].post(
        f"/v1/oversight/cases/{quote(case_id, safe='')}/supervise",
        json={"reason": "久拖不办"},
        headers=token("discipline"),
    )
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in problems(answer)] == ["case_id"]


async def test_a_page_past_any_ledger_is_refused_naming_the_page(
    suite: dict[str, httpx.AsyncClient],
) -> None:
    ledger = suite["ledger"]
    last = await ledger.get("/v1/ledger/leads", params={"page": MAX_PAGE}, headers=token("office"))
    assert last.status_code == 200, last.text
    assert last.json()["items"] == []
    for page in (MAX_PAGE + 1, 2**63):
        past = await ledger.get("/v1/ledger/leads", params={"page": page}, headers=token("office"))
        assert past.status_code == 422, past.text
        assert [(p["field"], p["label"]) for p in problems(past)] == [("page", "页码")]


async def test_evidence_larger_than_an_event_can_record_is_refused_naming_its_size(
    suite: dict[str, httpx.AsyncClient],
) -> None:
    evidence = {"name": "photo.jpg", "size": 2**53, "sha256": "ab" * 32}
    answer = await suite["ledger"].post(
        "/v1/ledger/leads/0123456789abcdef/verification",
        json={"note": "走访核实", "evidence": [evidence]},
        headers=token("office"),
    )
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in problems(answer)] == ["evidence.0.size"]


@pytest.mark.parametrize(
    ("service", "path", "user"),
    [
        ("ledger", "/v1/ledger/leads/0123456789abcdef/transfer", "office"),
        ("oversight", "/v1/oversight/cases/" + "0" * 32 + "/supervise", "discipline"),
        ("intake", "/v1/leads", "clerk"),
    ],
)
@pytest.mark.parametrize("content", [b"\x80\x81{", b"\xff\xfe{\x9c"], ids=["bytes", "bom"])
async def test_a_json_body_that_is_not_text_is_a_422_naming_the_body(
    suite: dict[str, httpx.AsyncClient], service: str, path: str, user: str, content: bytes
) -> None:
    answer = await suite[service].post(path, content=content, headers={**JSON, **token(user)})
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in problems(answer)] == ["body"]


async def test_a_broken_multipart_upload_is_a_422_naming_the_body(
    suite: dict[str, httpx.AsyncClient],
) -> None:
    answer = await suite["intake"].post(
        "/v1/leads/import",
        content=b'--b\r\nContent-Disposition: form-data; name="file"\r\r\n\r\nx\r\n--b--\r\n',
        headers={"Content-Type": "multipart/form-data; boundary=b", **token("clerk")},
    )
    assert answer.status_code == 422, answer.text
    assert [p["field"] for p in problems(answer)] == ["body"]


async def test_the_identity_of_an_anonymous_report_is_refused_in_both_languages(
    suite: dict[str, httpx.AsyncClient],
) -> None:
    intake = suite["intake"]
    reported = await intake.post(
        "/v1/reports", json={"category": "petition", "summary": "夜里有人收保护费"}
    )
    assert reported.status_code == 201, reported.text
    answer = await intake.post(
        f"/v1/leads/{reported.json()['lead_id']}/identity/disclose",
        json={"reason": "核实举报人"},
        headers=token("custodian"),
    )
    assert answer.status_code == 422, answer.text
    [problem] = problems(answer)
    assert problem["field"] == "lead_id"
    assert "匿名" in problem["message"]
    assert "anonymous" in problem["message_en"]


@pytest.mark.parametrize("service", SERVICES)
async def test_every_refusal_an_operation_can_give_is_in_its_document_with_its_body(
    suite: dict[str, httpx.AsyncClient], service: str
) -> None:
    document = (await suite[service].get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas, "FastAPI's 422 body is not what we answer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            declared = operation["responses"]
            wanted = set()
            if operation.get("security"):
                wanted |= {"401", "403"}
            if "requestBody" in operation:
                wanted |= {"413", "422"}
            if operation.get("parameters"):
                wanted.add("422")
            assert wanted <= set(declared), where
            for code in wanted:
                body = declared[code]["content"]["application/json"]["schema"]["$ref"]
                assert body.rsplit("/", 1)[-1] in schemas, (where, code)
            if path.startswith("/v1/reports"):
                assert "428" in declared, where


@pytest.mark.parametrize("service", SERVICES)
async def test_every_service_serves_its_asyncapi_document_as_yaml(
    suite: dict[str, httpx.AsyncClient], service: str
) -> None:
    answer = await suite[service].get("/asyncapi.yaml")
    assert answer.status_code == 200, answer.text
    assert yaml.safe_load(answer.text)["asyncapi"].startswith("3.")
