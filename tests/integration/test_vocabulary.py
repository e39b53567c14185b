"""GET /v1/vocabulary on each running service: every code its APIs take, with a Chinese and
an English label, answered without a token and cached by ETag. The expected codes come from
common.vocabulary's enums and from each service's own OpenAPI document, so a code added to
either without a label fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from nats.js import JetStreamContext

from common.organisation import load_organisation
from common.vocabulary import LANGUAGES, UNIT_KINDS, label
from common.vocabulary_api import CACHE_CONTROL, PATH, SECTIONS
from tests.conftest import NatsTarget
from tests.support.apps import token, write_staff
from tests.support.suite import SERVICES, create_service

pytestmark = pytest.mark.integration

# Request codes that are not words people choose, each with why.
NOT_VOCABULARY: Final = {
    ("/v1/work/{purpose}", "purpose"): "the purpose of a proof-of-work challenge, which the"
    " public pages' code asks for; nobody picks it",
    ("/v1/receipts/verify", "body"): "a signed receipt sent back as it was issued: its constant"
    " fields (type, note) are the document's, not choices",
}


@asynccontextmanager
async def served(
    name: str, nats_target: NatsTarget, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    # The vocabulary and the API document are answered from configuration alone, so the
    # service is asked without starting its consumers.
    users = write_staff(tmp_path / "users.toml")
    app = create_service(name, nats_target, tmp_path, users)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client


@pytest.mark.parametrize("service", SERVICES)
async def test_it_answers_every_code_with_both_labels_without_a_token(
    service: str, streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    async with served(service, nats_target, tmp_path) as client:
        answer = await client.get(PATH)
        assert answer.status_code == 200, answer.text
        vocabulary = answer.json()
        for section, codes in SECTIONS.items():
            answered = {
                term["code"]: (term["label"], term["label_en"]) for term in vocabulary[section]
            }
            assert answered == {code.value: (label(code), label(code, "en")) for code in codes}
        org = load_organisation()
        assert vocabulary["units"] == [
            {"code": u.code, "kind": u.kind.value, "label": u.name, "label_en": u.name_en}
            for u in org.units
        ]
        assert [v["code"] for v in vocabulary["villages"]] == [u.code for u in org.villages]
        assert {t["code"] for t in vocabulary["unit_kinds"]} == set(UNIT_KINDS)
        assert {t["code"] for t in vocabulary["languages"]} == set(LANGUAGES)
        for terms in vocabulary.values():
            for term in terms if isinstance(terms, list) else [terms]:
                assert term["label"], term
                assert term["label_en"], term


@pytest.mark.parametrize("service", SERVICES)
async def test_every_code_its_apis_take_is_in_it(
    service: str, streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    async with served(service, nats_target, tmp_path) as client:
        document = (await client.get("/openapi.json")).json()
        vocabulary = (await client.get(PATH)).json()
        known = {
            str(term["code"])
            for terms in vocabulary.values()
            if isinstance(terms, list)
            for term in terms
        }
        taken = request_codes(document)
        assert taken, "every service takes some coded input"
        missing = {where: codes - known for where, codes in taken.items() if codes - known}
        assert not missing, f"codes the API takes with no label in {PATH}: {missing}"


@pytest.mark.parametrize("service", SERVICES)
async def test_it_is_documented_in_both_languages_and_public(
    service: str, streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    async with served(service, nats_target, tmp_path) as client:
        operation = (await client.get("/openapi.json")).json()["paths"][PATH]["get"]
        assert "security" not in operation
        assert any("\u4e00" <= ch <= "\u9fff" for ch in operation["summary"])
        assert "vocabulary" in operation["summary"].lower()
        assert "中文" in operation["description"]
        assert "English" in operation["description"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/Vocabulary")
        assert "304" in operation["responses"]


@pytest.mark.parametrize("service", SERVICES)
async def test_it_is_cached_and_revalidated_by_etag(
    service: str, streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    async with served(service, nats_target, tmp_path) as client:
        first = await client.get(PATH, headers=token("office"))  # a token changes nothing
        assert first.headers["cache-control"] == CACHE_CONTROL
        etag = first.headers["etag"]
        again = await client.get(PATH, headers={"If-None-Match": f'"other", W/{etag}'})
        assert again.status_code == 304, again.text
        assert again.content == b""
        assert again.headers["etag"] == etag
        stale = await client.get(PATH, headers={"If-None-Match": '"not-this-one"'})
        assert stale.status_code == 200
        assert stale.content == first.content


async def test_every_service_answers_the_same_vocabulary(
    streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    etags = {}
    for name in SERVICES:
        async with served(name, nats_target, tmp_path) as client:
            etags[name] = (await client.get(PATH)).headers["etag"]
    assert len(set(etags.values())) == 1, etags


def request_codes(document: dict[str, Any]) -> dict[str, set[str]]:
    """Every enumerated value a request may carry, by where: its parameters' and bodies'
    schemas, references followed."""
    schemas = document["components"]["schemas"]
    found: dict[str, set[str]] = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if (path, parameter["name"]) in NOT_VOCABULARY:
                    continue
                where = f"{method.upper()} {path} {parameter['in']} {parameter['name']}"
                _collect(parameter["schema"], schemas, found.setdefault(where, set()), set())
            for content in operation.get("requestBody", {}).get("content", {}).values():
                if (path, "body") in NOT_VOCABULARY:
                    continue
                where = f"{method.upper()} {path} body"
                _collect(content["schema"], schemas, found.setdefault(where, set()), set())
    return {where: codes for where, codes in found.items() if codes}


def _collect(node: Any, schemas: dict[str, Any], into: set[str], seen: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect(item, schemas, into, seen)
        return
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            _collect(schemas[name], schemas, into, seen)
    into.update(str(value) for value in node.get("enum", []))
    if "const" in node:
        into.add(str(node["const"]))
    for key, value in node.items():
        if key not in {"enum", "const", "default", "examples", "example"}:
            _collect(value, schemas, into, seen)
