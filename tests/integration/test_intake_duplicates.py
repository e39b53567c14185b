"""Reports of the same matter, through different channels, are linked: the later one is
marked a suspected duplicate of the first, and a report of another matter stays unlinked."""

from __future__ import annotations

import httpx
import pytest
from nats.js import JetStreamContext

from common.events.catalogue import DuplicateSuspected
from common.vocabulary import Channel
from tests.conftest import wait_until
from tests.support.apps import token
from tests.support.intake import event_types, intake_events, lead

pytestmark = pytest.mark.integration


async def test_reports_of_the_same_matter_through_different_channels_are_linked(
    intake: httpx.AsyncClient, streams: JetStreamContext
) -> None:
    village = "shd-v03"
    first = await intake.post(
        "/v1/reports", json=lead("村霸张某强占村集体鱼塘，还殴打前去理论的村民", village)
    )
    unrelated = await intake.post(
        "/v1/reports", json=lead("村东头小卖部老板长期放高利贷，逼债上门", village)
    )
    second = await intake.post(
        "/v1/leads",
        json=lead(
            "村霸张某强占了村集体鱼塘，殴打前去理论的村民。",
            village,
            channel=Channel.HOTLINE.value,
        ),
        headers=token("clerk"),
    )
    for response in (first, unrelated, second):
        assert response.status_code == 201, response.text
    first_id, unrelated_id, second_id = (r.json()["lead_id"] for r in (first, unrelated, second))

    async def linked() -> bool:
        return "DuplicateSuspected" in await event_types(streams, second_id)

    await wait_until(linked)
    [link] = [
        e for e in await intake_events(streams, second_id) if isinstance(e, DuplicateSuspected)
    ]
    assert link.duplicate_of == first_id
    # The detector takes reports in stream order, so the unrelated one (between the two)
    # has been compared already: it stays unlinked, and so does the first.
    assert await event_types(streams, unrelated_id) == ["LeadReported"]
    assert await event_types(streams, first_id) == ["LeadReported"]
