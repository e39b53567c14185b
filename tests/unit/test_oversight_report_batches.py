"""The reports reactor's batches: only the reports the committee watches are decided, and an
event that failed is named by its place in the delivery, as common.batched acknowledges by
it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from common.batched import PartlyFailed
from common.events import Event
from common.routing import CommitteeRule
from common.vocabulary import Flag
from oversight.application.cases import reports_in_batches
from tests.support.factories import reported


class Deciding:
    """What Oversight.on_reported stands for here: records the leads, fails on some."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.decided: list[str] = []
        self.failing = failing

    async def __call__(self, event: Event) -> None:
        self.decided.append(str(event.lead_id))
        if event.lead_id in self.failing:
            raise ValueError(f"cannot decide on {event.lead_id}")


def _oversight(deciding: Deciding) -> SimpleNamespace:
    return SimpleNamespace(
        on_reported=deciding,
        watched=CommitteeRule(flags=frozenset({Flag.INVOLVES_OFFICIAL}), categories=frozenset()),
    )


def _watched() -> Event:
    return reported().model_copy(update={"flags": [Flag.INVOLVES_OFFICIAL]})


async def test_only_the_reports_the_committee_watches_are_decided() -> None:
    deciding = Deciding()
    batch = [reported(), _watched(), reported(), _watched()]

    await reports_in_batches(_oversight(deciding))(batch)  # type: ignore[arg-type]

    assert deciding.decided == [batch[1].lead_id, batch[3].lead_id]


async def test_a_batch_of_reports_nobody_watches_decides_nothing() -> None:
    deciding = Deciding()

    await reports_in_batches(_oversight(deciding))([reported(), reported()])  # type: ignore[arg-type]

    assert deciding.decided == []


async def test_a_failed_report_is_named_by_its_place_in_the_delivery() -> None:
    batch = [reported(), _watched(), reported(), _watched(), _watched()]
    deciding = Deciding(failing=frozenset({str(batch[3].lead_id)}))

    with pytest.raises(PartlyFailed) as raised:
        await reports_in_batches(_oversight(deciding))(batch)  # type: ignore[arg-type]

    assert list(raised.value.failed) == [3]
    assert deciding.decided == [batch[1].lead_id, batch[3].lead_id, batch[4].lead_id]
