"""Each service publishes its event contract as AsyncAPI (JSON, YAML, a page) and nothing
else: FastStream's "try it out" endpoint, which would publish any message through the
service's own NATS connection for anyone who asks, is not there."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from nats.js import JetStreamContext

from common.subjects import Stream
from tests.conftest import NatsTarget
from tests.support.apps import serving, write_staff
from tests.support.suite import SERVICES, create_service

pytestmark = pytest.mark.integration

PUBLISHES = {"intake": "LeadReported", "ledger": "LeadRegistered", "oversight": "CaseOpened"}


@pytest.mark.parametrize("name", SERVICES)
async def test_the_contract_is_readable_and_nothing_can_be_published_through_the_docs(
    name: str, streams: JetStreamContext, nats_target: NatsTarget, tmp_path: Path
) -> None:
    app = create_service(name, nats_target, tmp_path, write_staff(tmp_path / "users.toml"))
    before = {s.value: (await streams.stream_info(s.value)).state.messages for s in Stream}
    async with serving(app) as http:
        as_json = await http.get("/asyncapi.json")
        as_yaml = await http.get("/asyncapi.yaml")
        page = await http.get("/asyncapi")
        tried = await http.post(
            "/asyncapi/try",
            json={
                "channelName": f"{name}.lead.x1.{PUBLISHES[name]}",
                "message": {"message": {"forged": True}},
                "options": {"sendToRealBroker": True},
            },
        )
    after = {s.value: (await streams.stream_info(s.value)).state.messages for s in Stream}

    assert as_json.status_code == 200, as_json.text
    assert PUBLISHES[name] in as_json.text
    assert yaml.safe_load(as_yaml.text) == as_json.json()
    assert page.status_code == 200
    assert "asyncapi/try" not in page.text
    assert tried.status_code in (404, 405), tried.text
    assert after == before
