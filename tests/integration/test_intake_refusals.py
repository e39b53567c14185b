"""Refusals a clerk can act on: a report or an entry intake refuses names the field in
the clerk's words (an unknown village with the villages one may choose), the same for the
public and for staff, and publishes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from common.vocabulary import Channel
from tests.support.apps import token
from tests.support.intake import OWN_VILLAGE, lead, stored_in_intake, unique

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Refusal:
    body: dict[str, Any]
    field: str
    label: str
    message: str


REFUSALS = {
    "missing summary": Refusal(
        {"category": "village_tyrant", "village": OWN_VILLAGE}, "summary", "简要内容", "必须填写"
    ),
    "unknown category": Refusal(
        lead("村里有人开设赌场", category="不存在"),
        "category",
        "线索类别",
        "不是可选的值",
    ),
    "bad attachment sha256": Refusal(
        lead(
            "村里有人开设赌场",
            attachments=[{"name": "照片.jpg", "size": 1024, "sha256": "not-a-digest"}],
        ),
        "attachments.0.sha256",
        "附件校验值",
        "格式不正确",
    ),
    "malformed identity phone": Refusal(
        lead("村里有人开设赌场", identity={"name": "王五", "phone": "call me maybe"}),
        "identity.phone",
        "联系电话",
        "格式不正确",
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
async def test_a_refused_report_names_the_field_in_the_clerks_words_and_publishes_nothing(
    intake: httpx.AsyncClient, streams: JetStreamContext, refusal: Refusal
) -> None:
    accepted = await intake.post("/v1/reports", json=lead(unique("一条正常的举报线索")))
    assert accepted.status_code == 201, accepted.text
    before = await stored_in_intake(streams)

    for path, headers, body in (
        ("/v1/reports", {}, refusal.body),
        ("/v1/leads", token("clerk"), refusal.body | {"channel": Channel.HOTLINE.value}),
    ):
        refused = await intake.post(path, json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        [problem] = refused.json()["detail"]
        assert problem["field"] == refusal.field
        assert problem["label"] == refusal.label
        assert problem["message"] == refusal.label + refusal.message
        assert await stored_in_intake(streams) == before


async def test_an_unknown_village_is_refused_with_the_villages_one_may_choose(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    for path, headers, body in (
        ("/v1/reports", {}, lead(unique("村霸强占土地"), "shd-v99")),
        ("/v1/leads", token("clerk"), lead(unique("村霸强占土地"), "shd-v99", channel="hotline")),
    ):
        refused = await intake.post(path, json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        [problem] = refused.json()["detail"]
        assert problem["field"] == "village"
        assert problem["label"] == "所属村"
        assert "shd-v99" in problem["message_en"]
        assert "沙河店村" in problem["message_en"]
        assert "吴店村" in problem["message_en"]
        # The clerk reads the Chinese message: it must say which villages there are.
        assert problem["message"].startswith("所属村")
        assert "沙河店村" in problem["message"], problem
        assert "吴店村" in problem["message"], problem
        assert await stored_in_intake(streams) == 0
